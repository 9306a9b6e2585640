package engine_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
	"github.com/chatbridge/chatbridge/engine/health"
)

const testPlatform engine.Platform = "test"

// fakeBridge registers caps for the test platform.
type fakeBridge struct {
	caps engine.Caps
}

func (b *fakeBridge) Name() engine.Platform { return testPlatform }
func (b *fakeBridge) Caps() engine.Caps     { return b.caps }
func (b *fakeBridge) Run(ctx context.Context, h engine.Handler) error {
	<-ctx.Done()
	return nil
}

type openerBridge struct {
	fakeBridge
	r      engine.Replier
	byChat map[engine.ChatID]engine.Replier
}

func (b *openerBridge) ReplierFor(chat engine.ChatID, _ engine.ThreadID) engine.Replier {
	if r, ok := b.byChat[chat]; ok {
		return r
	}
	return b.r
}

// testCaps are like a private Telegram chat: 1 edit/s, 4096 UTF-16 units.
func testCaps() engine.Caps {
	return engine.Caps{
		MaxLen: 4096, LenUnit: engine.UTF16, CanEdit: true,
		MinEditInterval: time.Second,
		TypingInterval:  4 * time.Second,
		Dialect:         engine.DialectMarkdown,
	}
}

type harness struct {
	t     *testing.T
	e     *engine.Engine
	store *enginetest.MemStore
	prov  *enginetest.Provider
}

type option func(*engine.Options)

func newHarness(t *testing.T, caps engine.Caps, prov *enginetest.Provider, opts ...option) *harness {
	t.Helper()
	st := enginetest.NewMemStore()
	o := engine.Options{
		Provider: prov,
		Store:    st,
		Health:   health.NewTracker(),
		Defaults: engine.Settings{Model: "openai/gpt-4o-mini", Temperature: 0.7, MaxTokens: 1024,
			SystemPrompt: "Be brief.", Streaming: true},
		MaxRetries: 3,
		Access: map[engine.Platform]engine.Access{
			testPlatform: {Allowed: []engine.UserID{"u1"}, Owners: []engine.UserID{"u1"}},
		},
		ErrorDetails: true,
	}
	for _, f := range opts {
		f(&o)
	}
	e, err := engine.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.Register(&fakeBridge{caps: caps})
	return &harness{t: t, e: e, store: st, prov: prov}
}

var evSeq int

func event(chat engine.ChatID, text string) *engine.Event {
	evSeq++
	ev := &engine.Event{Platform: testPlatform, Chat: chat, User: "u1", Private: true, Text: text, Time: time.Now()}
	if strings.HasPrefix(text, "/") {
		name, args, _ := strings.Cut(text[1:], " ")
		ev.Command, ev.Text = name, args
	}
	return ev
}

// send hands an event to the engine as a bridge would.
func (h *harness) send(r engine.Replier, chat engine.ChatID, text string) {
	h.e.HandleEvent(context.Background(), r, event(chat, text))
}

// settle lets fake time run until every conversation is idle.
func (h *harness) settle() {
	h.t.Helper()
	for i := 0; i < 100000; i++ {
		synctest.Wait()
		if h.e.Idle() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatal("engine never became idle")
}

func (h *harness) close() {
	h.e.Shutdown(context.Background())
}

func calls(r *enginetest.Replier, kinds ...enginetest.CallKind) []enginetest.Call {
	var out []enginetest.Call
	for _, c := range r.Calls() {
		for _, k := range kinds {
			if c.Kind == k && c.Err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func TestStream_EditsCoalesceAtTheMinInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		deltas := enginetest.Words(50, "word")
		prov := enginetest.NewProvider(enginetest.Script{FirstDelay: 2 * time.Second, Delay: 100 * time.Millisecond, Deltas: deltas})
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		start := time.Now()
		h.send(r, "c1", "hello")
		h.settle()

		sends := calls(r, enginetest.CallSend)
		if len(sends) != 1 {
			t.Fatalf("sends = %d, want 1", len(sends))
		}
		// The first text is shown the moment the first token arrives.
		if got := sends[0].At.Sub(start); got != 2*time.Second {
			t.Errorf("first text shown after %s, want exactly 2s (the first token)", got)
		}
		edits := calls(r, enginetest.CallEdit)
		prev := sends[0].At
		for _, c := range edits {
			if gap := c.At.Sub(prev); gap < time.Second {
				t.Errorf("edit %s after the previous one, want >= 1s", gap)
			}
			prev = c.At
		}
		// 4.9 s of tokens at one edit a second: a handful of edits, not 49.
		if len(edits) < 3 || len(edits) > 7 {
			t.Errorf("edits = %d, want about 5 (coalesced)", len(edits))
		}
		if got, want := r.Last(), strings.Join(deltas, ""); got != want {
			t.Errorf("final text = %q, want %q", got, want)
		}
		typing := calls(r, enginetest.CallTyping)
		if len(typing) == 0 || typing[0].At != start {
			t.Errorf("typing = %v, want one at the start", typing)
		}
		for _, c := range typing {
			if c.At.After(sends[0].At) {
				t.Errorf("typing at %s after the first text", c.At.Sub(start))
			}
		}
	})
}

func TestStream_ChatBudgetSharedByEveryCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps := testCaps()
		caps.MinEditInterval = 0
		caps.ChatBudget = engine.RateSpec{Every: 3 * time.Second, Burst: 1}
		caps.TypingInterval = time.Second
		prov := enginetest.NewProvider(enginetest.Script{FirstDelay: 5 * time.Second, Delay: 200 * time.Millisecond, Deltas: enginetest.Words(60, "x")})
		h := newHarness(t, caps, prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		h.send(r, "c1", "hi")
		h.settle()
		all := calls(r, enginetest.CallTyping, enginetest.CallSend, enginetest.CallEdit)
		if len(all) < 4 {
			t.Fatalf("calls = %d, want several", len(all))
		}
		for i := 1; i < len(all); i++ {
			if gap := all[i].At.Sub(all[i-1].At); gap < 3*time.Second {
				t.Errorf("call %d (%s) came %s after the previous, want >= 3s (chat budget)", i, all[i].Kind, gap)
			}
		}
		if got, want := r.Last(), strings.Repeat("x ", 60); got != want {
			t.Errorf("final text = %q, want %q", got, want)
		}
	})
}

func TestStream_RateLimitPausesTheChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider(enginetest.Script{Delay: 300 * time.Millisecond, Deltas: enginetest.Words(40, "tok")})
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		var limitedAt time.Time
		edits := 0
		r.Fault = func(c enginetest.Call) error {
			if c.Kind == enginetest.CallEdit {
				edits++
				if edits == 2 {
					limitedAt = time.Now()
					return &engine.RateLimitError{RetryAfter: 7 * time.Second, Err: errors.New("429")}
				}
			}
			return nil
		}
		h.send(r, "c1", "hi")
		h.settle()
		if limitedAt.IsZero() {
			t.Fatal("the fault never fired")
		}
		for _, c := range r.Calls() {
			if c.At.After(limitedAt) && c.At.Before(limitedAt.Add(7*time.Second)) {
				t.Errorf("%s call %s after the 429, want none before retry_after (7s)", c.Kind, c.At.Sub(limitedAt))
			}
		}
		if got, want := r.Last(), strings.Repeat("tok ", 40); got != want {
			t.Errorf("final text = %q, want %q", got, want)
		}
	})
}

func TestStream_NotModifiedIsSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider(enginetest.Script{Delay: 2 * time.Second, Deltas: []string{"a", "b", "c"}})
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		r.Fault = func(c enginetest.Call) error {
			if c.Kind == enginetest.CallEdit && c.Msg.Text == "ab" {
				return engine.ErrNotModified
			}
			return nil
		}
		h.send(r, "c1", "hi")
		h.settle()
		if got := r.Last(); got != "abc" {
			t.Errorf("final = %q, want abc", got)
		}
		if strings.Contains(r.Last(), "⚠️") {
			t.Errorf("not modified was treated as a failure: %q", r.Last())
		}
	})
}

func TestStream_TooLongSplitsSmaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		text := strings.Repeat("The quick brown fox jumps. ", 40) // 1080 chars
		prov := enginetest.NewProvider(enginetest.Script{Deltas: []string{text}})
		caps := testCaps()
		caps.MaxLen = 1000
		h := newHarness(t, caps, prov)
		defer h.close()
		// The platform counts longer than the caps say (entities, escapes).
		r := enginetest.NewReplier(600, engine.UTF16)
		h.send(r, "c1", "hi")
		h.settle()
		msgs := r.Messages()
		for i, m := range msgs {
			if len(m) > 600 {
				t.Errorf("message %d is %d long, want <= 600", i, len(m))
			}
		}
		if got := engine.JoinParts(msgs); got != text {
			t.Errorf("joined messages differ from the reply:\n got %q\nwant %q", got, text)
		}
	})
}

// longReply builds a reply of about n characters with paragraphs, long
// lines, code blocks (one longer than a message), emoji and CJK.
func longReply(n int) string {
	var b strings.Builder
	i := 0
	for b.Len() < n {
		switch i % 5 {
		case 0:
			b.WriteString("Here is a paragraph about streaming replies. It has sentences! Does it? Yes. 😀\n\n")
		case 1:
			b.WriteString("```go\nfunc main() {\n\tfmt.Println(\"hello, 世界\")\n}\n```\n\n")
		case 2:
			b.WriteString(strings.Repeat("long line without breaks ", 30) + "\n")
		case 3:
			b.WriteString("```python\n" + strings.Repeat("print('a line of code in a very long block')\n", 120) + "```\n\n")
		case 4:
			b.WriteString("漢字とかなの文章です。これは日本語の文です。😀🎉\n\n")
		}
		i++
	}
	return b.String()
}

func TestStream_LongReplySplitsWithoutLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int
		unit engine.LenUnit
	}{
		{"telegram 4096 utf16", 4096, engine.UTF16},
		{"discord 2000 runes", 2000, engine.Runes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				reply := longReply(20000)
				chunks := make([]string, 0, len(reply)/50+1)
				for s := reply; s != ""; {
					n := min(50, len(s))
					for n < len(s) && !isBoundary(s, n) {
						n++
					}
					chunks = append(chunks, s[:n])
					s = s[n:]
				}
				prov := enginetest.NewProvider(enginetest.Script{Delay: 20 * time.Millisecond, Deltas: chunks})
				caps := testCaps()
				caps.MaxLen, caps.LenUnit = tc.max, tc.unit
				h := newHarness(t, caps, prov)
				defer h.close()
				r := enginetest.NewReplier(tc.max, tc.unit)
				h.send(r, "c1", "write a lot")
				h.settle()
				msgs := r.Messages()
				if len(msgs) < 2 {
					t.Fatalf("messages = %d, want several", len(msgs))
				}
				for i, m := range msgs {
					if n := tc.unit.Len(m); n > tc.max {
						t.Errorf("message %d measures %d, want <= %d", i, n, tc.max)
					}
					if !engine.FencesBalanced(m) {
						t.Errorf("message %d has unbalanced code fences", i)
					}
				}
				if got := engine.JoinParts(msgs); got != reply {
					t.Errorf("joined messages differ from the reply (len %d vs %d)", len(got), len(reply))
				}
			})
		})
	}
}

func isBoundary(s string, i int) bool { return i >= len(s) || s[i]&0xC0 != 0x80 }

func TestStream_Drafts(t *testing.T) {
	t.Run("drafts while streaming, then one message", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(enginetest.Script{Delay: 300 * time.Millisecond, Deltas: enginetest.Words(20, "d")})
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := &enginetest.DraftReplier{Replier: enginetest.NewReplier(4096, engine.UTF16)}
			h.send(r, "c1", "hi")
			h.settle()
			drafts := calls(r.Replier, enginetest.CallDraft)
			if len(drafts) < 3 {
				t.Fatalf("drafts = %d, want several", len(drafts))
			}
			for i := 1; i < len(drafts); i++ {
				if gap := drafts[i].At.Sub(drafts[i-1].At); gap < time.Second {
					t.Errorf("draft %d came %s after the previous, want >= 1s", i, gap)
				}
			}
			sends := calls(r.Replier, enginetest.CallSend)
			if len(sends) != 1 || sends[0].At.Before(drafts[len(drafts)-1].At) {
				t.Errorf("sends = %+v, want one message after the drafts", sends)
			}
			if n := len(calls(r.Replier, enginetest.CallEdit)); n != 0 {
				t.Errorf("edits = %d, want none in draft mode", n)
			}
			if got, want := r.Last(), strings.Repeat("d ", 20); got != want {
				t.Errorf("final = %q, want %q", got, want)
			}
		})
	})
	t.Run("a failing draft falls back to edits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(enginetest.Script{Delay: 300 * time.Millisecond, Deltas: enginetest.Words(20, "e")})
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := &enginetest.DraftReplier{Replier: enginetest.NewReplier(4096, engine.UTF16),
				DraftErr: errors.New("Bad Request: TEXTDRAFT_PEER_INVALID")}
			h.send(r, "c1", "hi")
			h.settle()
			if n := len(r.Calls()); n == 0 {
				t.Fatal("no calls")
			}
			if n := len(calls(r.Replier, enginetest.CallEdit)); n == 0 {
				t.Error("no edits after the draft failed")
			}
			if got, want := r.Last(), strings.Repeat("e ", 20); got != want {
				t.Errorf("final = %q, want %q", got, want)
			}
		})
	})
}

func TestStream_GroupChatsUseGroupCaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps := testCaps()
		caps.GroupMinEditInterval = 3 * time.Second
		prov := enginetest.NewProvider(enginetest.Script{Delay: 200 * time.Millisecond, Deltas: enginetest.Words(60, "g")})
		h := newHarness(t, caps, prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		ev := event("g1", "hi")
		ev.Private = false
		h.e.HandleEvent(context.Background(), r, ev)
		h.settle()
		all := calls(r, enginetest.CallSend, enginetest.CallEdit)
		for i := 1; i < len(all); i++ {
			if gap := all[i].At.Sub(all[i-1].At); gap < 3*time.Second {
				t.Errorf("group edit %s after the previous, want >= 3s", gap)
			}
		}
		if got, want := r.Last(), strings.Repeat("g ", 60); got != want {
			t.Errorf("final = %q", got)
		}
	})
}

func TestStream_EditBudgetSharedAcrossChats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps := testCaps()
		caps.MinEditInterval = 0
		caps.EditBudget = engine.RateSpec{Every: 2 * time.Second, Burst: 1}
		prov := enginetest.NewProvider(
			enginetest.Script{Delay: 100 * time.Millisecond, Deltas: enginetest.Words(100, "a")},
			enginetest.Script{Delay: 100 * time.Millisecond, Deltas: enginetest.Words(100, "b")},
		)
		h := newHarness(t, caps, prov)
		defer h.close()
		r1 := enginetest.NewReplier(4096, engine.UTF16)
		r2 := enginetest.NewReplier(4096, engine.UTF16)
		h.send(r1, "c1", "hi")
		h.send(r2, "c2", "hi")
		h.settle()
		var edits []time.Time
		for _, r := range []*enginetest.Replier{r1, r2} {
			for _, c := range calls(r, enginetest.CallEdit) {
				edits = append(edits, c.At)
			}
		}
		slices.SortFunc(edits, func(a, b time.Time) int { return a.Compare(b) })
		if len(edits) < 4 {
			t.Fatalf("edits = %d, want several", len(edits))
		}
		for i := 1; i < len(edits); i++ {
			if gap := edits[i].Sub(edits[i-1]); gap < 2*time.Second {
				t.Errorf("edit %d came %s after another chat's or its own, want >= 2s (one edit budget for the bridge)", i, gap)
			}
		}
		a, b := strings.Repeat("a ", 100), strings.Repeat("b ", 100)
		if got := []string{r1.Last(), r2.Last()}; !(got[0] == a && got[1] == b || got[0] == b && got[1] == a) {
			t.Errorf("final texts = %q, want one whole reply in each chat", got)
		}
	})
}

func TestStream_EditRateLimitPausesEveryChatsEdits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caps := testCaps()
		caps.EditBudget = engine.RateSpec{Every: 100 * time.Millisecond, Burst: 1}
		prov := enginetest.NewProvider(
			enginetest.Script{Delay: 300 * time.Millisecond, Deltas: enginetest.Words(40, "a")},
			enginetest.Script{Delay: 300 * time.Millisecond, Deltas: enginetest.Words(40, "b")},
		)
		h := newHarness(t, caps, prov)
		defer h.close()
		r1 := enginetest.NewReplier(4096, engine.UTF16)
		r2 := enginetest.NewReplier(4096, engine.UTF16)
		var limitedAt time.Time
		n := 0
		r1.Fault = func(c enginetest.Call) error {
			if c.Kind == enginetest.CallEdit {
				if n++; n == 2 {
					limitedAt = time.Now()
					return &engine.RateLimitError{RetryAfter: 5 * time.Second, Err: errors.New("429")}
				}
			}
			return nil
		}
		h.send(r1, "c1", "hi")
		h.send(r2, "c2", "hi")
		h.settle()
		if limitedAt.IsZero() {
			t.Fatal("the fault never fired")
		}
		for _, c := range calls(r2, enginetest.CallEdit) {
			if c.At.After(limitedAt) && c.At.Before(limitedAt.Add(5*time.Second)) {
				t.Errorf("the other chat edited %s after the workspace 429", c.At.Sub(limitedAt))
			}
		}
		a, b := strings.Repeat("a ", 40), strings.Repeat("b ", 40)
		if got := []string{r1.Last(), r2.Last()}; !(got[0] == a && got[1] == b || got[0] == b && got[1] == a) {
			t.Errorf("final texts = %q, want one whole reply in each chat", got)
		}
	})
}
