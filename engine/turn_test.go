package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

func replyStatus(t *testing.T, h *harness) engine.ReplyStatus {
	t.Helper()
	// The reply states of a finished turn are final, so none is unfinished;
	// the status is read back through the stored assistant message.
	conv, err := h.store.ActiveConversation(context.Background(), engine.KeyFor(testPlatform, "c1", ""))
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := h.store.RecentMessages(context.Background(), conv.ID, 1)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("no stored messages: %v", err)
	}
	return engine.ReplyStatus(msgs[0].Metadata.FinishReason)
}

func TestTurn_Endings(t *testing.T) {
	t.Run("done", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(enginetest.Script{Deltas: []string{"Hello", " there"},
				Usage: engine.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12, Cost: 0.001}})
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			h.settle()
			if got := r.Last(); got != "Hello there" {
				t.Errorf("shown %q, want %q", got, "Hello there")
			}
			if s := replyStatus(t, h); s != "stop" {
				t.Errorf("finish reason = %q, want stop", s)
			}
			u, _ := h.store.UsageOn(context.Background(), time.Now().UTC().Format(time.DateOnly), "")
			if u.TotalTokens != 12 || u.Cost != 0.001 || u.Requests != 1 {
				t.Errorf("usage = %+v, want 12 tokens, $0.001, 1 request", u)
			}
			if un, _ := h.store.UnfinishedReplies(context.Background()); len(un) != 0 {
				t.Errorf("unfinished replies after done: %+v", un)
			}
		})
	})
	t.Run("stopped", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(enginetest.Script{Delay: time.Second, Deltas: enginetest.Words(100, "w")})
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			time.Sleep(5500 * time.Millisecond)
			h.send(r, "c1", "/stop")
			h.settle()
			got := r.Last()
			if !strings.HasPrefix(got, "w w w w w") || !strings.Contains(got, "Stopped") {
				t.Errorf("shown %q, want the partial text marked stopped", got)
			}
			if strings.Count(got, "w ") > 10 {
				t.Errorf("the reply went on after /stop: %q", got)
			}
			if s := replyStatus(t, h); s != engine.ReplyStopped {
				t.Errorf("stored status = %q, want stopped", s)
			}
		})
	})
	t.Run("stopped inside a code block closes it with a matching fence", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(enginetest.Script{Deltas: []string{"Code:\n\n~~~~python\n", "print(1)"}, Hang: true})
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			time.Sleep(2 * time.Second)
			h.send(r, "c1", "/stop")
			h.settle()
			want := "Code:\n\n~~~~python\nprint(1)\n~~~~\n\n_⏹ Stopped._"
			if got := r.Last(); got != want {
				t.Errorf("shown %q, want %q", got, want)
			}
		})
	})
	t.Run("failed after text", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(enginetest.Script{Deltas: []string{"partial answer"},
				Err: &engine.ProviderError{Kind: engine.ErrMidStream, Message: "upstream exploded"}})
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			h.settle()
			got := r.Last()
			if !strings.HasPrefix(got, "partial answer") || !strings.Contains(got, "/retry") ||
				!strings.Contains(got, "The model failed while answering") {
				t.Errorf("shown %q, want the partial text, a safe reason and a /retry hint", got)
			}
			if strings.Contains(got, "upstream exploded") {
				t.Errorf("internal error text leaked to the user: %q", got)
			}
			if n := len(prov.Requests()); n != 1 {
				t.Errorf("provider requests = %d, want 1 (no retry once text was shown)", n)
			}
			if s := replyStatus(t, h); s != engine.ReplyFailed {
				t.Errorf("stored status = %q, want failed", s)
			}
		})
	})
	t.Run("interrupted by shutdown", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(enginetest.Script{Deltas: []string{"half"}, Hang: true})
			h := newHarness(t, testCaps(), prov)
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			time.Sleep(time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			h.e.Shutdown(ctx)
			got := r.Last()
			if !strings.HasPrefix(got, "half") || !strings.Contains(got, "Interrupted") {
				t.Errorf("shown %q, want the partial text marked interrupted", got)
			}
			if s := replyStatus(t, h); s != engine.ReplyInterrupted {
				t.Errorf("stored status = %q, want interrupted", s)
			}
		})
	})
}

func TestTurn_ProviderErrors(t *testing.T) {
	t.Run("429 with Retry-After 2s waits at least 2s", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(
				enginetest.Script{Err: &engine.ProviderError{Kind: engine.ErrRateLimited, Status: 429, RetryAfter: 2 * time.Second}},
				enginetest.Script{Deltas: []string{"ok now"}},
			)
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			h.settle()
			reqs := prov.Requests()
			if len(reqs) != 2 {
				t.Fatalf("requests = %d, want 2", len(reqs))
			}
			if gap := reqs[1].At.Sub(reqs[0].At); gap < 2*time.Second {
				t.Errorf("retry after %s, want >= 2s (Retry-After)", gap)
			}
			if got := r.Last(); got != "ok now" {
				t.Errorf("shown %q, want %q", got, "ok now")
			}
		})
	})
	t.Run("401 is not retried and says the key was rejected", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(enginetest.Script{Err: &engine.ProviderError{Kind: engine.ErrKeyRejected, Status: 401}})
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			h.settle()
			if n := len(prov.Requests()); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
			if got := r.Last(); !strings.Contains(got, "rejected the API key") {
				t.Errorf("shown %q, want it to say the API key was rejected", got)
			}
			if got := h.command("/status"); !strings.Contains(got, "model API: down (The model provider rejected the API key.") ||
				!strings.Contains(got, "Status: down") {
				t.Errorf("/status after a 401 = %q, want the model API down with the reason", got)
			}
		})
	})
	t.Run("5xx retried with growing backoff, then fails", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			fail := enginetest.Script{Err: &engine.ProviderError{Kind: engine.ErrUnavailable, Status: 502}}
			prov := enginetest.NewProvider(fail, fail, fail, fail, fail)
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			h.settle()
			reqs := prov.Requests()
			if len(reqs) != 4 {
				t.Fatalf("requests = %d, want 1 + 3 retries", len(reqs))
			}
			for i := 1; i < len(reqs); i++ {
				gap := reqs[i].At.Sub(reqs[i-1].At)
				lo := time.Second << (i - 1) / 2
				if gap < lo || gap > 30*time.Second {
					t.Errorf("retry %d after %s, want in [%s, 30s]", i, gap, lo)
				}
			}
			if got := r.Last(); !strings.Contains(got, "unavailable") || !strings.Contains(got, "/retry") {
				t.Errorf("shown %q, want a safe reason and a /retry hint", got)
			}
		})
	})
	t.Run("a stalled stream times out and is retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider(
				enginetest.Script{FirstDelay: time.Hour},
				enginetest.Script{Deltas: []string{"second try"}},
			)
			h := newHarness(t, testCaps(), prov, func(o *engine.Options) { o.IdleTimeout = 20 * time.Second })
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			h.send(r, "c1", "hi")
			h.settle()
			reqs := prov.Requests()
			if len(reqs) != 2 {
				t.Fatalf("requests = %d, want 2", len(reqs))
			}
			if gap := reqs[1].At.Sub(reqs[0].At); gap < 20*time.Second || gap > 60*time.Second {
				t.Errorf("retry after %s, want the 20s idle timeout plus a backoff", gap)
			}
			if got := r.Last(); got != "second try" {
				t.Errorf("shown %q", got)
			}
		})
	})
	t.Run("context too long trims history once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			prov := enginetest.NewProvider()
			h := newHarness(t, testCaps(), prov)
			defer h.close()
			r := enginetest.NewReplier(4096, engine.UTF16)
			for i := 0; i < 4; i++ {
				h.send(r, "c1", "earlier message")
				h.settle()
			}
			tooLong := enginetest.Script{Err: &engine.ProviderError{Kind: engine.ErrContextTooLong, Status: 400}}
			prov.Enqueue(tooLong, enginetest.Script{Deltas: []string{"short answer"}})
			h.send(r, "c1", "now")
			h.settle()
			reqs := prov.Requests()
			first, second := reqs[len(reqs)-2].Req.Messages, reqs[len(reqs)-1].Req.Messages
			if len(second) >= len(first) {
				t.Errorf("retry sent %d messages, want fewer than %d", len(second), len(first))
			}
			if second[0].Role != engine.RoleSystem || second[len(second)-1].Content != "now" {
				t.Errorf("trim lost the system prompt or the new message: %+v", second)
			}
			if got := r.Last(); !strings.HasPrefix(got, "short answer") || !strings.Contains(got, "Older turns") {
				t.Errorf("shown %q, want the answer and a note that older turns were left out", got)
			}
		})
	})
}

func TestTurn_HistoryFitsTheModelsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		// A small model: 3,000 tokens of context (max_tokens is 1,024).
		prov.ModelList = append(prov.ModelList, engine.ModelInfo{ID: "tiny/model", ContextLength: 3000})
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		h.send(r, "c1", "/model tiny/model")
		h.settle()
		long := strings.Repeat("word ", 300) // ~500 estimated tokens each
		for i := 0; i < 4; i++ {
			h.send(r, "c1", fmt.Sprintf("turn %d %s", i, long))
			h.settle()
		}
		h.send(r, "c1", "the last question")
		h.settle()
		reqs := prov.Requests()
		last := reqs[len(reqs)-1].Req
		if last.Model != "tiny/model" {
			t.Fatalf("model = %s", last.Model)
		}
		n := 0
		for _, m := range last.Messages {
			n += 4 + (len([]rune(m.Content))+2)/3
		}
		if n+last.MaxTokens > 3000 {
			t.Errorf("sent ~%d tokens + max_tokens %d, over the model's 3,000", n, last.MaxTokens)
		}
		if got := last.Messages[len(last.Messages)-1].Content; got != "the last question" {
			t.Errorf("the new message was dropped: %q", got)
		}
		if last.Messages[0].Role != engine.RoleSystem {
			t.Errorf("the system prompt was dropped")
		}
		if got := r.Last(); !strings.Contains(got, "Older turns") {
			t.Errorf("the user was not told: %q", got)
		}
		// A model with room for everything gets everything, and no note.
		h.send(r, "c1", "/model openai/gpt-4o-mini")
		h.settle()
		h.send(r, "c1", "again")
		h.settle()
		reqs = prov.Requests()
		if got := len(reqs[len(reqs)-1].Req.Messages); got < 10 {
			t.Errorf("a 128k model got %d messages, want the whole history", got)
		}
		if got := r.Last(); strings.Contains(got, "Older turns") {
			t.Errorf("note shown although nothing was left out: %q", got)
		}
	})
}

func TestTurn_CircuitBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov, func(o *engine.Options) {
			o.MaxRetries, o.BreakerThreshold, o.BreakerCooldown = 0, 3, 30*time.Second
		})
		defer h.close()
		down := enginetest.Script{Err: &engine.ProviderError{Kind: engine.ErrUnavailable, Status: 503}}
		prov.Enqueue(down, down, down)
		r := enginetest.NewReplier(4096, engine.UTF16)
		for i := 0; i < 3; i++ {
			h.send(r, "c1", "hello")
			h.settle()
		}
		calls := len(prov.Requests())
		h.send(r, "c1", "are you there?")
		h.settle()
		if n := len(prov.Requests()); n != calls {
			t.Errorf("the open breaker still called the provider (%d calls, want %d)", n, calls)
		}
		if got := r.Last(); !strings.Contains(got, "keeps failing") || !strings.Contains(got, "/retry") {
			t.Errorf("fail-fast message = %q, want a clear one", got)
		}
		// After the cooldown one probe goes through; it fails, so the
		// breaker opens again.
		time.Sleep(31 * time.Second)
		prov.Enqueue(down)
		h.send(r, "c1", "probe")
		h.settle()
		h.send(r, "c1", "still down?")
		h.settle()
		if n := len(prov.Requests()); n != calls+1 {
			t.Errorf("calls = %d, want exactly one probe (%d)", n, calls+1)
		}
		// The next probe succeeds and closes it.
		time.Sleep(31 * time.Second)
		h.send(r, "c1", "back?")
		h.settle()
		h.send(r, "c1", "and again")
		h.settle()
		if got := r.Last(); got != "You said: and again" {
			t.Errorf("after a good probe: %q, want normal answers", got)
		}
	})
}

func TestWorker_OneTurnAtATimePerConversation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := enginetest.Script{Delay: time.Second, Deltas: enginetest.Words(5, "a")}
		prov := enginetest.NewProvider(slow, slow, slow)
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r1 := enginetest.NewReplier(4096, engine.UTF16)
		r2 := enginetest.NewReplier(4096, engine.UTF16)
		start := time.Now()
		h.send(r1, "c1", "first")
		h.send(r1, "c1", "second")
		h.send(r2, "c2", "other chat")
		h.settle()
		reqs := prov.Requests()
		if len(reqs) != 3 {
			t.Fatalf("requests = %d, want 3", len(reqs))
		}
		var c1 []time.Time
		for _, q := range reqs {
			last := q.Req.Messages[len(q.Req.Messages)-1].Content
			switch last {
			case "first", "second":
				c1 = append(c1, q.At)
			case "other chat":
				if q.At != start {
					t.Errorf("the other conversation waited %s, want to run in parallel", q.At.Sub(start))
				}
			}
		}
		if len(c1) != 2 || c1[1].Sub(c1[0]) < 4*time.Second {
			t.Errorf("second turn started %s after the first, want after it finished (>= 4s)", c1[1].Sub(c1[0]))
		}
		// The second turn sees the first exchange in its history.
		second := reqs[len(reqs)-1].Req.Messages
		if reqs[1].Req.Messages[len(reqs[1].Req.Messages)-1].Content == "second" {
			second = reqs[1].Req.Messages
		}
		found := false
		for _, m := range second {
			if m.Role == engine.RoleAssistant && strings.HasPrefix(m.Content, "a a") {
				found = true
			}
		}
		if !found {
			t.Errorf("second turn's history lacks the first reply: %+v", second)
		}
	})
}

func TestRecover_MarksInterruptedReplies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := enginetest.NewMemStore()
		ctx := context.Background()
		r := enginetest.NewReplier(4096, engine.UTF16)
		id, _ := r.Send(ctx, engine.Outgoing{Text: "half a rep"})
		key := engine.KeyFor(testPlatform, "c1", "")
		conv, _ := st.ActiveConversation(ctx, key)
		if err := st.PutReply(ctx, engine.ReplyState{ID: "r1", Key: key, Chat: "c1", Conversation: conv.ID, Status: engine.ReplyStreaming,
			MessageIDs: []engine.MessageID{id}, Text: "half a rep"}); err != nil {
			t.Fatal(err)
		}
		other := enginetest.NewReplier(4096, engine.UTF16)
		if err := st.PutReply(ctx, engine.ReplyState{ID: "r2", Key: engine.KeyFor(testPlatform, "c2", ""), Chat: "c2",
			Status: engine.ReplyPending}); err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(engine.Options{Provider: enginetest.NewProvider(), Store: st, Defaults: engine.Settings{Model: "m"}})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Shutdown(ctx)
		e.Register(&openerBridge{fakeBridge: fakeBridge{caps: testCaps()}, r: r, byChat: map[engine.ChatID]engine.Replier{"c2": other}})
		if err := e.Recover(ctx); err != nil {
			t.Fatal(err)
		}
		if got := r.Last(); !strings.HasPrefix(got, "half a rep") || !strings.Contains(got, "Interrupted") {
			t.Errorf("message = %q, want the text marked interrupted", got)
		}
		if n := len(calls(r, enginetest.CallSend)); n != 1 {
			t.Errorf("sends = %d, want 1 (nothing sent again)", n)
		}
		if got := other.Messages(); len(got) != 1 || !strings.Contains(got[0], "restarted before answering") {
			t.Errorf("the unanswered chat got %q, want one note", got)
		}
		if un, _ := st.UnfinishedReplies(ctx); len(un) != 0 {
			t.Errorf("still unfinished: %+v", un)
		}
		msgs, _ := st.Messages(ctx, conv.ID)
		if len(msgs) != 1 || msgs[0].Content != "half a rep" || msgs[0].Metadata.FinishReason != "interrupted" {
			t.Errorf("history = %+v, want the shown part kept, marked interrupted", msgs)
		}
	})
}

var _ = errors.New

func TestTurn_TextIsStoredBeforeItIsShown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider(enginetest.Script{Delay: 300 * time.Millisecond, Deltas: enginetest.Words(20, "w")})
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		var hung string
		edits := 0
		r.Fault = func(c enginetest.Call) error {
			if c.Kind == enginetest.CallEdit {
				if edits++; edits == 2 {
					hung = c.Msg.Text
					// The process dies during this edit: it never returns
					// while we look at what is stored.
					time.Sleep(time.Hour)
				}
			}
			return nil
		}
		h.send(r, "c1", "hi")
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if hung == "" {
			t.Fatal("the second edit never came")
		}
		states, err := h.store.UnfinishedReplies(context.Background())
		if err != nil || len(states) != 1 {
			t.Fatalf("unfinished replies = %v, %v", states, err)
		}
		if states[0].Text != hung {
			t.Errorf("stored %q while the platform was being asked to show %q: a crash now would lose shown text", states[0].Text, hung)
		}
		time.Sleep(2 * time.Hour)
		h.settle()
	})
}
