//go:build unix

package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

// pacedProvider streams tokens through the pacer.
type pacedProvider struct {
	tokens []string
	p      atomic.Pointer[enginetest.Pacer] // the current turn's
}

func (pp *pacedProvider) Stream(ctx context.Context, req *engine.Request, onDelta func(engine.Delta) error) (*engine.Completion, error) {
	var text strings.Builder
	p := pp.p.Load()
	defer p.End()
	for i, tok := range pp.tokens {
		p.Before(i)
		text.WriteString(tok)
		if err := onDelta(engine.Delta{Content: tok}); err != nil {
			return &engine.Completion{Text: text.String()}, err
		}
	}
	return &engine.Completion{Text: text.String(), FinishReason: "stop", Model: req.Model,
		Usage: engine.Usage{PromptTokens: 20, CompletionTokens: len(pp.tokens), TotalTokens: 20 + len(pp.tokens)}}, nil
}

func (pp *pacedProvider) Models(ctx context.Context) ([]engine.ModelInfo, error) { return nil, nil }

// pacedReplier is a platform that accepts every call at once; it counts
// them and closes done when a call shows the reply's last token.
type pacedReplier struct {
	p      *enginetest.Pacer
	marker string
	done   chan struct{}
	closed atomic.Bool
	n      atomic.Int64
}

func (r *pacedReplier) saw(m engine.Outgoing) {
	r.p.Call()
	if strings.Contains(m.Text, r.marker) && r.closed.CompareAndSwap(false, true) {
		close(r.done)
	}
}

func (r *pacedReplier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	r.saw(m)
	return engine.MessageID(fmt.Sprint(r.n.Add(1))), nil
}

func (r *pacedReplier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	r.saw(m)
	return nil
}

// tokenReply is a 4.5 KB Markdown reply (prose, a list, a code block)
// ending in a marker the replier looks for.
const tokenReplyMarker = "END-OF-REPLY"

func tokenReply() string {
	var b strings.Builder
	b.WriteString("## An answer\n\n")
	for i := range 6 {
		fmt.Fprintf(&b, "Paragraph %d: the quick brown fox jumps over the lazy dog, and **then** it runs "+
			"back along the `river` bank to see whether the dog has noticed anything at all.\n\n", i)
		if i == 2 {
			b.WriteString("```go\nfunc main() {\n\tfor i := range 10 {\n\t\tfmt.Println(i)\n\t}\n}\n```\n\n")
		}
		if i == 4 {
			b.WriteString("- first point about the fox\n- second point about the dog\n- a third one\n\n")
		}
	}
	s := b.String()
	for len(s) < 4500 {
		s += s
	}
	return s[:4500] + " " + tokenReplyMarker
}

// BenchmarkTurn_TokenCPU measures the engine's CPU per streamed token:
// whole turns (the event through the middleware and the conversation
// worker, history load, the provider callback, the reply buffer, the
// flusher re-splitting the whole text at each edit, the budgets, the
// reply-state writes, the final edit and the stored messages), here with
// the in-memory store, a provider that hands over tokens and a platform
// that renders nothing (bridges/telegram's BenchmarkPipeline_TokenCPU adds
// the SSE client and the renderer). One op is one turn of ~1,100 tokens
// (~4.5 KB, two Telegram messages) in a new chat.
//
// Each edit carries N new tokens (see pacer): a model streaming 100
// tokens/s against Telegram's one edit a second gives N = 100, a slower
// model N = 50, and N = 10 is a pessimistic case (the 4 KB reply re-split
// every 10 tokens).
//
// cpu-ns/token is getrusage user+system time of the whole process over
// the loop (all goroutines, the GC) divided by the tokens; tokens/call is
// the pacing achieved.
func BenchmarkTurn_TokenCPU(b *testing.B) {
	reply := tokenReply()
	tokens := enginetest.Tokens(reply)
	for _, every := range []int{10, 50, 100} {
		b.Run(fmt.Sprintf("tokens-per-edit-%d", every), func(b *testing.B) {
			prov := &pacedProvider{tokens: tokens}
			e, err := engine.New(engine.Options{
				Provider: prov, Store: enginetest.NewMemStore(),
				Defaults:    engine.Settings{Model: "m", Streaming: true},
				Access:      map[engine.Platform]engine.Access{"bench": {Everyone: true}},
				IdleTimeout: 2 * time.Minute, // as the daemon runs (openrouter.timeout)
			})
			if err != nil {
				b.Fatal(err)
			}
			e.Register(paceBridge{})
			enginetest.BenchTurnCPU(b, e, len(tokens), every, func(i int, p *enginetest.Pacer) <-chan struct{} {
				prov.p.Store(p)
				r := &pacedReplier{p: p, marker: tokenReplyMarker, done: make(chan struct{})}
				e.HandleEvent(context.Background(), r, &engine.Event{Platform: "bench", Chat: engine.ChatID(fmt.Sprint("c", i)),
					User: "u", Private: true, Text: "go"})
				return r.done
			})
		})
	}
}

// paceBridge has Telegram's caps, except no minimum time between edits
// (the pacer sets the tokens per edit) and budgets that never run dry
// (they are still checked before each call).
type paceBridge struct{}

func (paceBridge) Name() engine.Platform { return "bench" }
func (paceBridge) Caps() engine.Caps {
	plenty := engine.RateSpec{Every: time.Nanosecond, Burst: 1 << 30}
	return engine.Caps{MaxLen: 4096, LenUnit: engine.UTF16, CanEdit: true,
		ChatBudget: plenty, BridgeBudget: plenty, Dialect: engine.DialectTelegramHTML}
}
func (paceBridge) Run(ctx context.Context, h engine.Handler) error { return nil }

// BenchmarkWakePerToken is the floor under any per-token CPU figure when
// tokens arrive one by one with gaps, as from the network: one goroutine
// woken per token (here by a channel, fed from a timer every 200 µs), doing
// nothing with it. The cost is the Go scheduler's and the kernel's
// (spinning, futex, timer), not the engine's, and it is not in
// BenchmarkTurn_TokenCPU, which hands tokens over in bursts.
func BenchmarkWakePerToken(b *testing.B) {
	ch := make(chan int)
	stop := make(chan struct{})
	go func() {
		start := time.Now()
		for i := 0; ; i++ {
			if d := time.Until(start.Add(time.Duration(i) * 200 * time.Microsecond)); d > 0 {
				time.Sleep(d)
			}
			select {
			case ch <- i:
			case <-stop:
				return
			}
		}
	}()
	defer close(stop)
	cpu0 := enginetest.ProcessCPU(b)
	for b.Loop() {
		<-ch
	}
	b.ReportMetric(float64((enginetest.ProcessCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/token")
}
