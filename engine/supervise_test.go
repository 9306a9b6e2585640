package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
	"github.com/chatbridge/chatbridge/engine/health"
)

// flakyBridge fails its first fails Runs at once, then runs until ctx ends.
type flakyBridge struct {
	fails int32
	runs  atomic.Int32
	mu    sync.Mutex
	at    []time.Time
}

func (b *flakyBridge) Name() engine.Platform { return "flaky" }
func (b *flakyBridge) Caps() engine.Caps     { return testCaps() }
func (b *flakyBridge) Run(ctx context.Context, _ engine.Handler) error {
	b.mu.Lock()
	b.at = append(b.at, time.Now())
	b.mu.Unlock()
	if b.runs.Add(1) <= b.fails {
		return errors.New("gateway refused")
	}
	<-ctx.Done()
	return nil
}

// ownerBridge is another platform that can write to its owner privately.
type ownerBridge struct {
	r *enginetest.Replier
}

func (b *ownerBridge) Name() engine.Platform { return "steady" }
func (b *ownerBridge) Caps() engine.Caps     { return testCaps() }
func (b *ownerBridge) Run(ctx context.Context, _ engine.Handler) error {
	<-ctx.Done()
	return nil
}
func (b *ownerBridge) DirectReplier(_ context.Context, user engine.UserID) (engine.Replier, error) {
	if user != "boss" {
		return nil, errors.New("unknown user")
	}
	return b.r, nil
}

func TestRunBridge_RestartsWithBackoffAndAlertsTheOwnerOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tracker := health.NewTracker()
		eng, err := engine.New(engine.Options{
			Provider: enginetest.NewProvider(), Store: enginetest.NewMemStore(), Health: tracker,
			Defaults:       engine.Settings{Model: "openai/gpt-4o-mini"},
			DownAlertAfter: 3 * time.Minute,
			Access:         map[engine.Platform]engine.Access{"steady": {Allowed: []engine.UserID{"boss"}, Owners: []engine.UserID{"boss"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		flaky := &flakyBridge{fails: 10}
		steady := &ownerBridge{r: enginetest.NewReplier(4096, engine.Runes)}
		eng.Register(flaky)
		eng.Register(steady)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = eng.RunBridge(ctx, flaky) })
		wg.Go(func() { _ = eng.RunBridge(ctx, steady) })

		time.Sleep(2 * time.Second)
		synctest.Wait()
		if st := stateOf(tracker.Components(), "flaky"); st != health.StateDown {
			t.Errorf("health of the failing bridge = %q, want down", st)
		}
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		flaky.mu.Lock()
		at := append([]time.Time(nil), flaky.at...)
		flaky.mu.Unlock()
		if len(at) != 11 {
			t.Fatalf("runs = %d, want 10 failures then a good run", len(at))
		}
		for i := 2; i < len(at); i++ {
			gap, prev := at[i].Sub(at[i-1]), at[i-1].Sub(at[i-2])
			if gap < prev/2 && gap < 60*time.Second {
				t.Errorf("restart %d came %s after the last, the one before %s: want a growing backoff", i, gap, prev)
			}
		}
		var alerts []string
		for _, m := range steady.r.Messages() {
			alerts = append(alerts, m)
		}
		if len(alerts) != 2 || !strings.Contains(alerts[0], "flaky bridge has been down") || !strings.Contains(alerts[1], "back") {
			t.Errorf("owner messages = %q, want one down alert and one back", alerts)
		}
		cancel()
		wg.Wait()
		eng.Shutdown(context.Background())
	})
}

func stateOf(comps []health.Component, name string) health.State {
	for _, c := range comps {
		if c.Name == name {
			return c.State
		}
	}
	return ""
}
