package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

// nopReplier accepts every call at once, so a benchmark measures the
// engine, not a platform.
type nopReplier struct{ n int }

func (r *nopReplier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	r.n++
	return "m", nil
}

func (r *nopReplier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	return nil
}

// BenchmarkStream_PerDelta measures the engine's cost of one streamed delta:
// the provider callback, the buffer, the coalesced flushes (re-split of the
// whole text at each one, 50 ms apart) and the final edit, for one turn of
// b.N deltas of one word each.
func BenchmarkStream_PerDelta(b *testing.B) {
	deltas := make([]string, b.N)
	for i := range deltas {
		deltas[i] = "word "
	}
	prov := enginetest.NewProvider(enginetest.Script{Deltas: deltas})
	e, err := engine.New(engine.Options{
		Provider: prov, Store: enginetest.NewMemStore(),
		Defaults: engine.Settings{Model: "m", Streaming: true},
		Access:   map[engine.Platform]engine.Access{"bench": {Everyone: true}},
	})
	if err != nil {
		b.Fatal(err)
	}
	e.Register(&benchBridge{})
	r := &nopReplier{}
	b.ReportAllocs()
	b.ResetTimer()
	e.HandleEvent(context.Background(), r, &engine.Event{Platform: "bench", Chat: "c", User: "u", Text: "go"})
	e.Shutdown(context.Background())
	b.StopTimer()
	if r.n == 0 {
		b.Fatal("nothing was sent")
	}
}

type benchBridge struct{}

func (benchBridge) Name() engine.Platform { return "bench" }
func (benchBridge) Caps() engine.Caps {
	return engine.Caps{MaxLen: 4096, LenUnit: engine.UTF16, CanEdit: true, MinEditInterval: 50 * time.Millisecond}
}
func (benchBridge) Run(ctx context.Context, h engine.Handler) error { return nil }
