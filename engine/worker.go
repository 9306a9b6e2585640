package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
)

var errQueueFull = errors.New("conversation queue full")

// worker runs the jobs of one conversation one after another. It exists
// while it has work and is dropped when its queue runs dry, so idle
// conversations cost nothing.
type worker struct {
	key    ConversationKey
	jobs   chan func(context.Context)
	cancel context.CancelCauseFunc // of the job in progress; guarded by Engine.mu
}

// enqueue hands job to key's worker, starting one if needed. Jobs of one
// key run in order; different keys run in parallel.
func (e *Engine) enqueue(key ConversationKey, job func(context.Context)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return errShutdown
	}
	w, ok := e.workers[key]
	if !ok {
		w = &worker{key: key, jobs: make(chan func(context.Context), e.opts.QueueLength)}
		e.workers[key] = w
		e.wg.Add(1)
		go e.work(w)
	}
	select {
	case w.jobs <- job:
		return nil
	default:
		return errQueueFull
	}
}

func (e *Engine) work(w *worker) {
	defer e.wg.Done()
	for {
		e.mu.Lock()
		var job func(context.Context)
		select {
		case job = <-w.jobs:
		default:
			// Drained: drop the worker while holding the lock, so enqueue
			// either sees it gone or hands it a job before this check.
			delete(e.workers, w.key)
			e.mu.Unlock()
			return
		}
		ctx, cancel := context.WithCancelCause(e.root)
		w.cancel = cancel
		e.mu.Unlock()

		e.runJob(ctx, job)

		e.mu.Lock()
		w.cancel = nil
		e.mu.Unlock()
		cancel(nil)
	}
}

// runJob runs one job and turns a panic into a log line, so one bad turn
// never takes the daemon down.
func (e *Engine) runJob(ctx context.Context, job func(context.Context)) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("panic in conversation worker", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	job(ctx)
}

// cancelTurn cancels the job in progress for key with cause, reporting
// whether there was one.
func (e *Engine) cancelTurn(key ConversationKey, cause error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	w, ok := e.workers[key]
	if !ok || w.cancel == nil {
		return false
	}
	w.cancel(cause)
	return true
}

// stop handles /stop: it cancels the reply in progress at once, without
// waiting behind it in the queue.
func (e *Engine) stop(ctx context.Context, r Replier, ev *Event) {
	if !e.cancelTurn(ev.Key(), errStopped) {
		e.reply(ctx, r, ev, "Nothing to stop.")
	}
}
