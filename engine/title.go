package engine

import (
	"context"
	"strings"
	"time"
)

// Titles: a conversation gets one after its first exchange, from the first
// user message, or, with Options.AutoTitle, from one short model call.
const (
	titleMaxRunes  = 60
	titleMaxTokens = 20
	titleTimeout   = 20 * time.Second
	titleExcerpt   = 600 // runes of the message and the reply sent along
	titlePrompt    = "You name conversations. Reply with a title of at most six words for the conversation below: " +
		"no quotes, no final period, in the conversation's language."
)

// titleAfter gives the conversation a title after an exchange, if it has
// none: from the model when AutoTitle is on and the spending caps allow
// the call (its usage is recorded like a turn's), else, or when the call
// fails, from the first user message. The model call ends with ctx (a
// shutdown); the title is stored regardless.
func (e *Engine) titleAfter(ctx context.Context, ev *Event, id ConversationID, model, question, answer string) {
	sctx := context.WithoutCancel(ctx)
	conv, err := e.store.Conversation(sctx, id)
	if err != nil || conv.Title != "" {
		return
	}
	title := ""
	if e.opts.AutoTitle && strings.TrimSpace(answer) != "" && ctx.Err() == nil && e.capReached(sctx, ev.User) == "" {
		title = e.modelTitle(ctx, ev, model, question, answer)
	}
	if title == "" {
		title = truncateLine(question, titleMaxRunes)
	}
	// The conversation may have been renamed (/title) meanwhile.
	if conv, err = e.store.Conversation(sctx, id); err != nil || conv.Title != "" {
		return
	}
	conv.Title = title
	if err := e.store.UpdateConversation(sctx, conv); err != nil {
		e.log.Warn("set title", "err", err)
	}
}

// modelTitle asks the model for a short title; "" when it cannot.
func (e *Engine) modelTitle(ctx context.Context, ev *Event, model, question, answer string) string {
	ctx, cancel := context.WithTimeout(ctx, titleTimeout)
	defer cancel()
	temp := 0.2
	req := &Request{
		Model: model,
		Messages: []ChatMessage{
			{Role: RoleSystem, Content: titlePrompt},
			{Role: RoleUser, Content: "User: " + excerpt(question) + "\n\nAssistant: " + excerpt(answer)},
		},
		MaxTokens:   titleMaxTokens,
		Temperature: &temp,
	}
	comp, err := e.prov.Stream(ctx, req, func(Delta) error { return nil })
	if comp != nil && (comp.Usage.TotalTokens > 0 || comp.Usage.Cost > 0) {
		e.metrics.usage(comp.Usage)
		if rerr := e.store.RecordUsage(context.WithoutCancel(ctx), time.Now(), ev.User, comp.Usage); rerr != nil {
			e.log.Error("record usage", "err", rerr)
		}
	}
	if err != nil || comp == nil {
		e.log.Info("title from the model failed; using the first message", "err", err)
		return ""
	}
	return cleanTitle(comp.Text)
}

// cleanTitle makes a model's answer a one-line title: no quotes, markup
// or final period, at most titleMaxRunes runes.
func cleanTitle(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "Title:"))
	s = strings.Trim(s, "\"'`*_#“”‘’« » ")
	s = strings.TrimRight(s, ".")
	return truncateLine(s, titleMaxRunes)
}

func excerpt(s string) string {
	if r := []rune(s); len(r) > titleExcerpt {
		return string(r[:titleExcerpt]) + "…"
	}
	return s
}
