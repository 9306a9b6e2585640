package engine

import (
	"slices"
	"sync"
	"time"
)

// latencyWindow is how many recent provider calls the latency and error
// figures in /status cover.
const latencyWindow = 100

// providerStats keeps recent provider latency and errors, platform rate
// limit hits and active streams for /status. Safe for concurrent use.
type providerStats struct {
	mu         sync.Mutex
	latencies  []time.Duration // ring of the last latencyWindow calls
	failed     []bool
	next       int
	calls      int64
	errors     int64
	rateLimits int64
	active     int
}

func newProviderStats() *providerStats {
	return &providerStats{}
}

func (s *providerStats) observe(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err != nil {
		s.errors++
	}
	if len(s.latencies) < latencyWindow {
		s.latencies = append(s.latencies, d)
		s.failed = append(s.failed, err != nil)
		return
	}
	s.latencies[s.next], s.failed[s.next] = d, err != nil
	s.next = (s.next + 1) % latencyWindow
}

func (s *providerStats) rateLimitHit() {
	s.mu.Lock()
	s.rateLimits++
	s.mu.Unlock()
}

func (s *providerStats) streamStarted() { s.mu.Lock(); s.active++; s.mu.Unlock() }
func (s *providerStats) streamEnded()   { s.mu.Lock(); s.active--; s.mu.Unlock() }

// statsSnapshot is a copy of the figures.
type statsSnapshot struct {
	Calls, Errors, RateLimits int64
	Active                    int
	Mean, P95                 time.Duration
	ErrorRate                 float64 // over the window
}

func (s *providerStats) snapshot() statsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := statsSnapshot{Calls: s.calls, Errors: s.errors, RateLimits: s.rateLimits, Active: s.active}
	if len(s.latencies) == 0 {
		return out
	}
	sorted := slices.Clone(s.latencies)
	slices.Sort(sorted)
	var sum time.Duration
	failed := 0
	for i, d := range sorted {
		sum += d
		if s.failed[i] {
			failed++
		}
	}
	out.Mean = sum / time.Duration(len(sorted))
	out.P95 = sorted[(len(sorted)*95-1)/100]
	out.ErrorRate = float64(failed) / float64(len(sorted))
	return out
}
