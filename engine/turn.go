package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/engine/health"
)

// Backoff bounds for provider retries.
const (
	backoffBase = time.Second
	backoffCap  = 30 * time.Second
)

// backoff returns the wait before retry attempt n (0-based): exponential,
// capped, with jitter in [d/2, d] so many chats do not retry in step.
func backoff(n int) time.Duration {
	d := backoffBase << min(n, 10)
	d = min(d, backoffCap)
	return d/2 + rand.N(d/2+1)
}

// runTurn answers one user message: it stores it, streams the model's reply
// and stores the reply, its usage and its final state. With retry, text is
// the earlier user message, already stored, being answered again.
func (e *Engine) runTurn(ctx context.Context, r Replier, ev *Event, text string, retry bool) {
	key := ev.Key()
	if refusal := e.capReached(ctx, ev.User); refusal != "" {
		// Refused before anything is stored or sent: the user can send it
		// again once the cap resets.
		e.handled(ctx, ev)
		e.reply(ctx, r, ev, refusal)
		return
	}
	conv, err := e.store.ActiveConversation(ctx, key)
	if err != nil {
		e.fail(ctx, r, ev, fmt.Errorf("load conversation: %w", err))
		return
	}
	set, _, err := e.settings(ctx, key)
	if err != nil {
		e.fail(ctx, r, ev, err)
		return
	}
	history, err := e.store.RecentMessages(ctx, conv.ID, e.opts.HistoryMessages)
	if err != nil {
		e.fail(ctx, r, ev, fmt.Errorf("load history: %w", err))
		return
	}
	if !retry {
		if _, err := e.store.AppendMessage(ctx, conv.ID, Message{
			Role: RoleUser, Content: text, Timestamp: time.Now().UTC(),
		}); err != nil {
			e.handled(ctx, ev)
			e.fail(ctx, r, ev, fmt.Errorf("store message: %w", err))
			return
		}
	}
	// From here a crash leaves a stored turn, which Recover answers for.
	e.handled(ctx, ev)
	state := ReplyState{
		ID: newMessageID(), Key: key, Chat: ev.Chat, Thread: ev.Thread, Conversation: conv.ID, Event: ev.ID,
		Status: ReplyPending, UpdatedAt: time.Now().UTC(),
	}
	e.putReply(ctx, state)

	s := e.newStream(r, ev, set.Streaming)
	s.onShowing = func(text string) {
		// The messages exist; a crash during this edit must not leave
		// older text stored than the user may already see.
		if text != state.Text && len(state.MessageIDs) > 0 {
			state.Text, state.Status, state.UpdatedAt = text, ReplyStreaming, time.Now().UTC()
			e.putReply(ctx, state)
		}
	}
	s.onShown = func(ids []MessageID, shown string) {
		if len(ids) == 0 || (len(ids) == len(state.MessageIDs) && shown == state.Text) {
			return
		}
		// Kept at every flush (at most one a second per chat): after a
		// crash, Recover marks exactly what the user saw and keeps it in
		// the history.
		state.MessageIDs, state.Text, state.Status = ids, shown, ReplyStreaming
		state.UpdatedAt = time.Now().UTC()
		e.putReply(ctx, state)
	}
	e.stats.streamStarted()
	defer e.stats.streamEnded()
	flusherDone := make(chan struct{})
	go func() { defer close(flusherDone); s.Run(ctx) }()

	req := &Request{
		Model:          set.Model,
		FallbackModels: e.opts.FallbackModels,
		Messages:       buildMessages(set.SystemPrompt, history, text, retry),
		MaxTokens:      set.MaxTokens,
	}
	temp := set.Temperature
	req.Temperature = &temp
	left := fitContext(req, e.contextLength(ctx, req.Model))

	comp, trimmed, genErr := e.generate(ctx, req, s)
	status, footer := e.outcome(ctx, genErr, comp)
	if (left > 0 || trimmed) && status == ReplyDone {
		footer = joinNotes(footer, trimmedNote)
	}
	if err := s.Finish(ctx, footer); err != nil {
		e.log.Warn("final edit failed", "platform", ev.Platform, "chat", ev.Chat, "err", err)
	}
	<-flusherDone

	shown := s.Text()
	dctx := context.WithoutCancel(ctx)
	if strings.TrimSpace(shown) != "" {
		msg := Message{Role: RoleAssistant, Content: shown, Timestamp: time.Now().UTC(), Model: set.Model}
		if comp != nil {
			if comp.Model != "" {
				msg.Model = comp.Model
			}
			msg.Tokens = comp.Usage.CompletionTokens
			u := comp.Usage
			msg.Metadata = MessageMeta{FinishReason: comp.FinishReason, Usage: &u}
		}
		if status != ReplyDone {
			msg.Metadata.FinishReason = string(status)
		}
		if _, err := e.store.AppendMessage(dctx, conv.ID, msg); err != nil {
			e.log.Error("store reply", "err", err)
		}
	}
	e.metrics.replies.Inc(string(status))
	if comp != nil {
		e.metrics.usage(comp.Usage)
	}
	if comp != nil && (comp.Usage.TotalTokens > 0 || comp.Usage.Cost > 0) {
		if err := e.store.RecordUsage(dctx, time.Now(), ev.User, comp.Usage); err != nil {
			e.log.Error("record usage", "err", err)
		}
	}
	state.Status, state.Text, state.UpdatedAt = status, "", time.Now().UTC()
	e.putReply(dctx, state)
	if conv.Title == "" && !retry {
		e.titleAfter(ctx, ev, conv.ID, set.Model, text, shown)
	}
}

// buildMessages assembles the provider request: the system prompt, the
// history and the new user message (already last in history on a retry).
func buildMessages(system string, history []Message, text string, retry bool) []ChatMessage {
	msgs := make([]ChatMessage, 0, len(history)+2)
	if system != "" {
		msgs = append(msgs, ChatMessage{Role: RoleSystem, Content: system})
	}
	for _, m := range history {
		if m.Role == RoleUser || m.Role == RoleAssistant {
			msgs = append(msgs, ChatMessage{Role: m.Role, Content: m.Content})
		}
	}
	if !retry {
		msgs = append(msgs, ChatMessage{Role: RoleUser, Content: text})
	}
	return msgs
}

// generate streams the completion into s, retrying transient failures with
// backoff while nothing has been shown. A context-too-long failure trims the
// oldest history and tries once more.
func (e *Engine) generate(ctx context.Context, req *Request, s *stream) (comp *Completion, trimmed bool, err error) {
	for attempt := 0; ; attempt++ {
		if err := e.breaker.allow(); err != nil {
			return nil, trimmed, err
		}
		start := time.Now()
		comp, err := e.streamOnce(ctx, req, s)
		e.stats.observe(time.Since(start), err)
		e.metrics.latency.Observe(time.Since(start).Seconds())
		e.reportProvider(err)
		if ctx.Err() == nil {
			e.breaker.record(err)
		}
		if err == nil {
			return comp, trimmed, nil
		}
		if ctx.Err() != nil {
			return comp, trimmed, context.Cause(ctx)
		}
		pe, _ := AsProviderError(err)
		if pe != nil && pe.Kind == ErrContextTooLong && !trimmed && !s.Shown() {
			if trimHistory(req) {
				trimmed = true
				e.log.Info("context too long; trimmed older turns", "model", req.Model, "messages", len(req.Messages))
				attempt--
				continue
			}
		}
		retryable := pe == nil || pe.Retryable()
		if s.Shown() || !retryable || attempt >= e.opts.MaxRetries {
			return comp, trimmed, err
		}
		wait := backoff(attempt)
		if pe != nil && pe.RetryAfter > wait {
			wait = pe.RetryAfter
		}
		e.log.Info("provider failed; retrying", "attempt", attempt+1, "wait", wait, "err", err)
		if err := sleep(ctx, wait); err != nil {
			return comp, trimmed, context.Cause(ctx)
		}
	}
}

// joinNotes puts notes under a reply, one paragraph each.
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "\n\n")
}

// providerComponent is the provider's name in the health tracker.
const providerComponent = "model API"

// reportProvider tells the health tracker how the last provider call went.
// A cancelled call says nothing about the provider.
func (e *Engine) reportProvider(err error) {
	if e.health == nil {
		return
	}
	pe, ok := AsProviderError(err)
	switch {
	case err == nil:
		e.health.Set(providerComponent, health.StateOK, "")
	case ok && (pe.Kind == ErrKeyRejected || pe.Kind == ErrNoCredits):
		e.health.Set(providerComponent, health.StateDown, pe.Safe())
	case ok:
		e.health.Set(providerComponent, health.StateDegraded, pe.Safe())
	}
}

// errIdle is the cause an attempt is cancelled with when the provider sends
// nothing for IdleTimeout.
var errIdle = errors.New("provider idle")

// streamOnce makes one provider call. A stream that sends nothing (not even
// a keep-alive delta) for IdleTimeout is cut and reported as a timeout, so a
// stalled connection cannot hold a conversation forever.
func (e *Engine) streamOnce(ctx context.Context, req *Request, s *stream) (*Completion, error) {
	start, first := time.Now(), true
	firstText := func(d Delta) {
		if first && d.Content != "" {
			first = false
			e.metrics.firstToken.Observe(time.Since(start).Seconds())
		}
	}
	if e.opts.IdleTimeout <= 0 {
		return e.prov.Stream(ctx, req, func(d Delta) error { firstText(d); s.Append(d.Content); return nil })
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(e.opts.IdleTimeout, func() { cancel(errIdle) })
	defer idle.Stop()
	comp, err := e.prov.Stream(actx, req, func(d Delta) error {
		idle.Reset(e.opts.IdleTimeout)
		firstText(d)
		s.Append(d.Content)
		return nil
	})
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errIdle) {
		err = &ProviderError{Kind: ErrTimeout, Message: fmt.Sprintf("no data for %s", e.opts.IdleTimeout), Err: err}
	}
	return comp, err
}

// trimHistory drops the oldest half of the history (never the system
// prompt or the last message). It reports false when nothing is left to drop.
func trimHistory(req *Request) bool {
	first := 0
	if len(req.Messages) > 0 && req.Messages[0].Role == RoleSystem {
		first = 1
	}
	n := len(req.Messages) - 1 - first // droppable messages
	if n <= 0 {
		return false
	}
	drop := max(n/2, 1)
	req.Messages = append(req.Messages[:first], req.Messages[first+drop:]...)
	return true
}

// outcome decides how a reply ended and the note the user sees under it.
func (e *Engine) outcome(ctx context.Context, err error, comp *Completion) (ReplyStatus, string) {
	switch {
	case err == nil:
		if comp == nil || strings.TrimSpace(comp.Text) == "" {
			return ReplyDone, "_The model returned an empty reply. Send /retry to try again._"
		}
		if comp.FinishReason == "length" {
			return ReplyDone, "_The reply was cut at the max tokens limit (see /maxtokens)._"
		}
		return ReplyDone, ""
	case errors.Is(err, errStopped):
		return ReplyStopped, "_⏹ Stopped._"
	case errors.Is(err, errShutdown):
		return ReplyInterrupted, "_⚠️ Interrupted: the bot was shutting down. Send /retry to try again._"
	}
	if pe, ok := AsProviderError(err); ok && pe.Kind == ErrKeyRejected {
		e.keyRejected(ctx)
	}
	text, ref := SafeMessage(err)
	e.logError("reply failed", err, "ref", ref)
	return ReplyFailed, "⚠️ " + text + " Send /retry to try again."
}

// logError counts err in chatbridge_errors_total and logs it with its
// details, or only its class and reference when error logging is off
// (enable_error_logging = false).
func (e *Engine) logError(msg string, err error, args ...any) {
	kind := "internal"
	if pe, ok := AsProviderError(err); ok {
		kind = pe.Kind.String()
	}
	e.metrics.errors.Inc(kind)
	if e.opts.ErrorDetails {
		e.log.Error(msg, append(args, "err", err)...)
		return
	}
	e.log.Error(msg, append(args, "kind", kind)...)
}

// fail tells the user a turn could not start, with a reference to the log.
// The event leaves the in-flight set without being marked handled, so the
// platform's redelivery of it (or the user's) is answered once the store
// works again.
func (e *Engine) fail(ctx context.Context, r Replier, ev *Event, err error) {
	e.inflight.remove(ev.Platform, eventIDs(ev))
	se := NewSafeError("Something went wrong on our side; your message was not answered.", err)
	e.logError("turn failed", se, "ref", se.Ref)
	e.reply(ctx, r, ev, se.Safe()+" Send /retry to try again.")
}

func (e *Engine) putReply(ctx context.Context, st ReplyState) {
	if err := e.store.PutReply(context.WithoutCancel(ctx), st); err != nil {
		e.log.Error("store reply state", "err", err)
	}
}

func newMessageID() string {
	return fmt.Sprintf("%x-%s", time.Now().UnixNano(), newRef())
}
