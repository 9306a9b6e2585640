package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ReplierOpener is a Bridge that can address a chat without an inbound
// event. Recover uses it to mark the messages of a reply that a crash cut
// short.
type ReplierOpener interface {
	ReplierFor(chat ChatID, thread ThreadID) Replier
}

// interruptedNote is added under a reply that a crash or shutdown cut short.
const interruptedNote = "_⚠️ Interrupted: the bot restarted before this reply was finished. Send /retry to try again._"

// unansweredNote tells the user a message was never answered because the
// bot stopped before any text was shown.
const unansweredNote = "_⚠️ The bot restarted before answering your last message. Send /retry to try again._"

// Recover marks every reply left pending or streaming by an earlier run as
// interrupted. Where the bridge is registered and can address the chat, the
// reply's last message is edited to say so; nothing is sent again. Call it
// after Register and before the bridges run. It blocks on storage and on
// the platforms' edits.
func (e *Engine) Recover(ctx context.Context) error {
	replies, err := e.store.UnfinishedReplies(ctx)
	if err != nil {
		return fmt.Errorf("list unfinished replies: %w", err)
	}
	for _, st := range replies {
		e.mu.Lock()
		b := e.bridges[st.Key.Platform()]
		e.mu.Unlock()
		if opener, ok := b.(ReplierOpener); ok {
			r := opener.ReplierFor(st.Chat, st.Thread)
			if len(st.MessageIDs) > 0 {
				e.markInterrupted(ctx, r, st)
			} else {
				// Nothing was shown: say so once, so the user is not left
				// waiting for an answer that will never come.
				ev := &Event{Platform: st.Key.Platform(), Chat: st.Chat, Thread: st.Thread}
				e.reply(ctx, r, ev, unansweredNote)
			}
		}
		if strings.TrimSpace(st.Text) != "" && st.Conversation != "" {
			// What the user saw stays in the history, marked interrupted.
			if _, err := e.store.AppendMessage(ctx, st.Conversation, Message{
				Role: RoleAssistant, Content: st.Text, Timestamp: time.Now().UTC(),
				Metadata: MessageMeta{FinishReason: string(ReplyInterrupted)},
			}); err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("keep interrupted reply %s: %w", st.ID, err)
			}
		}
		st.Status, st.Text, st.UpdatedAt = ReplyInterrupted, "", time.Now().UTC()
		if err := e.store.PutReply(ctx, st); err != nil {
			return fmt.Errorf("mark reply %s interrupted: %w", st.ID, err)
		}
		e.log.Info("marked an interrupted reply", "platform", st.Key.Platform(), "chat", st.Chat, "reply", st.ID)
	}
	return nil
}

// markInterrupted edits the last message of a cut reply to end with the
// interrupted note, within the platform's limit.
func (e *Engine) markInterrupted(ctx context.Context, r Replier, st ReplyState) {
	caps := e.capsFor(st.Key.Platform())
	parts := Split(st.Text, caps.MaxLen, caps.LenUnit)
	last := ""
	if n := len(parts); n > 0 && n == len(st.MessageIDs) {
		last = parts[n-1]
	}
	text := strings.TrimRight(last, " \t\n")
	text = closeFence(text)
	if text != "" {
		text += "\n\n"
	}
	text += interruptedNote
	if caps.MaxLen > 0 && caps.LenUnit.Len(text) > caps.MaxLen {
		text = interruptedNote // the note matters more than repeating the text
	}
	id := st.MessageIDs[len(st.MessageIDs)-1]
	ev := &Event{Platform: st.Key.Platform(), Chat: st.Chat, Thread: st.Thread}
	s := e.newStream(r, ev, true)
	ctx, cancel := context.WithTimeout(ctx, finalTimeout)
	defer cancel()
	if err := s.call(ctx, func(ctx context.Context) error { return r.Edit(ctx, id, Outgoing{Text: text}) }); err != nil {
		e.log.Warn("edit interrupted reply", "chat", st.Chat, "err", err)
	}
}
