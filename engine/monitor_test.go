package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
	"github.com/chatbridge/chatbridge/engine/health"
)

func TestMonitor_DegradedAndRecoveredAlertOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		steady := &ownerBridge{r: enginetest.NewReplier(4096, engine.Runes)}
		h := newHarness(t, testCaps(), prov, func(o *engine.Options) {
			o.MaxRetries, o.BreakerThreshold = 0, 1000
			o.CheckInterval = time.Minute
			o.Thresholds = engine.Thresholds{APIErrorRate: 0.5}
			o.Access["steady"] = engine.Access{Allowed: []engine.UserID{"boss"}, Owners: []engine.UserID{"boss"}}
		})
		h.e.Register(steady)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { h.e.Monitor(ctx) })

		r := enginetest.NewReplier(4096, engine.UTF16)
		fail := enginetest.Script{Err: &engine.ProviderError{Kind: engine.ErrUnavailable, Status: 503}}
		for range 10 {
			prov.Enqueue(fail)
			h.send(r, "c1", "hi")
			h.settle()
		}
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if got := stateOf(h.e.Snapshot(ctx).Components, "bot"); got != health.StateDegraded {
			t.Errorf("bot state = %q after 100%% API errors, want degraded", got)
		}
		if msgs := steady.r.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0], "degraded") || !strings.Contains(msgs[0], "model API errors") {
			t.Errorf("owner messages = %q, want one degraded alert naming the cause", msgs)
		}
		time.Sleep(5 * time.Minute) // still degraded: no more alerts
		synctest.Wait()
		if n := len(steady.r.Messages()); n != 1 {
			t.Errorf("owner messages = %d while degraded, want 1", n)
		}
		for range 11 {
			h.send(r, "c1", "hi")
			h.settle()
		}
		time.Sleep(61 * time.Second)
		synctest.Wait()
		if msgs := steady.r.Messages(); len(msgs) != 2 || !strings.Contains(msgs[1], "recovered") {
			t.Errorf("owner messages = %q, want a recovery message", msgs)
		}
		if got := stateOf(h.e.Snapshot(ctx).Components, "bot"); got != health.StateOK {
			t.Errorf("bot state = %q after recovery", got)
		}
		time.Sleep(200 * time.Minute)
		synctest.Wait()
		if n := len(h.e.History()); n != 100 {
			t.Errorf("history = %d snapshots, want the last 100", n)
		}
		cancel()
		wg.Wait()
	})
}
