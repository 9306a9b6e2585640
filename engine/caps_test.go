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

func TestCaps_RefusedBeforeTheRequest(t *testing.T) {
	costly := enginetest.Script{Deltas: []string{"answer"}, Usage: engine.Usage{PromptTokens: 10, CompletionTokens: 10, TotalTokens: 20, Cost: 0.006}}
	cases := []struct {
		name   string
		limits engine.Limits
		want   string
	}{
		{"daily", engine.Limits{DailyCostUSD: 0.01}, "daily spending cap ($0.01, limits.daily_cost_usd) is reached"},
		{"monthly", engine.Limits{MonthlyCostUSD: 0.01}, "monthly spending cap ($0.01, limits.monthly_cost_usd) is reached"},
		{"per user", engine.Limits{PerUserDailyCostUSD: 0.01}, "Your daily spending cap ($0.01, limits.per_user_daily_cost_usd)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				prov := enginetest.NewProvider(costly, costly, costly)
				h := newHarness(t, testCaps(), prov, func(o *engine.Options) { o.Limits = c.limits })
				defer h.close()
				r := enginetest.NewReplier(4096, engine.UTF16)
				h.send(r, "c1", "one")
				h.settle()
				h.send(r, "c1", "two")
				h.settle()
				if n := len(prov.Requests()); n != 2 {
					t.Fatalf("requests = %d before the cap, want 2", n)
				}
				h.send(r, "c1", "three")
				h.settle()
				if n := len(prov.Requests()); n != 2 {
					t.Errorf("requests = %d: the capped turn reached the model", n)
				}
				got := r.Last()
				if !strings.Contains(got, c.want) || !strings.Contains(got, "resets") {
					t.Errorf("refusal = %q, want %q and when it resets", got, c.want)
				}
				if status := h.command("/status"); c.name != "per user" && !strings.Contains(status, "Spending:") {
					t.Errorf("/status shows no spending against the caps: %q", status)
				}
				// A new day lifts the daily caps; only a new month lifts
				// the monthly one.
				if c.name == "monthly" {
					time.Sleep(25 * time.Hour)
					h.send(r, "c1", "tomorrow")
					h.settle()
					if n := len(prov.Requests()); n != 2 {
						t.Errorf("requests = %d the next day, want the monthly cap still holding", n)
					}
					time.Sleep(31 * 24 * time.Hour)
				} else {
					time.Sleep(25 * time.Hour)
				}
				h.send(r, "c1", "later")
				h.settle()
				if n := len(prov.Requests()); n != 3 {
					t.Errorf("requests = %d after the reset, want the cap lifted", n)
				}
			})
		})
	}
}

func TestCaps_OtherUsersUnaffectedByAPerUserCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		costly := enginetest.Script{Deltas: []string{"answer"}, Usage: engine.Usage{TotalTokens: 20, Cost: 0.02}}
		prov := enginetest.NewProvider(costly, costly)
		h := newHarness(t, testCaps(), prov, func(o *engine.Options) {
			o.Limits = engine.Limits{PerUserDailyCostUSD: 0.01}
			o.Access[testPlatform] = engine.Access{Allowed: []engine.UserID{"u1", "u2"}}
		})
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		h.send(r, "c1", "spend")
		h.settle()
		other := event("c2", "my turn")
		other.User = "u2"
		h.e.HandleEvent(context.Background(), r, other)
		h.settle()
		if n := len(prov.Requests()); n != 2 {
			t.Errorf("requests = %d, want the other user served", n)
		}
	})
}
