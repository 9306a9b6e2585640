package engine

import (
	"fmt"
	"sync"
	"time"
)

// Circuit breaker defaults.
const (
	DefaultBreakerThreshold = 8 // two turns of failed attempts (a first try and 3 retries each)
	DefaultBreakerCooldown  = 30 * time.Second
)

// breaker stops calling a provider that keeps failing: after threshold
// failures in a row it opens, and every turn fails at once with a clear
// message instead of waiting on a dead API. After cooldown one call goes
// through as a probe; its success closes the breaker, its failure opens it
// for another cooldown. Failures that say nothing about the provider's
// health (a bad request, an unknown model, a rejected key) do not count.
// Safe for concurrent use.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

func newBreaker(threshold int, cooldown time.Duration) *breaker {
	if threshold <= 0 {
		threshold = DefaultBreakerThreshold
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	return &breaker{threshold: threshold, cooldown: cooldown}
}

// allow reports nil when a call may be made, or the error to fail with.
func (b *breaker) allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return nil
	}
	now := time.Now()
	if now.Before(b.openUntil) || b.probing {
		wait := max(b.openUntil.Sub(now), time.Second).Round(time.Second)
		return &breakerOpenError{wait: wait, failures: b.failures}
	}
	b.probing = true // this call is the probe
	return nil
}

// record notes how a call went.
func (b *breaker) record(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.failures, b.probing = 0, false
		return
	}
	if pe, ok := AsProviderError(err); ok && !pe.Retryable() {
		if b.probing {
			b.probing = false // the API answered: it is up
			b.failures = 0
		}
		return
	}
	b.failures++
	if b.probing || b.failures >= b.threshold {
		b.probing = false
		b.openUntil = time.Now().Add(b.cooldown)
	}
}

// breakerOpenError is the cause of a fail-fast; its text is safe to show.
type breakerOpenError struct {
	wait     time.Duration
	failures int
}

func (e *breakerOpenError) Error() string {
	return fmt.Sprintf("circuit open after %d provider failures in a row; next probe in about %s", e.failures, e.wait)
}

// Safe is the message for the user.
func (e *breakerOpenError) Safe() string {
	return fmt.Sprintf("The model provider keeps failing, so the bot has paused calling it; it tries again in about %s.", e.wait)
}
