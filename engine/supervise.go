package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/chatbridge/chatbridge/engine/health"
)

// Supervision defaults.
const (
	// DefaultDownAlertAfter is how long a bridge may stay down before its
	// owners are told.
	DefaultDownAlertAfter = 5 * time.Minute
	// restartBackoffMax caps the wait between restarts of a failing bridge.
	restartBackoffMax = 2 * time.Minute
	// healthyRun is how long a Run must last to count as a recovery.
	healthyRun = time.Minute
)

// DirectMessenger is a Bridge that can write to a user privately (the
// owner alerts).
type DirectMessenger interface {
	DirectReplier(ctx context.Context, user UserID) (Replier, error)
}

// RunBridge runs b (registered with Register) until ctx ends or Run
// returns nil, restarting Run with a doubling backoff whenever it returns
// an error. The health
// tracker shows the bridge down while it is, and when it has been down for
// Options.DownAlertAfter its owners on the other bridges get one message
// (and one more when it is back). It blocks; it returns nil when ctx ends.
func (e *Engine) RunBridge(ctx context.Context, b Bridge) error {
	name := string(b.Name())
	failures := 0
	var downSince time.Time
	alerted := false
	for {
		start := time.Now()
		var back *time.Timer
		if alerted {
			// Back once it has run for a while; told while it runs.
			back = time.AfterFunc(healthyRun, func() {
				e.alertOwners(ctx, b.Name(), fmt.Sprintf("✅ The %s bridge is back.", name))
			})
		}
		err := b.Run(ctx, e)
		if back != nil && !back.Stop() {
			alerted = false // the back message went out
		}
		if ctx.Err() != nil || err == nil {
			return nil // ended, or finished by design (the console at end of input)
		}
		if time.Since(start) >= healthyRun {
			failures, downSince = 0, time.Time{}
		}
		failures++
		if downSince.IsZero() {
			downSince = time.Now()
		}
		wait := restartWait(failures)
		e.log.Error("bridge failed; restarting", "bridge", name, "failures", failures, "retry_in", wait, "err", err)
		if e.health != nil {
			e.health.Set(name, health.StateDown, fmt.Sprintf("restarting after: %v", err))
		}
		after := e.opts.DownAlertAfter
		if after <= 0 {
			after = DefaultDownAlertAfter
		}
		restartAt := time.Now().Add(wait)
		if alertAt := downSince.Add(after); !alerted && !alertAt.After(restartAt) {
			if err := sleep(ctx, time.Until(alertAt)); err != nil {
				return nil
			}
			alerted = true
			e.alertOwners(ctx, b.Name(), fmt.Sprintf("⚠️ The %s bridge has been down for %s (%d failed starts). It keeps restarting by itself; the last error is in the log.",
				name, time.Since(downSince).Round(time.Second), failures))
		}
		if err := sleep(ctx, time.Until(restartAt)); err != nil {
			return nil
		}
	}
}

// restartWait is the wait before restart n: doubling from a second, capped,
// with jitter.
func restartWait(n int) time.Duration {
	d := min(time.Second<<min(n-1, 16), restartBackoffMax)
	return d/2 + rand.N(d/2+1)
}

// alertOwners writes text to every owner on every bridge but skip that can
// write privately. Failures are logged; an alert never blocks the caller
// for long.
func (e *Engine) alertOwners(ctx context.Context, skip Platform, text string) {
	e.mu.Lock()
	var targets []Bridge
	for p, b := range e.bridges {
		if p != skip {
			targets = append(targets, b)
		}
	}
	e.mu.Unlock()
	sent := 0
	for _, b := range targets {
		dm, ok := b.(DirectMessenger)
		if !ok {
			continue
		}
		for _, owner := range e.opts.Access[b.Name()].Owners {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			r, err := dm.DirectReplier(actx, owner)
			if err == nil {
				_, err = r.Send(actx, Outgoing{Text: text, Plain: true})
			}
			cancel()
			if err != nil {
				e.log.Warn("owner alert failed", "platform", b.Name(), "err", err)
				continue
			}
			sent++
		}
	}
	if sent == 0 {
		e.log.Warn("owner alert not delivered: no other bridge can reach an owner", "alert", text)
	}
}
