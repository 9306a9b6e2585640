package engine_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

func TestTitle_AfterTheFirstExchange(t *testing.T) {
	const question = "What should I see in Paris in three days, with kids, on a budget?"
	answer := enginetest.Script{Deltas: []string{"Start with the Louvre."}, Usage: engine.Usage{TotalTokens: 100, Cost: 0.01}}
	cases := []struct {
		name      string
		autoTitle bool
		scripts   []enginetest.Script
		limits    engine.Limits
		want      string
		requests  int
		cost      float64
	}{
		{"from the first message", false, []enginetest.Script{answer}, engine.Limits{},
			"What should I see in Paris in three days, with kids, on a…", 1, 0.01},
		{"from the model, its cost counted", true, []enginetest.Script{answer,
			{Deltas: []string{"\"Paris with kids.\""}, Usage: engine.Usage{TotalTokens: 30, Cost: 0.0005}}}, engine.Limits{},
			"Paris with kids", 2, 0.0105},
		{"the model fails: the first message", true, []enginetest.Script{answer,
			{Err: &engine.ProviderError{Kind: engine.ErrUnavailable, Status: 503}}}, engine.Limits{},
			"What should I see in Paris in three days, with kids, on a…", 2, 0.01},
		{"a spending cap is reached: no call", true, []enginetest.Script{answer}, engine.Limits{DailyCostUSD: 0.01},
			"What should I see in Paris in three days, with kids, on a…", 1, 0.01},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				prov := enginetest.NewProvider(c.scripts...)
				h := newHarness(t, testCaps(), prov, func(o *engine.Options) { o.AutoTitle = c.autoTitle; o.Limits = c.limits })
				defer h.close()
				r := enginetest.NewReplier(4096, engine.UTF16)
				h.send(r, "c1", question)
				h.settle()
				if got := h.command("/title"); got != "Title: "+c.want {
					t.Errorf("/title = %q, want %q", got, "Title: "+c.want)
				}
				reqs := prov.Requests()
				if len(reqs) != c.requests {
					t.Fatalf("requests = %d, want %d", len(reqs), c.requests)
				}
				if c.requests == 2 {
					tr := reqs[1].Req
					if tr.MaxTokens > 32 || tr.Model != "openai/gpt-4o-mini" || !strings.Contains(tr.Messages[len(tr.Messages)-1].Content, "Louvre") {
						t.Errorf("title request = %+v, want a short call on the conversation's model with the exchange", tr)
					}
				}
				day, err := h.store.UsageOn(context.Background(), time.Now().UTC().Format(time.DateOnly), "")
				if err != nil {
					t.Fatal(err)
				}
				if diff := day.Cost - c.cost; diff > 1e-9 || diff < -1e-9 {
					t.Errorf("today's cost = %v, want %v", day.Cost, c.cost)
				}
				// The second exchange keeps the title.
				h.send(r, "c1", "And on day two?")
				h.settle()
				if got := h.command("/title"); got != "Title: "+c.want {
					t.Errorf("/title after a second exchange = %q", got)
				}
			})
		})
	}
}
