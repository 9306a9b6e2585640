package engine

// idle reports whether no conversation has work queued or running. For
// tests in package engine_test.
func (e *Engine) Idle() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.workers) == 0
}
