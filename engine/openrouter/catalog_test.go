package openrouter_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/openrouter"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

func countPath(srv *openroutertest.Server, path string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func TestModels_Parse(t *testing.T) {
	srv, c := newPair(t, openrouter.Options{})
	models, err := c.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(models))
	for i, m := range models {
		ids[i] = m.ID
	}
	want := []string{"anthropic/claude-3.5-sonnet", "google/gemini-flash-1.5", "meta-llama/llama-3.1-8b-instruct", "openai/gpt-4o", "openai/gpt-4o-mini"}
	if len(ids) != len(want) {
		t.Fatalf("ids %q", ids)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("ids %q, want sorted %q", ids, want)
		}
	}
	sonnet := models[0]
	if sonnet.Name != "Anthropic: Claude 3.5 Sonnet" || sonnet.ContextLength != 200000 ||
		sonnet.PromptPrice != 0.000003 || sonnet.CompletionPrice != 0.000015 {
		t.Errorf("sonnet %+v", sonnet)
	}
	if r := srv.Requests()[0]; r.Method != "GET" || r.Header.Get("Authorization") != "Bearer "+srv.APIKey() {
		t.Errorf("request %s %v", r.Method, r.Header)
	}
}

func TestModels_Pricing(t *testing.T) {
	srv, c := newPair(t, openrouter.Options{})
	srv.SetModels([]openroutertest.Model{
		{ID: "a/free", ContextLength: 8192, PromptPrice: "0", CompletionPrice: "0"},
		{ID: "openrouter/auto", ContextLength: 2000000, PromptPrice: "-1", CompletionPrice: "-1"},
		{ID: "b/odd", PromptPrice: "n/a", CompletionPrice: "1e-7"},
		{ID: ""}, // skipped
	})
	models, err := c.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]engine.ModelInfo{}
	for _, m := range models {
		got[m.ID] = m
	}
	if len(models) != 3 {
		t.Fatalf("models %+v", models)
	}
	if m := got["a/free"]; m.PromptPrice != 0 || m.CompletionPrice != 0 || m.Name != "a/free" {
		t.Errorf("free %+v", m)
	}
	if m := got["openrouter/auto"]; m.PromptPrice != -1 {
		t.Errorf("auto %+v", m)
	}
	if m := got["b/odd"]; m.PromptPrice != 0 || m.CompletionPrice != 1e-7 {
		t.Errorf("odd %+v", m)
	}
}

func TestModels_Cache(t *testing.T) {
	t.Run("second call makes no request", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{})
		first, err := c.Models(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		first[0].ID = "mutated by the caller"
		second, err := c.Models(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n := countPath(srv, "/api/v1/models"); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
		if second[0].ID == "mutated by the caller" {
			t.Error("the cache shares its slice with callers")
		}
	})
	t.Run("concurrent callers share one fetch", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if m, err := c.Models(context.Background()); err != nil || len(m) != 5 {
					t.Errorf("Models: %d, %v", len(m), err)
				}
			})
		}
		wg.Wait()
		if n := countPath(srv, "/api/v1/models"); n > 2 { // callers that come after the fetch hit the cache
			t.Errorf("%d fetches for 8 concurrent callers", n)
		}
	})
	t.Run("expired cache is refetched", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{CatalogTTL: time.Millisecond})
		if _, err := c.Models(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		srv.SetModels([]openroutertest.Model{{ID: "new/model"}})
		models, err := c.Models(context.Background())
		if err != nil || len(models) != 1 || models[0].ID != "new/model" {
			t.Fatalf("got %+v, %v", models, err)
		}
	})
	t.Run("stale cache on fetch error", func(t *testing.T) {
		srv := openroutertest.NewServer(openroutertest.Options{})
		c := openrouter.New(openrouter.Options{BaseURL: srv.URL(), APIKey: srv.APIKey(), CatalogTTL: time.Millisecond})
		t.Cleanup(c.CloseIdleConnections)
		if _, err := c.Models(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		time.Sleep(5 * time.Millisecond)
		models, err := c.Models(context.Background())
		if err != nil || len(models) != 5 {
			t.Fatalf("got %d models, %v; want the stale catalogue", len(models), err)
		}
	})
	t.Run("fetch error without cache", func(t *testing.T) {
		srv := openroutertest.NewServer(openroutertest.Options{})
		srv.Close()
		c := openrouter.New(openrouter.Options{BaseURL: srv.URL(), APIKey: "k"})
		_, err := c.Models(context.Background())
		if pe, ok := engine.AsProviderError(err); !ok || pe.Kind != engine.ErrUnavailable {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("cancelled caller returns at once", func(t *testing.T) {
		_, c := newPair(t, openrouter.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.Models(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		// The shared fetch still completes for later callers.
		if m, err := c.Models(context.Background()); err != nil || len(m) != 5 {
			t.Fatalf("got %d models, %v", len(m), err)
		}
	})
}

func TestKey_Info(t *testing.T) {
	t.Run("unlimited", func(t *testing.T) {
		_, c := newPair(t, openrouter.Options{})
		k, err := c.Key(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if k.Label != "sk-or-v1-fak...test" || k.Limit != nil || k.LimitRemaining != nil || k.Usage != 0.5 || k.IsFreeTier {
			t.Errorf("key %+v", k)
		}
	})
	t.Run("limited free tier", func(t *testing.T) {
		srv, c := newPair(t, openrouter.Options{})
		limit, remaining := 10.0, 2.5
		srv.SetKeyInfo(openroutertest.KeyInfo{Label: "mine", Limit: &limit, LimitRemaining: &remaining, Usage: 7.5, IsFreeTier: true})
		k, err := c.Key(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if k.Label != "mine" || k.Limit == nil || *k.Limit != 10 || k.LimitRemaining == nil || *k.LimitRemaining != 2.5 ||
			k.Usage != 7.5 || !k.IsFreeTier {
			t.Errorf("key %+v", k)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		_, c := newPair(t, openrouter.Options{APIKey: "wrong"})
		_, err := c.Key(context.Background())
		if pe, ok := engine.AsProviderError(err); !ok || pe.Kind != engine.ErrKeyRejected || pe.Status != 401 {
			t.Fatalf("err = %v, want ErrKeyRejected 401", err)
		}
	})
}
