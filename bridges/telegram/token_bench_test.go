//go:build unix

package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
	"github.com/chatbridge/chatbridge/engine/openrouter"
	"github.com/chatbridge/chatbridge/storage"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

// BenchmarkPipeline_TokenCPU measures the daemon's CPU per streamed token
// on the path from the provider's bytes to Telegram's HTML: the real
// OpenRouter client (net/http, SSE framing and JSON decoding of one
// chat.completion.chunk per token, as OpenRouter sends them), the engine
// (middleware, conversation worker, reply buffer, the flusher re-splitting
// the whole text at each edit, budgets, reply-state writes, final edit,
// stored messages) and the bridge's render step before each Send/Edit
// (RenderHTML, VisibleLen); only the HTTP call to Telegram is left out.
// The store is the in-memory fake ("mem") or Badger with SyncWrites as the
// daemon runs it ("badger").
//
// One op is one turn in a new private chat: the 4.4 KB sample reply (two
// Telegram messages) in ~900 tokens, one chunk per Read of the response
// body. Each edit carries N new tokens (see enginetest.Pacer): a model streaming
// 100 tokens/s against Telegram's one edit a second gives N = 100, a
// slower model N = 50, and N = 10 is a pessimistic case.
//
// cpu-ns/token is getrusage user+system CPU of the whole process over the
// loop (every goroutine, Badger's included, and the GC) per token;
// tokens/call is the pacing achieved.
func BenchmarkPipeline_TokenCPU(b *testing.B) {
	reply := rendertest.SampleReply() + "\n\n" + pipelineMarker
	tokens := enginetest.Tokens(reply)
	for _, store := range []string{"mem", "badger"} {
		for _, every := range []int{10, 50, 100} {
			b.Run(fmt.Sprintf("%s/tokens-per-edit-%d", store, every), func(b *testing.B) {
				benchPipeline(b, store, tokens, every)
			})
		}
	}
}

const pipelineMarker = "END-OF-REPLY"

func benchPipeline(b *testing.B, storeKind string, tokens []string, every int) {
	tr := newSSETransport(tokens)
	prov := openrouter.New(openrouter.Options{
		BaseURL: "http://openrouter.invalid/api/v1", APIKey: "sk-or-bench",
		HTTPClient: &http.Client{Transport: tr},
	})
	var st engine.Store = enginetest.NewMemStore()
	if storeKind == "badger" {
		s, err := storage.Open(context.Background(), storage.Options{Dir: b.TempDir(), SyncWrites: true,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		st = s
	}
	e, err := engine.New(engine.Options{
		Provider: prov, Store: st, Logger: slog.New(slog.DiscardHandler),
		Defaults:    engine.Settings{Model: "openai/gpt-4o-mini", Streaming: true, MaxTokens: 1000},
		Access:      map[engine.Platform]engine.Access{Name: {Everyone: true}},
		IdleTimeout: 2 * time.Minute, // as the daemon runs (openrouter.timeout)
	})
	if err != nil {
		b.Fatal(err)
	}
	e.Register(pipelineBridge{})
	enginetest.BenchTurnCPU(b, e, len(tokens), every, func(i int, p *enginetest.Pacer) <-chan struct{} {
		tr.p.Store(p)
		r := &renderReplier{p: p, done: make(chan struct{})}
		e.HandleEvent(context.Background(), r, &engine.Event{Platform: Name, Chat: engine.ChatID(fmt.Sprint(100_000 + i)),
			User: "42", Private: true, Text: "How do I put two apps behind Caddy?"})
		return r.done
	})
}

// pipelineBridge has the Telegram bridge's caps, except no minimum time
// between edits (the pacer sets the tokens per edit) and budgets that
// never run dry (still checked before every call).
type pipelineBridge struct{}

func (pipelineBridge) Name() engine.Platform { return Name }
func (pipelineBridge) Caps() engine.Caps {
	c := (&Bridge{}).Caps()
	plenty := engine.RateSpec{Every: time.Nanosecond, Burst: 1 << 30}
	c.MinEditInterval, c.GroupMinEditInterval = 0, 0
	c.ChatBudget, c.GroupChatBudget, c.BridgeBudget = plenty, plenty, plenty
	return c
}
func (pipelineBridge) Run(ctx context.Context, h engine.Handler) error { return nil }

// renderReplier does what the bridge's replier does before its HTTP call
// (render: Markdown to HTML, the visible-length check) and counts the
// calls. It closes done when a call shows the reply's end.
type renderReplier struct {
	p      *enginetest.Pacer
	done   chan struct{}
	closed atomic.Bool
	n      atomic.Int64
}

func (r *renderReplier) show(m engine.Outgoing) error {
	r.p.Call()
	if _, _, err := render(m); err != nil {
		return err
	}
	if strings.Contains(m.Text, pipelineMarker) && r.closed.CompareAndSwap(false, true) {
		close(r.done)
	}
	return nil
}

func (r *renderReplier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	if err := r.show(m); err != nil {
		return "", err
	}
	return engine.MessageID(fmt.Sprint(r.n.Add(1))), nil
}

func (r *renderReplier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	return r.show(m)
}

// sseTransport answers every chat completion with the tokens as an
// OpenRouter SSE stream, one chunk per Read, paced.
type sseTransport struct {
	chunks [][]byte                         // one SSE event per token
	p      atomic.Pointer[enginetest.Pacer] // the current turn's
}

// newSSETransport builds the events up front, so the fake's own work is
// not measured.
func newSSETransport(tokens []string) *sseTransport {
	t := &sseTransport{}
	for _, tok := range tokens {
		q, _ := json.Marshal(tok)
		t.chunks = append(t.chunks, fmt.Appendf(nil, sseChunkFormat, q))
	}
	return t
}

func (t *sseTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/chat/completions") {
		return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	}
	return &http.Response{
		StatusCode: http.StatusOK, Request: req,
		Header: http.Header{"Content-Type": {"text/event-stream"}, "X-Generation-Id": {"gen-bench"}},
		Body:   &sseBody{chunks: t.chunks, p: t.p.Load()},
	}, nil
}

// sseBody is one streamed response: a keep-alive, a chunk per token, the
// finish and usage chunks and [DONE], each in its own Read.
type sseBody struct {
	chunks [][]byte
	p      *enginetest.Pacer
	next   int // the next event: 0 keep-alive, 1..len(chunks) tokens, then the tail
	rest   []byte
	tail   bool
}

const sseChunkFormat = `data: {"id":"gen-bench","provider":"OpenAI","model":"openai/gpt-4o-mini","object":"chat.completion.chunk","created":1739458867,"choices":[{"index":0,"delta":{"role":"assistant","content":%s},"finish_reason":null,"native_finish_reason":null,"logprobs":null}],"system_fingerprint":"fp_72ed7ab54c"}` + "\n\n"

const sseTail = `data: {"id":"gen-bench","provider":"OpenAI","model":"openai/gpt-4o-mini","object":"chat.completion.chunk","created":1739458867,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop","native_finish_reason":"stop","logprobs":null}],"system_fingerprint":"fp_72ed7ab54c"}` + "\n\n" +
	`data: {"id":"gen-bench","provider":"OpenAI","model":"openai/gpt-4o-mini","object":"chat.completion.chunk","created":1739458867,"choices":[],"usage":{"prompt_tokens":31,"completion_tokens":900,"total_tokens":931,"cost":0.00054}}` + "\n\n" +
	"data: [DONE]\n\n"

func (s *sseBody) Read(p []byte) (int, error) {
	if len(s.rest) == 0 {
		switch {
		case s.next == 0:
			s.rest = []byte(": OPENROUTER PROCESSING\n\n")
		case s.next <= len(s.chunks):
			// Everything handed out so far is parsed by now.
			s.p.Before(s.next - 1)
			s.rest = s.chunks[s.next-1]
		case !s.tail:
			s.p.End()
			s.tail = true
			s.rest = []byte(sseTail)
		default:
			return 0, io.EOF
		}
		s.next++
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

func (s *sseBody) Close() error { return nil }
