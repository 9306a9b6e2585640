package engine

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// budget is a token bucket that can also be paused, because a platform's
// retry_after applies to everything sent to that chat, not just to the call
// that got it. Safe for concurrent use.
type budget struct {
	mu          sync.Mutex
	lim         *rate.Limiter // nil: unlimited
	pausedUntil time.Time
	lastUsed    time.Time
}

func newBudget(spec RateSpec) *budget {
	b := &budget{}
	if spec.Every > 0 {
		burst := max(spec.Burst-1, 1) // one in reserve for jitter (see RateSpec)
		b.lim = rate.NewLimiter(rate.Every(spec.Every), burst)
	}
	return b
}

// TrySpare takes a token if no pause is in force and at least one more
// is left after it, and reports whether it did; it never blocks. For
// calls worth making only when they cost the calls that matter no wait
// (the typing indicator, which text is about to replace).
func (b *budget) TrySpare() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.lastUsed = now
	if now.Before(b.pausedUntil) {
		return false
	}
	if b.lim == nil {
		return true
	}
	return b.lim.TokensAt(now) >= 2 && b.lim.AllowN(now, 1)
}

// Wait blocks until one call may be made, or ctx ends. It never lets a call
// through before a pause set by Pause has expired.
func (b *budget) Wait(ctx context.Context) error {
	for {
		b.mu.Lock()
		now := time.Now()
		b.lastUsed = now
		if wait := b.pausedUntil.Sub(now); wait > 0 {
			b.mu.Unlock()
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if b.lim == nil {
			b.mu.Unlock()
			return nil
		}
		r := b.lim.ReserveN(now, 1)
		delay := r.DelayFrom(now)
		b.mu.Unlock()
		if delay <= 0 {
			return nil
		}
		if err := sleep(ctx, delay); err != nil {
			r.Cancel()
			return err
		}
		// A pause may have begun while we waited for our token; honour it.
		b.mu.Lock()
		paused := time.Now().Before(b.pausedUntil)
		b.mu.Unlock()
		if !paused {
			return nil
		}
	}
}

// Pause stops every call until d from now. A shorter pause never shortens
// a longer one already in force.
func (b *budget) Pause(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if until := time.Now().Add(d); until.After(b.pausedUntil) {
		b.pausedUntil = until
	}
}

// PausedUntil reports the end of the current pause (zero if none).
func (b *budget) PausedUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pausedUntil
}

func (b *budget) idleSince() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastUsed
}

// budgets hands out one budget per key, created on first use and dropped
// after an hour unused, so a bot in many chats does not grow without bound.
type budgets struct {
	mu   sync.Mutex
	m    map[string]*budget
	last time.Time
}

const budgetIdle = time.Hour

func (bs *budgets) get(key string, spec RateSpec) *budget {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	now := time.Now()
	if bs.m == nil {
		bs.m = make(map[string]*budget)
	}
	if now.Sub(bs.last) > budgetIdle/4 {
		bs.last = now
		for k, b := range bs.m {
			if now.Sub(b.idleSince()) > budgetIdle && now.After(b.PausedUntil()) {
				delete(bs.m, k)
			}
		}
	}
	b, ok := bs.m[key]
	if !ok {
		b = newBudget(spec)
		b.lastUsed = now
		bs.m[key] = b
	}
	return b
}

// sleep waits for d or until ctx ends, with a timer that synctest can fake.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
