package openrouter_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
	"github.com/chatbridge/chatbridge/engine/openrouter"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// stampingTransport records when each request left.
type stampingTransport struct {
	mu    sync.Mutex
	times []time.Time // of chat completion requests (not the catalogue's)
}

func (s *stampingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/chat/completions") {
		s.mu.Lock()
		s.times = append(s.times, time.Now())
		s.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// turn runs one user message through the engine with the real client
// against the fake, and returns what the user saw.
func turn(t *testing.T, fake *openroutertest.Server, key string, tr *stampingTransport) string {
	t.Helper()
	client := openrouter.New(openrouter.Options{
		BaseURL: fake.URL(), APIKey: key,
		HTTPClient: &http.Client{Transport: tr},
	})
	e, err := engine.New(engine.Options{
		Provider: client, Store: enginetest.NewMemStore(),
		Defaults:   engine.Settings{Model: "openai/gpt-4o-mini", Streaming: true},
		MaxRetries: 3,
		Access:     map[engine.Platform]engine.Access{"test": {Everyone: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := enginetest.NewReplier(4096, engine.UTF16)
	e.HandleEvent(context.Background(), r, &engine.Event{Platform: "test", Chat: "c", User: "u", Text: "hello"})
	e.Shutdown(context.Background())
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	return r.Last()
}

// TestEngineWithClient_429RetryAfter shows what a user gets when OpenRouter
// answers 429 with Retry-After: 2: the next attempt waits at least 2 s, and
// the user sees the answer, not the error.
func TestEngineWithClient_429RetryAfter(t *testing.T) {
	fake := openroutertest.New(t, openroutertest.Options{})
	fake.Enqueue(
		openroutertest.Script{Status: 429, Message: "Rate limit exceeded", ErrorType: "rate_limit_exceeded", RetryAfter: "2"},
		openroutertest.Tokens("Here is the answer."),
	)
	tr := &stampingTransport{}
	got := turn(t, fake, fake.APIKey(), tr)
	if got != "Here is the answer." {
		t.Errorf("user saw %q, want the answer", got)
	}
	if len(tr.times) != 2 {
		t.Fatalf("requests = %d, want 2", len(tr.times))
	}
	if gap := tr.times[1].Sub(tr.times[0]); gap < 2*time.Second {
		t.Errorf("second attempt %s after the 429, want >= 2s (Retry-After)", gap)
	}
}

// TestEngineWithClient_401 shows that a rejected key is not retried and the
// user is told so.
func TestEngineWithClient_401(t *testing.T) {
	fake := openroutertest.New(t, openroutertest.Options{})
	const rejected = "sk-or-v1-revoked-key-0000"
	tr := &stampingTransport{}
	got := turn(t, fake, rejected, tr)
	if !strings.Contains(got, "rejected the API key") || !strings.Contains(got, "/retry") {
		t.Errorf("user saw %q, want to be told the API key was rejected", got)
	}
	if len(tr.times) != 1 {
		t.Errorf("requests = %d, want 1 (no retry)", len(tr.times))
	}
	if strings.Contains(got, rejected) {
		t.Error("the key was shown to the user")
	}
}
