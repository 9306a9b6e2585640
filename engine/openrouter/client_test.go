package openrouter_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/openrouter"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newPair starts a fake and a client pointed at it.
func newPair(t *testing.T, opts openrouter.Options) (*openroutertest.Server, *openrouter.Client) {
	t.Helper()
	srv := openroutertest.New(t, openroutertest.Options{})
	if opts.BaseURL == "" {
		opts.BaseURL = srv.URL()
	}
	if opts.APIKey == "" {
		opts.APIKey = srv.APIKey()
	}
	c := openrouter.New(opts)
	t.Cleanup(c.CloseIdleConnections)
	return srv, c
}

func request(model, text string) *engine.Request {
	return &engine.Request{
		Model:    model,
		Messages: []engine.ChatMessage{{Role: engine.RoleUser, Content: text}},
	}
}

type result struct {
	comp   *engine.Completion
	deltas []engine.Delta
	err    error
}

func stream(t *testing.T, c *openrouter.Client, req *engine.Request) result {
	t.Helper()
	var r result
	r.comp, r.err = c.Stream(context.Background(), req, func(d engine.Delta) error {
		r.deltas = append(r.deltas, d)
		return nil
	})
	return r
}

func TestStream_Success(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 1<<16) // one 1 MiB token: a 1 MiB SSE line
	tests := []struct {
		name      string
		script    openroutertest.Script
		text      string
		reasoning string
		finish    string
		usage     *engine.Usage
	}{
		{
			name:   "tokens after keep-alives",
			script: openroutertest.Script{KeepAlives: 3, Tokens: []string{"Hello", ", ", "world"}},
			text:   "Hello, world",
			finish: "stop",
		},
		{
			name:   "many keep-alives before the first token",
			script: openroutertest.Script{KeepAlives: 300, Tokens: []string{"late"}},
			text:   "late",
			finish: "stop",
		},
		{
			name: "reasoning then content, usage with cost",
			script: openroutertest.Script{
				Reasoning: []string{"Let me ", "think."},
				Tokens:    []string{"4"},
				Usage:     &openroutertest.Usage{PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42, ReasoningTokens: 29, Cost: 0.00123},
			},
			text:      "4",
			reasoning: "Let me think.",
			finish:    "stop",
			usage:     &engine.Usage{PromptTokens: 12, CompletionTokens: 30, TotalTokens: 42, ReasoningTokens: 29, Cost: 0.00123},
		},
		{
			name:      "reasoning_details",
			script:    openroutertest.Script{Reasoning: []string{"a", "b"}, ReasoningDetails: true, Tokens: []string{"c"}},
			text:      "c",
			reasoning: "ab",
			finish:    "stop",
		},
		{
			name:   "CRLF",
			script: openroutertest.Script{CRLF: true, KeepAlives: 1, Tokens: []string{"x", "y"}},
			text:   "xy",
			finish: "stop",
		},
		{
			name:   "finish without DONE",
			script: openroutertest.Script{Tokens: []string{"x"}, NoDone: true},
			text:   "x",
			finish: "stop",
		},
		{
			name:   "length finish",
			script: openroutertest.Script{Tokens: []string{"x"}, FinishReason: "length"},
			text:   "x",
			finish: "length",
		},
		{
			name:   "one 1 MiB line",
			script: openroutertest.Script{Tokens: []string{"start ", long, " end"}},
			text:   "start " + long + " end",
			finish: "stop",
		},
		{
			name:   "slow first byte within the timeout",
			script: openroutertest.Script{FirstByteDelay: 30 * time.Millisecond, Tokens: []string{"ok"}},
			text:   "ok",
			finish: "stop",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t, openrouter.Options{})
			srv.Enqueue(tt.script)
			r := stream(t, c, request("openai/gpt-4o-mini", "hi"))
			if r.err != nil {
				t.Fatalf("Stream: %v", r.err)
			}
			if r.comp.Text != tt.text || r.comp.Reasoning != tt.reasoning || r.comp.FinishReason != tt.finish {
				t.Errorf("got text %.40q reasoning %q finish %q; want %.40q %q %q",
					r.comp.Text, r.comp.Reasoning, r.comp.FinishReason, tt.text, tt.reasoning, tt.finish)
			}
			var text, reasoning strings.Builder
			for _, d := range r.deltas {
				text.WriteString(d.Content)
				reasoning.WriteString(d.Reasoning)
			}
			if text.String() != tt.text || reasoning.String() != tt.reasoning {
				t.Errorf("deltas joined: %.40q / %q", text.String(), reasoning.String())
			}
			if tt.usage != nil && r.comp.Usage != *tt.usage {
				t.Errorf("usage %+v, want %+v", r.comp.Usage, *tt.usage)
			}
			if !strings.HasPrefix(r.comp.ID, "gen-") || r.comp.Model != "openai/gpt-4o-mini" {
				t.Errorf("id %q model %q", r.comp.ID, r.comp.Model)
			}
		})
	}
}

func TestStream_Echo(t *testing.T) {
	_, c := newPair(t, openrouter.Options{})
	r := stream(t, c, request("any/model", "ping pong"))
	if r.err != nil || r.comp.Text != "You said: ping pong" {
		t.Fatalf("got %q, %v", r.comp.Text, r.err)
	}
	if len(r.deltas) != 4 {
		t.Errorf("%d deltas, want one per word", len(r.deltas))
	}
	if r.comp.Usage.TotalTokens == 0 || r.comp.Usage.Cost == 0 {
		t.Errorf("usage %+v", r.comp.Usage)
	}
}

func TestStream_MidStreamError(t *testing.T) {
	tests := []struct {
		name   string
		err    openroutertest.MidStreamError
		kind   engine.ErrorKind
		status int
	}{
		{"finish_reason error, int code", openroutertest.MidStreamError{After: 2, Code: 502, Message: "Provider returned error"}, engine.ErrMidStream, 502},
		{"finish_reason error, string code", openroutertest.MidStreamError{After: 2, Code: "server_error", Message: "oops"}, engine.ErrMidStream, 0},
		{"empty choices, int code", openroutertest.MidStreamError{After: 2, Code: 500, EmptyChoices: true}, engine.ErrMidStream, 500},
		{"empty choices, string code", openroutertest.MidStreamError{After: 2, Code: "server_error", EmptyChoices: true}, engine.ErrMidStream, 0},
		{"rate limit error type", openroutertest.MidStreamError{After: 2, Code: 429, Message: "Rate limit exceeded", ErrorType: "rate_limit_exceeded"}, engine.ErrRateLimited, 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t, openrouter.Options{})
			me := tt.err
			srv.Enqueue(openroutertest.Script{Tokens: []string{"par", "tial", " never"}, MidStreamError: &me})
			r := stream(t, c, request("m/x", "hi"))
			pe, ok := engine.AsProviderError(r.err)
			if !ok {
				t.Fatalf("err = %v, want a ProviderError", r.err)
			}
			if pe.Kind != tt.kind || pe.Status != tt.status || !pe.Retryable() {
				t.Errorf("kind %v status %d retryable %v; want %v %d true", pe.Kind, pe.Status, pe.Retryable(), tt.kind, tt.status)
			}
			if r.comp == nil || r.comp.Text != "partial" {
				t.Fatalf("partial completion %+v", r.comp)
			}
		})
	}
}

func TestStream_Cut(t *testing.T) {
	for _, hijack := range []bool{true, false} {
		name := "clean end without DONE"
		if hijack {
			name = "connection closed"
		}
		t.Run(name, func(t *testing.T) {
			srv, c := newPair(t, openrouter.Options{})
			srv.Enqueue(openroutertest.Script{Tokens: []string{"a", "b", "c"}, Cut: &openroutertest.Cut{After: 2, Hijack: hijack}})
			r := stream(t, c, request("m/x", "hi"))
			pe, ok := engine.AsProviderError(r.err)
			if !ok || pe.Kind != engine.ErrStreamCut || !pe.Retryable() {
				t.Fatalf("err = %v, want a retryable ErrStreamCut", r.err)
			}
			if !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Errorf("err %v does not wrap io.ErrUnexpectedEOF", r.err)
			}
			if r.comp == nil || r.comp.Text != "ab" {
				t.Errorf("partial completion %+v", r.comp)
			}
		})
	}
}

const html502 = `<!DOCTYPE html>
<html lang="en-US"><head><title>openrouter.ai | 502: Bad gateway</title>
<meta charset="UTF-8" /><style>body{margin:0;padding:0}` + "\n" + `</style></head>
<body><div id="cf-wrapper"><h1>Bad gateway</h1><p>The web server reported a bad gateway error.</p>
<p>Cloudflare Ray ID: 8f1e2d3c4b5a6978</p></div></body></html>`

func TestStream_HTTPError(t *testing.T) {
	tests := []struct {
		name       string
		script     openroutertest.Script
		kind       engine.ErrorKind
		retryable  bool
		retryAfter time.Duration
		msg        string
	}{
		{
			name:   "401 key rejected",
			script: openroutertest.Script{Status: 401, Message: "User not found."},
			kind:   engine.ErrKeyRejected, msg: "User not found.",
		},
		{
			name:   "402 no credits",
			script: openroutertest.Script{Status: 402, Message: "Insufficient credits. Add more using https://openrouter.ai/credits"},
			kind:   engine.ErrNoCredits, msg: "Insufficient credits",
		},
		{
			name:   "403 moderation",
			script: openroutertest.Script{Status: 403, Message: "Input was flagged", ErrorType: "permission_denied"},
			kind:   engine.ErrForbidden,
		},
		{
			name:   "403 authentication",
			script: openroutertest.Script{Status: 403, Message: "Invalid credentials", ErrorType: "authentication"},
			kind:   engine.ErrKeyRejected,
		},
		{
			name:   "400 context length",
			script: openroutertest.Script{Status: 400, Message: "This endpoint's maximum context length is 8192 tokens.", ErrorType: "context_length_exceeded"},
			kind:   engine.ErrContextTooLong,
		},
		{
			name:   "400 context length by message only",
			script: openroutertest.Script{Status: 400, Message: "This model's maximum context length is 128000 tokens. However, you requested 130000 tokens."},
			kind:   engine.ErrContextTooLong,
		},
		{
			name:   "400 unknown model",
			script: openroutertest.Script{Status: 400, Message: "acme/fake-1.0 is not a valid model ID", ErrorType: "invalid_request"},
			kind:   engine.ErrUnknownModel,
		},
		{
			name:   "404 no endpoints",
			script: openroutertest.Script{Status: 404, Message: "No endpoints found for acme/fake."},
			kind:   engine.ErrUnknownModel,
		},
		{
			name:   "400 other",
			script: openroutertest.Script{Status: 400, Message: "temperature must be <= 2"},
			kind:   engine.ErrBadRequest,
		},
		{
			name:   "408 timeout",
			script: openroutertest.Script{Status: 408},
			kind:   engine.ErrTimeout, retryable: true,
		},
		{
			name:   "429 with Retry-After seconds",
			script: openroutertest.Script{Status: 429, Message: "Rate limit exceeded", RetryAfter: "2"},
			kind:   engine.ErrRateLimited, retryable: true, retryAfter: 2 * time.Second,
		},
		{
			name:   "503 with Retry-After",
			script: openroutertest.Script{Status: 503, Message: "No available model provider", RetryAfter: "7"},
			kind:   engine.ErrUnavailable, retryable: true, retryAfter: 7 * time.Second,
		},
		{
			name:   "500",
			script: openroutertest.Script{Status: 500, Message: "Internal Server Error", ErrorType: "server"},
			kind:   engine.ErrUnavailable, retryable: true,
		},
		{
			name:   "504",
			script: openroutertest.Script{Status: 504},
			kind:   engine.ErrTimeout, retryable: true,
		},
		{
			name:   "HTML 502 page",
			script: openroutertest.Script{Status: 502, Body: html502, ContentType: "text/html; charset=UTF-8"},
			kind:   engine.ErrUnavailable, retryable: true, msg: "openrouter.ai | 502: Bad gateway",
		},
		{
			name:   "plain text 503",
			script: openroutertest.Script{Status: 503, Body: "upstream connect error or disconnect/reset before headers", ContentType: "text/plain"},
			kind:   engine.ErrUnavailable, retryable: true, msg: "upstream connect error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newPair(t, openrouter.Options{})
			srv.Enqueue(tt.script)
			r := stream(t, c, request("m/x", "hi"))
			pe, ok := engine.AsProviderError(r.err)
			if !ok {
				t.Fatalf("err = %v (%T), want a ProviderError", r.err, r.err)
			}
			if pe.Kind != tt.kind || pe.Retryable() != tt.retryable || pe.RetryAfter != tt.retryAfter {
				t.Errorf("kind %v retryable %v retry-after %v; want %v %v %v (%v)",
					pe.Kind, pe.Retryable(), pe.RetryAfter, tt.kind, tt.retryable, tt.retryAfter, pe)
			}
			if pe.Status != tt.script.Status {
				t.Errorf("status %d, want %d", pe.Status, tt.script.Status)
			}
			if !strings.Contains(pe.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", pe.Message, tt.msg)
			}
			if len(pe.Message) > 400 {
				t.Errorf("message is %d bytes long", len(pe.Message))
			}
			if len(r.deltas) != 0 {
				t.Errorf("deltas on a failed request: %+v", r.deltas)
			}
		})
	}
}

func TestStream_JSONResponse(t *testing.T) {
	t.Run("error object in a 200", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{})
		srv.Enqueue(openroutertest.Script{Handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"error":{"code":402,"message":"Insufficient credits"}}`)
		}})
		r := stream(t, c, request("m/x", "hi"))
		if pe, ok := engine.AsProviderError(r.err); !ok || pe.Kind != engine.ErrNoCredits {
			t.Fatalf("err = %v, want ErrNoCredits", r.err)
		}
	})
	t.Run("non-streamed completion", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{})
		srv.Enqueue(openroutertest.Script{Handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"gen-9","model":"m/x","choices":[{"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"cost":0.5}}`)
		}})
		r := stream(t, c, request("m/x", "hi"))
		if r.err != nil || r.comp.Text != "whole" || r.comp.Usage.Cost != 0.5 || len(r.deltas) != 1 {
			t.Fatalf("got %+v, %v", r.comp, r.err)
		}
	})
	t.Run("html in a 200", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{})
		srv.Enqueue(openroutertest.Script{Handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><title>Captive portal</title></html>")
		}})
		r := stream(t, c, request("m/x", "hi"))
		if pe, ok := engine.AsProviderError(r.err); !ok || pe.Kind != engine.ErrUnavailable || !strings.Contains(pe.Message, "Captive portal") {
			t.Fatalf("err = %v", r.err)
		}
	})
}

func TestStream_Request(t *testing.T) {
	srv, c := newPair(t, openrouter.Options{Referer: "https://example.test/bot", Title: "My Bot"})
	temp := 0.25
	req := &engine.Request{
		Model:          "openai/gpt-4o",
		FallbackModels: []string{"openai/gpt-4o-mini", "anthropic/claude-3.5-sonnet"},
		Messages: []engine.ChatMessage{
			{Role: engine.RoleSystem, Content: "be brief"},
			{Role: engine.RoleUser, Content: "hello"},
			{Role: engine.RoleAssistant, Content: "hi"},
			{Role: engine.RoleUser, Content: "again"},
		},
		Temperature: &temp,
		MaxTokens:   321,
	}
	if r := stream(t, c, req); r.err != nil {
		t.Fatal(r.err)
	}
	plain := openrouter.New(openrouter.Options{BaseURL: srv.URL(), APIKey: srv.APIKey()})
	t.Cleanup(plain.CloseIdleConnections)
	if r := stream(t, plain, request("m/x", "defaults")); r.err != nil {
		t.Fatal(r.err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	got := reqs[0]
	if got.Method != http.MethodPost || got.Path != "/api/v1/chat/completions" {
		t.Errorf("%s %s", got.Method, got.Path)
	}
	for h, want := range map[string]string{
		"Authorization":      "Bearer " + srv.APIKey(),
		"HTTP-Referer":       "https://example.test/bot",
		"X-Title":            "My Bot",
		"X-OpenRouter-Title": "My Bot",
		"Content-Type":       "application/json",
		"Accept":             "text/event-stream",
	} {
		if v := got.Header.Get(h); v != want {
			t.Errorf("header %s = %q, want %q", h, v, want)
		}
	}
	b := got.Body
	if b.Model != "openai/gpt-4o" || !b.Stream || len(b.Messages) != 4 {
		t.Errorf("body %+v", b)
	}
	if strings.Join(b.Models, ",") != "openai/gpt-4o-mini,anthropic/claude-3.5-sonnet" {
		t.Errorf("models %q", b.Models)
	}
	if b.Messages[0].Role != "system" || b.Messages[3].Content != "again" {
		t.Errorf("messages %+v", b.Messages)
	}
	if b.Temperature == nil || *b.Temperature != 0.25 || b.MaxTokens == nil || *b.MaxTokens != 321 {
		t.Errorf("temperature %v max_tokens %v", b.Temperature, b.MaxTokens)
	}
	if b.Usage == nil || !b.Usage.Include {
		t.Errorf("usage %+v", b.Usage)
	}

	def := reqs[1]
	for _, field := range []string{"temperature", "max_tokens", "models"} {
		if _, ok := def.Body.Fields[field]; ok {
			t.Errorf("field %q sent without being set", field)
		}
	}
	if def.Header.Get("HTTP-Referer") != openrouter.DefaultReferer || def.Header.Get("X-Title") != openrouter.DefaultTitle {
		t.Errorf("default attribution headers: %v", def.Header)
	}
}

func TestStream_InvalidRequest(t *testing.T) {
	srv, c := newPair(t, openrouter.Options{})
	for name, req := range map[string]*engine.Request{
		"nil":         nil,
		"no model":    request("", "hi"),
		"no messages": {Model: "m/x"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Stream(context.Background(), req, nil)
			if pe, ok := engine.AsProviderError(err); !ok || pe.Kind != engine.ErrBadRequest {
				t.Fatalf("err = %v, want ErrBadRequest", err)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestStream_Cancel(t *testing.T) {
	t.Run("mid-stream", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{})
		srv.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(openroutertest.LongText(200)), Delay: 20 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var cancelled time.Time
		n := 0
		comp, err := c.Stream(ctx, request("m/x", "hi"), func(engine.Delta) error {
			n++
			if n == 2 {
				cancelled = time.Now()
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if _, ok := engine.AsProviderError(err); ok {
			t.Errorf("a cancel must not be a ProviderError: %v", err)
		}
		if d := time.Since(cancelled); d > 500*time.Millisecond {
			t.Errorf("Stream returned %v after the cancel", d)
		}
		if comp == nil || comp.Text == "" {
			t.Errorf("partial completion %+v", comp)
		}
		waitFor(t, "the server to see the cancel", func() bool { return srv.Cancellations() == 1 })
	})
	t.Run("while waiting for the first byte", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{})
		srv.Enqueue(openroutertest.Script{FirstByteDelay: 5 * time.Second, Tokens: []string{"x"}})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		comp, err := c.Stream(ctx, request("m/x", "hi"), nil)
		if !errors.Is(err, context.DeadlineExceeded) || comp != nil {
			t.Fatalf("got %+v, %v; want context.DeadlineExceeded", comp, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v", d)
		}
		waitFor(t, "the server to see the cancel", func() bool { return srv.Cancellations() == 1 })
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStream_OnDeltaError(t *testing.T) {
	srv, c := newPair(t, openrouter.Options{})
	srv.Enqueue(openroutertest.Script{Tokens: []string{"a", "b", "c", "d"}, Delay: 5 * time.Millisecond})
	stop := errors.New("reply aborted")
	n := 0
	comp, err := c.Stream(context.Background(), request("m/x", "hi"), func(engine.Delta) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want the onDelta error", err)
	}
	if n != 2 || comp.Text != "ab" {
		t.Fatalf("%d calls, text %q", n, comp.Text)
	}
}

func TestStream_SlowFirstByte(t *testing.T) {
	srv, c := newPair(t, openrouter.Options{Timeout: 50 * time.Millisecond})
	srv.Enqueue(openroutertest.Script{FirstByteDelay: 2 * time.Second, Tokens: []string{"late"}})
	start := time.Now()
	r := stream(t, c, request("m/x", "hi"))
	pe, ok := engine.AsProviderError(r.err)
	if !ok || pe.Kind != engine.ErrTimeout || !pe.Retryable() {
		t.Fatalf("err = %v, want a retryable ErrTimeout", r.err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestStream_Unreachable(t *testing.T) {
	srv := openroutertest.NewServer(openroutertest.Options{})
	url := srv.URL()
	srv.Close()
	c := openrouter.New(openrouter.Options{BaseURL: url, APIKey: "k"})
	_, err := c.Stream(context.Background(), request("m/x", "hi"), nil)
	if pe, ok := engine.AsProviderError(err); !ok || pe.Kind != engine.ErrUnavailable || !pe.Retryable() {
		t.Fatalf("err = %v, want a retryable ErrUnavailable", err)
	}
}

func TestClient_SetAPIKey(t *testing.T) {
	srv, c := newPair(t, openrouter.Options{APIKey: "sk-or-v1-old-revoked-key"})
	_, err := c.Stream(context.Background(), request("m/x", "hi"), nil)
	if pe, ok := engine.AsProviderError(err); !ok || pe.Kind != engine.ErrKeyRejected || pe.Retryable() {
		t.Fatalf("err = %v, want a non-retryable ErrKeyRejected", err)
	}
	c.SetAPIKey(srv.APIKey())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := c.Stream(context.Background(), request("m/x", "hi"), nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// TestClient_CheckAndUseAPIKey: a candidate key is checked without being
// used; UseAPIKey switches to it at once and UseAPIKey("") goes back to
// the configured key.
func TestClient_CheckAndUseAPIKey(t *testing.T) {
	srv, c := newPair(t, openrouter.Options{APIKey: "sk-or-v1-configured"})
	good := srv.APIKey()
	if err := c.CheckAPIKey(context.Background(), "sk-or-v1-wrong"); !isKind(err, engine.ErrKeyRejected) {
		t.Errorf("CheckAPIKey(wrong) = %v, want ErrKeyRejected", err)
	}
	if err := c.CheckAPIKey(context.Background(), good); err != nil {
		t.Errorf("CheckAPIKey(good) = %v", err)
	}
	reqs := srv.Requests()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer "+good {
		t.Errorf("the check sent %q, want the candidate key", got)
	}
	if _, err := c.Stream(context.Background(), request("m/x", "hi"), nil); !isKind(err, engine.ErrKeyRejected) {
		t.Errorf("a check switched the key: stream err = %v", err)
	}
	c.UseAPIKey(good)
	if _, err := c.Stream(context.Background(), request("m/x", "hi"), nil); err != nil {
		t.Errorf("after UseAPIKey: %v", err)
	}
	c.UseAPIKey("")
	c.Stream(context.Background(), request("m/x", "hi"), nil)
	reqs = srv.Requests()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer sk-or-v1-configured" {
		t.Errorf("after UseAPIKey(\"\") the request sent %q, want the configured key", got)
	}
}

func isKind(err error, k engine.ErrorKind) bool {
	pe, ok := engine.AsProviderError(err)
	return ok && pe.Kind == k
}

func TestClient_BaseURLTrailingSlash(t *testing.T) {
	srv := openroutertest.New(t, openroutertest.Options{})
	c := openrouter.New(openrouter.Options{BaseURL: srv.URL() + "/", APIKey: srv.APIKey()})
	t.Cleanup(c.CloseIdleConnections)
	if r := stream(t, c, request("m/x", "hi")); r.err != nil {
		t.Fatal(r.err)
	}
	if p := srv.Requests()[0].Path; p != "/api/v1/chat/completions" {
		t.Errorf("path %q", p)
	}
}

// TestError_NoKeyInText checks that the API key appears in no error text, even
// when the server echoes it back.
func TestError_NoKeyInText(t *testing.T) {
	const key = "sk-or-v1-0123456789abcdef-secret"
	echo := func(status int, contentType, format string) openroutertest.Script {
		return openroutertest.Script{Handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = io.WriteString(w, strings.ReplaceAll(format, "AUTH", r.Header.Get("Authorization")))
		}}
	}
	tests := map[string]openroutertest.Script{
		"json 401":       echo(401, "application/json", `{"error":{"code":401,"message":"bad key AUTH"}}`),
		"json 400":       echo(400, "application/json", `{"error":{"code":400,"message":"AUTH","metadata":{"error_type":"AUTH"}}}`),
		"html 502":       echo(502, "text/html", `<html><title>AUTH</title></html>`),
		"plain 500":      echo(500, "text/plain", `header was AUTH`),
		"mid-stream":     echo(200, "text/event-stream", `data: {"error":{"code":502,"message":"AUTH"},"choices":[]}`+"\n\n"),
		"malformed":      echo(200, "text/event-stream", "data: {AUTH\n\n"),
		"json 200 error": echo(200, "application/json", `{"error":{"code":"AUTH","message":"AUTH"}}`),
		"html 200":       echo(200, "text/html", `<p>AUTH</p>`),
		"wrong key":      {Status: 401},
	}
	for name, sc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := openroutertest.New(t, openroutertest.Options{APIKey: key})
			c := openrouter.New(openrouter.Options{BaseURL: srv.URL(), APIKey: key})
			t.Cleanup(c.CloseIdleConnections)
			srv.Enqueue(sc)
			_, err := c.Stream(context.Background(), request("m/x", "hi"), nil)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error leaks the key: %v", err)
			}
			if pe, ok := engine.AsProviderError(err); ok && strings.Contains(pe.Safe(), key) {
				t.Errorf("safe text leaks the key: %v", pe.Safe())
			}
		})
	}
	t.Run("key and models endpoints", func(t *testing.T) {
		srv := openroutertest.New(t, openroutertest.Options{APIKey: "another-key"})
		c := openrouter.New(openrouter.Options{BaseURL: srv.URL(), APIKey: key})
		t.Cleanup(c.CloseIdleConnections)
		_, err := c.Key(context.Background())
		if err == nil || strings.Contains(err.Error(), key) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		c := openrouter.New(openrouter.Options{BaseURL: "http://127.0.0.1:1/api/v1", APIKey: key})
		_, err := c.Stream(context.Background(), request("m/x", "hi"), nil)
		if err == nil || strings.Contains(err.Error(), key) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestClassifyStatus_Bodies(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		header     http.Header
		kind       engine.ErrorKind
		retryAfter time.Duration
		msg        string
	}{
		{name: "401", status: 401, body: `{"error":{"code":401,"message":"No auth credentials found"}}`, kind: engine.ErrKeyRejected, msg: "No auth credentials found"},
		{name: "402 empty body", status: 402, kind: engine.ErrNoCredits, msg: "Payment Required"},
		{name: "403 guardrail", status: 403, body: `{"error":{"code":403,"message":"Request blocked: prompt injection patterns detected"}}`, kind: engine.ErrForbidden},
		{name: "403 permission wording is not a key problem", status: 403, body: `{"error":{"code":403,"message":"You are not authorized to use this model"}}`, kind: engine.ErrForbidden},
		{name: "403 authentication wording", status: 403, body: `{"error":{"code":403,"message":"Authentication failed: key disabled"}}`, kind: engine.ErrKeyRejected},
		{name: "403 region availability", status: 403, body: `{"error":{"message":"geo","error_type":"permission_denied","availability":{"code":"region_restricted","retryable":false}}}`, kind: engine.ErrForbidden},
		{name: "400 model_not_found availability", status: 400, body: `{"error":{"message":"acme/fake-1.0 is not a valid model ID","error_type":"invalid_request","http_status":400,"availability":{"code":"model_not_found","retryable":false}}}`, kind: engine.ErrUnknownModel},
		{name: "404 deprecated", status: 404, body: `{"error":{"message":"Quasar Alpha was a stealth model","error_type":"not_found","availability":{"code":"model_deprecated","retryable":false}}}`, kind: engine.ErrUnknownModel},
		{name: "404 plain not found", status: 404, body: `404 page not found`, kind: engine.ErrBadRequest},
		{name: "404 context constraint", status: 404, body: `{"error":{"message":"No endpoints found that support the requested context length"}}`, kind: engine.ErrContextTooLong},
		{name: "413", status: 413, body: `{"error":{"code":413,"message":"Payload too large"}}`, kind: engine.ErrContextTooLong},
		{name: "400 content policy", status: 400, body: `{"error":{"code":400,"message":"flagged","metadata":{"error_type":"content_policy_violation"}}}`, kind: engine.ErrForbidden},
		{name: "429 availability retry_after", status: 429, body: `{"error":{"message":"All providers are at capacity","error_type":"rate_limit_exceeded","availability":{"code":"capacity_exhausted","retryable":true,"retry_after":40}}}`, kind: engine.ErrRateLimited, retryAfter: 40 * time.Second},
		{name: "429 header wins", status: 429, body: `{"error":{"message":"x","availability":{"code":"capacity_exhausted","retryable":true,"retry_after":40}}}`, header: http.Header{"Retry-After": {"3"}}, kind: engine.ErrRateLimited, retryAfter: 3 * time.Second},
		{name: "503 temporarily unavailable", status: 503, body: `{"error":{"message":"x","availability":{"code":"temporarily_unavailable","retryable":true}}}`, kind: engine.ErrUnavailable},
		{name: "502 provider metadata", status: 502, body: `{"error":{"code":502,"message":"Upstream error","metadata":{"provider_name":"Fireworks","raw":"..."}}}`, kind: engine.ErrUnavailable, msg: "Upstream error (provider Fireworks)"},
		{name: "string error", status: 500, body: `{"error":"internal"}`, kind: engine.ErrUnavailable, msg: "internal"},
		{name: "bare message", status: 400, body: `{"message":"bad thing"}`, kind: engine.ErrBadRequest, msg: "bad thing"},
		{name: "HTML", status: 502, body: html502, kind: engine.ErrUnavailable, msg: "openrouter.ai | 502: Bad gateway"},
		{name: "3xx", status: 302, kind: engine.ErrUnknownKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := openrouter.ClassifyStatus(tt.status, []byte(tt.body), tt.header)
			if pe.Kind != tt.kind || pe.Status != tt.status || pe.RetryAfter != tt.retryAfter {
				t.Errorf("got kind %v status %d retry-after %v; want %v %d %v (%v)",
					pe.Kind, pe.Status, pe.RetryAfter, tt.kind, tt.status, tt.retryAfter, pe)
			}
			if !strings.Contains(pe.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", pe.Message, tt.msg)
			}
		})
	}
}
