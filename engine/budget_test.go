package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

// TestBudget_TypingNeverDelaysText: when the bridge-wide budget is short,
// the typing indicator is skipped rather than queued, and never takes the
// token a first text needs, so the chats' first texts go out as fast as
// the budget allows. Without that, each chat's typing call would take a
// token first and the third chat's text would come two intervals later.
func TestBudget_TypingNeverDelaysText(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps := testCaps()
		caps.BridgeBudget = engine.RateSpec{Every: time.Second, Burst: 3} // the engine sends 2 at once, then 1/s
		script := enginetest.Script{FirstDelay: 100 * time.Millisecond, Deltas: []string{"hello"}}
		prov := enginetest.NewProvider(script, script, script)
		h := newHarness(t, caps, prov)
		defer h.close()
		start := time.Now()
		var rs []*enginetest.Replier
		for i := range 3 {
			r := enginetest.NewReplier(4096, engine.UTF16)
			rs = append(rs, r)
			h.send(r, engine.ChatID(fmt.Sprint("c", i)), "hi")
		}
		h.settle()
		typing := 0
		var firstTexts []time.Duration
		for _, r := range rs {
			for _, c := range r.Calls() {
				if c.Kind == enginetest.CallTyping {
					typing++
				}
			}
			sends := calls(r, enginetest.CallSend)
			if len(sends) == 0 {
				t.Fatal("a chat got no reply")
			}
			firstTexts = append(firstTexts, sends[0].At.Sub(start))
		}
		if typing != 1 {
			t.Errorf("typing indicators = %d, want 1 (the one token to spare)", typing)
		}
		slices.Sort(firstTexts)
		for i, at := range firstTexts {
			if at > time.Duration(i+1)*time.Second+200*time.Millisecond {
				t.Errorf("first texts at %v: the %d. came after +%v; typing held it back", firstTexts, i+1, time.Duration(i+1)*time.Second)
			}
		}
	})
}

// TestBudget_OneTokenInReserve: a chat budget of 3 at once sends 2 at
// once, so calls that arrive at the platform with some jitter still find
// a token in its bucket.
func TestBudget_OneTokenInReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps := testCaps()
		caps.MinEditInterval = 0
		caps.TypingInterval = 0
		caps.ChatBudget = engine.RateSpec{Every: time.Second, Burst: 3}
		prov := enginetest.NewProvider(enginetest.Script{Delay: 300 * time.Millisecond, Deltas: enginetest.Words(8, "w")})
		h := newHarness(t, caps, prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		start := time.Now()
		h.send(r, "c1", "hi")
		h.settle()
		all := calls(r, enginetest.CallTyping, enginetest.CallSend, enginetest.CallEdit)
		if len(all) < 3 {
			t.Fatalf("calls = %d, want at least 3", len(all))
		}
		at := func(i int) time.Duration { return all[i].At.Sub(start) }
		if at(1) >= time.Second || at(2) < time.Second {
			t.Errorf("calls at +%v, +%v, +%v: want two at once, the third a second later", at(0), at(1), at(2))
		}
	})
}

// TestBudget_LongFastReplyIsShownWhole: a reply generated faster than the
// chat's budget lets it be shown still arrives whole, however many
// messages it takes after the model has finished.
func TestBudget_LongFastReplyIsShownWhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps := testCaps()
		caps.MaxLen = 200
		caps.ChatBudget = engine.RateSpec{Every: 2 * time.Second, Burst: 1}
		long := strings.Repeat("Twenty characters.. ", 150) // 3,000 characters: 15+ messages, 30+ s
		prov := enginetest.NewProvider(enginetest.Script{Deltas: strings.SplitAfter(long, " ")})
		h := newHarness(t, caps, prov)
		defer h.close()
		r := enginetest.NewReplier(200, engine.UTF16)
		h.send(r, "c1", "go")
		h.settle()
		got := strings.Join(strings.Fields(strings.Join(r.Messages(), " ")), " ")
		if want := strings.Join(strings.Fields(long), " "); got != want {
			t.Errorf("shown %d of %d characters in %d messages", len(got), len(want), len(r.Messages()))
		}
	})
}

// TestBudget_QueuedFinalEditsAreNotGivenUp: when many replies wait for a
// short bot-wide budget, their final edits wait as long as it takes
// (here about a minute, far past the final timeout) instead of leaving
// the replies cut short.
func TestBudget_QueuedFinalEditsAreNotGivenUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps := testCaps()
		caps.BridgeBudget = engine.RateSpec{Every: time.Second, Burst: 2}
		const chats = 30
		var scripts []enginetest.Script
		for range chats {
			scripts = append(scripts, enginetest.Script{Delay: 200 * time.Millisecond, Deltas: []string{"the ", "whole ", "answer"}})
		}
		h := newHarness(t, caps, enginetest.NewProvider(scripts...))
		defer h.close()
		var rs []*enginetest.Replier
		for i := range chats {
			r := enginetest.NewReplier(4096, engine.UTF16)
			rs = append(rs, r)
			h.send(r, engine.ChatID(fmt.Sprint("c", i)), "hi")
		}
		start := time.Now()
		h.settle()
		cut := 0
		for _, r := range rs {
			if r.Last() != "the whole answer" {
				cut++
			}
		}
		if cut > 0 {
			t.Errorf("%d of %d replies left cut short after %v", cut, chats, time.Since(start))
		}
	})
}

// TestBudget_GlobalRateLimitPausesEveryChat: a 429 marked Global (Discord's
// global limit) holds back every chat of the bridge, not only the one
// whose call got it.
func TestBudget_GlobalRateLimitPausesEveryChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		script := enginetest.Script{FirstDelay: time.Second, Deltas: []string{"hello"}}
		h := newHarness(t, testCaps(), enginetest.NewProvider(script, script))
		defer h.close()
		first := enginetest.NewReplier(4096, engine.UTF16)
		var limitedAt time.Time
		first.Fault = func(c enginetest.Call) error {
			if c.Kind == enginetest.CallSend && limitedAt.IsZero() {
				limitedAt = time.Now()
				return &engine.RateLimitError{RetryAfter: 5 * time.Second, Global: true}
			}
			return nil
		}
		other := enginetest.NewReplier(4096, engine.UTF16)
		h.send(first, "c1", "hi")
		time.Sleep(1500 * time.Millisecond) // c1's send has hit the limit
		h.send(other, "c2", "hi")
		h.settle()
		sends := calls(other, enginetest.CallSend)
		if limitedAt.IsZero() || len(sends) == 0 {
			t.Fatal("no global 429, or no reply in the other chat")
		}
		if gap := sends[0].At.Sub(limitedAt); gap < 5*time.Second {
			t.Errorf("the other chat sent %v after a global 429 of 5s", gap)
		}
	})
}
