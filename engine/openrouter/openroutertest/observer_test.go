package openroutertest_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

func TestServer_OnContentObservesEachContentChunk(t *testing.T) {
	type seen struct {
		user  string
		index int
		at    time.Time
	}
	var (
		mu  sync.Mutex
		got []seen
	)
	srv := openroutertest.New(t, openroutertest.Options{OnContent: func(req *openroutertest.ChatRequest, index int, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{req.Messages[len(req.Messages)-1].Content, index, at})
	}})
	srv.Enqueue(openroutertest.Script{Reasoning: []string{"hmm"}, Tokens: []string{"one ", "two ", "three"}})
	before := time.Now()
	body := `{"model":"a/b","messages":[{"role":"user","content":"count"}],"stream":true}`
	r := do(t, http.MethodPost, srv.URL()+"/chat/completions", srv.APIKey(), "application/json", body)
	data, _ := events(t, r.body)
	if len(data) != 7 { // reasoning, 3 content, finish, usage, [DONE]: the observer changes nothing
		t.Fatalf("the stream has %d data events, want 7: %q", len(data), data)
	}

	mu.Lock()
	first := append([]seen(nil), got...)
	mu.Unlock()
	if len(first) != 3 {
		t.Fatalf("OnContent was called %d times, want 3 (content chunks only): %+v", len(first), first)
	}
	for i, s := range first {
		if s.index != i || s.user != "count" {
			t.Errorf("call %d = %+v, want index %d for the request that said \"count\"", i, s, i)
		}
		if s.at.Before(before) || (i > 0 && s.at.Before(first[i-1].at)) {
			t.Errorf("call %d at %v is out of order", i, s.at)
		}
	}

	t.Run("not called for an error or a non-streamed answer", func(t *testing.T) {
		mu.Lock()
		got = nil
		mu.Unlock()
		srv.Enqueue(openroutertest.Script{Status: 503}, openroutertest.Script{Tokens: []string{"whole"}})
		do(t, http.MethodPost, srv.URL()+"/chat/completions", srv.APIKey(), "application/json", body)
		whole := do(t, http.MethodPost, srv.URL()+"/chat/completions", srv.APIKey(), "application/json",
			strings.Replace(body, `"stream":true`, `"stream":false`, 1))
		if !strings.Contains(whole.body, "whole") {
			t.Fatalf("non-streamed answer %q", whole.body)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 0 {
			t.Errorf("OnContent was called %d times", len(got))
		}
	})
}
