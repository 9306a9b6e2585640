package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

func TestMiddleware_StrangerIsRefusedOncePerHourAndCostsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		stranger := func(text string) {
			ev := event("c9", text)
			ev.User = "stranger"
			ev.ID = engine.EventID("e-" + text)
			h.e.HandleEvent(context.Background(), r, ev)
			h.settle()
		}
		stranger("hello")
		stranger("hello again")
		stranger("/model x")
		if msgs := r.Messages(); len(msgs) != 1 || !strings.Contains(msgs[0], "private bot") {
			t.Errorf("stranger got %q, want one refusal", msgs)
		}
		time.Sleep(time.Hour)
		stranger("an hour later")
		if n := len(r.Messages()); n != 2 {
			t.Errorf("refusals after an hour = %d, want 2", n)
		}
		if n := len(prov.Requests()); n != 0 {
			t.Errorf("provider requests = %d, want 0", n)
		}
		convs, _ := h.store.Conversations(context.Background(), "")
		if len(convs) != 0 {
			t.Errorf("stored conversations for a stranger: %+v", convs)
		}
		if seen, _ := h.store.MarkSeen(context.Background(), testPlatform, "e-hello", time.Hour); seen {
			t.Error("a stranger's event id was stored")
		}
	})
}

func TestMiddleware_RateLimitPerUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov, func(o *engine.Options) { o.Limits.RequestsPerMinute = 3 })
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		for i := 0; i < 5; i++ {
			h.send(r, "c1", "msg")
			h.settle()
		}
		if n := len(prov.Requests()); n != 3 {
			t.Errorf("provider requests = %d, want 3 (the limit)", n)
		}
		if !strings.Contains(strings.Join(r.Messages(), "\n"), "too fast") {
			t.Errorf("no rate-limit notice in %q", r.Messages())
		}
		time.Sleep(time.Minute)
		h.send(r, "c1", "later")
		h.settle()
		if n := len(prov.Requests()); n != 4 {
			t.Errorf("after a minute requests = %d, want 4", n)
		}
	})
}

func TestMiddleware_Validation(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "empty"},
		{"whitespace only", " \n\t ", "empty"},
		{"too long", strings.Repeat("é", 101), "limit is 100"},
		{"invalid utf-8", "bad \xff\xfe bytes", "not valid UTF-8"},
		{"only control characters", "\x00\x07\x1b", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				prov := enginetest.NewProvider()
				h := newHarness(t, testCaps(), prov, func(o *engine.Options) { o.Limits.MaxInputChars = 100 })
				defer h.close()
				r := enginetest.NewReplier(4096, engine.UTF16)
				h.send(r, "c1", tc.text)
				h.settle()
				if got := r.Last(); !strings.Contains(got, tc.want) {
					t.Errorf("reply %q, want it to contain %q", got, tc.want)
				}
				if n := len(prov.Requests()); n != 0 {
					t.Errorf("provider requests = %d, want 0", n)
				}
			})
		})
	}
	t.Run("control characters removed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider()
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "he\x00l\x1b[2Jlo\r\nworld\u2028")
			h.settle()
			reqs := prov.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests = %d", len(reqs))
			}
			msgs := reqs[0].Req.Messages
			if got := msgs[len(msgs)-1].Content; got != "hel[2Jlo\nworld" {
				t.Errorf("sent %q, want control characters removed", got)
			}
		})
	})
}

func TestMiddleware_RedeliveredEventIsAnsweredOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		ev := event("c1", "hello")
		ev.ID = "update-42"
		again := *ev
		h.e.HandleEvent(context.Background(), r, ev)
		h.settle()
		h.e.HandleEvent(context.Background(), r, &again)
		h.settle()
		if n := len(prov.Requests()); n != 1 {
			t.Errorf("provider requests = %d, want 1", n)
		}
		if n := len(r.Messages()); n != 1 {
			t.Errorf("replies = %d, want 1", n)
		}
	})
}

func TestMiddleware_RecoversFromPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testCaps(), enginetest.NewProvider())
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		r.Fault = func(c enginetest.Call) error {
			if c.Kind == enginetest.CallSend && strings.Contains(c.Msg.Text, "private") {
				panic("bridge bug")
			}
			return nil
		}
		ev := event("c1", "hi")
		ev.User = "stranger"
		h.e.HandleEvent(context.Background(), r, ev) // must not panic
		h.settle()
		h.send(r, "c1", "still alive?")
		h.settle()
		if got := r.Last(); got != "You said: still alive?" {
			t.Errorf("after a panic the bot answered %q", got)
		}
	})
}

func TestMiddleware_EventSeenUnderAnotherIDIsAnsweredOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		// The same Slack message as a message event and as an app_mention:
		// different event ids, one client message id.
		first := event("c1", "hello")
		first.ID, first.AltIDs = "Ev1", []engine.EventID{"msg-abc"}
		second := event("c1", "hello")
		second.ID, second.AltIDs = "Ev2", []engine.EventID{"msg-abc"}
		other := event("c1", "another")
		other.ID, other.AltIDs = "Ev3", []engine.EventID{"msg-def"}
		for _, ev := range []*engine.Event{first, second, other} {
			h.e.HandleEvent(context.Background(), r, ev)
			h.settle()
		}
		if n := len(prov.Requests()); n != 2 {
			t.Errorf("provider requests = %d, want 2 (the duplicate dropped, the new message answered)", n)
		}
	})
}

func TestDedupe_EventLostToACrashIsHandledOnRedelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		// The previous process marked the event on receipt and died before
		// storing the user's turn.
		if _, err := h.store.MarkSeen(context.Background(), testPlatform, "update-7", time.Hour); err != nil {
			t.Fatal(err)
		}
		r := enginetest.NewReplier(4096, engine.UTF16)
		ev := event("c1", "did you get this?")
		ev.ID = "update-7"
		h.e.HandleEvent(context.Background(), r, ev)
		h.settle()
		if got := r.Last(); got != "You said: did you get this?" {
			t.Errorf("the lost message got %q, want an answer", got)
		}
		// Now it was handled: one more delivery is a duplicate.
		again := event("c1", "did you get this?")
		again.ID = "update-7"
		h.e.HandleEvent(context.Background(), r, again)
		h.settle()
		if n := len(prov.Requests()); n != 1 {
			t.Errorf("provider requests = %d, want 1", n)
		}
	})
}

func TestDedupe_DuplicateWhileInFlightIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider(enginetest.Script{FirstDelay: 5 * time.Second, Deltas: []string{"slow"}},
			enginetest.Script{Deltas: []string{"first of the queue"}})
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		busy := event("c1", "keep the worker busy")
		busy.ID = "u-1"
		h.e.HandleEvent(context.Background(), r, busy)
		queued := event("c1", "queued")
		queued.ID = "u-2"
		h.e.HandleEvent(context.Background(), r, queued)
		dup := event("c1", "queued")
		dup.ID = "u-2" // Slack retries an event not yet answered
		h.e.HandleEvent(context.Background(), r, dup)
		h.settle()
		if n := len(prov.Requests()); n != 2 {
			t.Errorf("provider requests = %d, want 2 (the retry of a queued event dropped)", n)
		}
	})
}

// TestDedupe_TurnThatCouldNotStartIsAnsweredOnRedelivery: when the store
// fails before the user's turn is stored, the user is told, and the same
// event delivered again once the store works is answered (it was neither
// marked handled nor left in the in-flight set).
func TestDedupe_TurnThatCouldNotStartIsAnsweredOnRedelivery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		ev := event("c1", "hello")
		ev.ID = "upd-1"
		h.store.FailWith(errors.New("disk on fire"))
		h.e.HandleEvent(context.Background(), r, ev)
		h.settle()
		if got := r.Last(); !strings.Contains(got, "not answered") {
			t.Fatalf("the failed turn shows %q", got)
		}
		h.store.FailWith(nil)
		again := *ev
		h.e.HandleEvent(context.Background(), r, &again)
		h.settle()
		if n := len(prov.Requests()); n != 1 || r.Last() != "You said: hello" {
			t.Errorf("after the redelivery: %d requests, shown %q; want it answered", n, r.Last())
		}
	})
}
