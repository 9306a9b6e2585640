package telegram

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	tele "gopkg.in/telebot.v3"

	"github.com/chatbridge/chatbridge/engine"
)

// maxCallbackData is Telegram's limit on a button's callback data, in bytes.
const maxCallbackData = 64

// replier sends to one chat (and forum topic). Safe for concurrent use: it
// holds no mutable state.
type replier struct {
	bot    *tele.Bot
	chat   *tele.Chat
	thread int
}

// draftReplier is a replier for a private chat in draft mode: it also
// implements engine.Drafter, with one draft id per reply.
type draftReplier struct {
	replier
	draftID int64
}

func (b *Bridge) newReplier(chatID int64, thread int, private bool) engine.Replier {
	r := replier{bot: b.bot, chat: &tele.Chat{ID: chatID}, thread: thread}
	if private && b.opts.StreamMode == "draft" {
		return &draftReplier{replier: r, draftID: rand.Int64N(1<<31-1) + 1}
	}
	return &r
}

// render turns the engine's Markdown into what Telegram gets: HTML, or the
// plain text when the engine asks for it after a markup refusal. A text
// Telegram would count as too long is refused here, saving a request.
func render(m engine.Outgoing) (text string, mode tele.ParseMode, err error) {
	if m.Plain {
		text = PlainText(m.Text)
		if engine.UTF16.Len(text) > 4096 {
			return "", "", engine.ErrTooLong
		}
		return text, tele.ModeDefault, nil
	}
	text = RenderHTML(m.Text)
	switch n := VisibleLen(text); {
	case n > 4096:
		return "", "", engine.ErrTooLong
	case n == 0 && strings.TrimSpace(m.Text) != "":
		// Markup alone (a bare fence) renders to nothing, which Telegram
		// refuses as an empty message: show the characters instead.
		return render(engine.Outgoing{Text: m.Text, Plain: true})
	}
	return text, tele.ModeHTML, nil
}

func (r *replier) options(m engine.Outgoing, mode tele.ParseMode) *tele.SendOptions {
	opts := &tele.SendOptions{
		ParseMode: mode,
		// Model output never unfurls links into previews.
		DisableWebPagePreview: true,
		ThreadID:              r.thread,
	}
	if kb := keyboard(m.Buttons); kb != nil {
		opts.ReplyMarkup = kb
	}
	return opts
}

// keyboard turns the engine's buttons into an inline keyboard. A button
// whose command does not fit Telegram's 64-byte callback data is left out.
func keyboard(rows [][]engine.Button) *tele.ReplyMarkup {
	var kb [][]tele.InlineButton
	for _, row := range rows {
		var out []tele.InlineButton
		for _, b := range row {
			if len(b.Command) > maxCallbackData {
				continue
			}
			out = append(out, tele.InlineButton{Text: b.Label, Data: b.Command})
		}
		if len(out) > 0 {
			kb = append(kb, out)
		}
	}
	if len(kb) == 0 {
		return nil
	}
	return &tele.ReplyMarkup{InlineKeyboard: kb}
}

// Send sends a new message and returns its id.
func (r *replier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	text, mode, err := render(m)
	if err != nil {
		return "", err
	}
	var sent *tele.Message
	err = call(ctx, func() error {
		var err error
		sent, err = r.bot.Send(r.chat, text, r.options(m, mode))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("telegram: sendMessage: %w", mapError(err))
	}
	return engine.MessageID(strconv.Itoa(sent.ID)), nil
}

// Edit replaces the text of a message the bot sent.
func (r *replier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	text, mode, err := render(m)
	if err != nil {
		return err
	}
	msg := tele.StoredMessage{MessageID: string(id), ChatID: r.chat.ID}
	err = call(ctx, func() error {
		_, err := r.bot.Edit(msg, text, r.options(m, mode))
		return err
	})
	if err != nil {
		return fmt.Errorf("telegram: editMessageText: %w", mapError(err))
	}
	return nil
}

// DeleteMessage deletes a message in the chat (a user's, in a private
// chat: /apikey removes the message with the key).
func (r *replier) DeleteMessage(ctx context.Context, id engine.MessageID) error {
	msg := tele.StoredMessage{MessageID: string(id), ChatID: r.chat.ID}
	if err := call(ctx, func() error { return r.bot.Delete(msg) }); err != nil {
		return fmt.Errorf("telegram: deleteMessage: %w", mapError(err))
	}
	return nil
}

// Typing shows "typing…" for up to five seconds.
func (r *replier) Typing(ctx context.Context) error {
	err := call(ctx, func() error { return r.bot.Notify(r.chat, tele.Typing, r.thread) })
	if err != nil {
		return fmt.Errorf("telegram: sendChatAction: %w", mapError(err))
	}
	return nil
}

// Upload sends data as a document (used by /export).
func (r *replier) Upload(ctx context.Context, name string, data []byte, caption string) error {
	doc := &tele.Document{File: tele.FromReader(bytes.NewReader(data)), FileName: name, Caption: caption}
	err := call(ctx, func() error {
		_, err := r.bot.Send(r.chat, doc, &tele.SendOptions{ThreadID: r.thread})
		return err
	})
	if err != nil {
		return fmt.Errorf("telegram: sendDocument: %w", mapError(err))
	}
	return nil
}

// Draft shows the reply in progress with sendMessageDraft (Bot API 9.3+,
// private chats only), which telebot v3 has no wrapper for.
func (r *draftReplier) Draft(ctx context.Context, m engine.Outgoing) error {
	text, mode, err := render(m)
	if err != nil {
		return err
	}
	params := map[string]any{
		"chat_id":  r.chat.ID,
		"draft_id": r.draftID,
		"text":     text,
	}
	if mode != tele.ModeDefault {
		params["parse_mode"] = string(mode)
	}
	if r.thread != 0 {
		params["message_thread_id"] = r.thread
	}
	err = call(ctx, func() error {
		_, err := r.bot.Raw("sendMessageDraft", params)
		return err
	})
	if err != nil {
		return fmt.Errorf("telegram: sendMessageDraft: %w", mapError(err))
	}
	return nil
}
