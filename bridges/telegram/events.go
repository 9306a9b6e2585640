package telegram

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	tele "gopkg.in/telebot.v3"

	"github.com/chatbridge/chatbridge/engine"
)

// botIdentity is what deciding "is this message for us" needs.
type botIdentity struct {
	id       int64
	username string // without @
}

// eventFromMessage converts a message update to an engine event. It
// reports false for messages the bot does not answer: non-text messages,
// other bots, and, in groups, anything that neither mentions the bot,
// replies to it nor is a command addressed to it as /cmd@botname. Pure.
func eventFromMessage(updateID int, m *tele.Message, me botIdentity) (*engine.Event, bool) {
	if m == nil || m.Chat == nil || m.Sender == nil || m.Sender.IsBot || strings.TrimSpace(m.Text) == "" {
		return nil, false
	}
	private := m.Chat.Type == tele.ChatPrivate
	ev := &engine.Event{
		ID:       engine.EventID(strconv.Itoa(updateID)),
		Platform: Name,
		Chat:     engine.ChatID(strconv.FormatInt(m.Chat.ID, 10)),
		User:     engine.UserID(strconv.FormatInt(m.Sender.ID, 10)),
		UserName: m.Sender.Username,
		Private:  private,
		Time:     time.Unix(m.Unixtime, 0).UTC(),
		Message:  engine.MessageID(strconv.Itoa(m.ID)),
	}
	text := m.Text
	if cmd, args, target, ok := parseCommand(text); ok {
		switch {
		case target != "" && !strings.EqualFold(target, me.username):
			return nil, false // addressed to another bot
		case !private && target == "":
			return nil, false // a bare /cmd in a group may be for any bot
		}
		ev.Command, ev.Text = cmd, args
		return ev, true
	}
	if !private {
		mentioned := false
		text, mentioned = stripMention(text, m.Entities, me)
		repliedTo := m.ReplyTo != nil && m.ReplyTo.Sender != nil && m.ReplyTo.Sender.ID == me.id
		if !mentioned && !repliedTo {
			return nil, false
		}
	}
	ev.Text = strings.TrimSpace(text)
	if ev.Text == "" {
		return nil, false
	}
	return ev, true
}

// eventFromCallback converts a button press to the command the button
// carries ("/model openai/gpt-4o"). Pure.
func eventFromCallback(updateID int, c *tele.Callback, me botIdentity) (*engine.Event, bool) {
	if c == nil || c.Sender == nil || c.Message == nil || c.Message.Chat == nil {
		return nil, false
	}
	cmd, args, _, ok := parseCommand(c.Data)
	if !ok {
		return nil, false
	}
	return &engine.Event{
		ID:       engine.EventID(strconv.Itoa(updateID)),
		Platform: Name,
		Chat:     engine.ChatID(strconv.FormatInt(c.Message.Chat.ID, 10)),
		User:     engine.UserID(strconv.FormatInt(c.Sender.ID, 10)),
		UserName: c.Sender.Username,
		Private:  c.Message.Chat.Type == tele.ChatPrivate,
		Command:  cmd,
		Text:     args,
		Time:     time.Now().UTC(),
	}, true
}

// parseCommand splits "/cmd@bot args" into its parts. A command name is
// 1-32 ASCII letters, digits or underscores, as Telegram allows.
func parseCommand(text string) (cmd, args, target string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", "", false
	}
	word, rest, _ := strings.Cut(text[1:], " ")
	if nl := strings.IndexByte(word, '\n'); nl >= 0 {
		word, rest = word[:nl], word[nl+1:]+" "+rest
	}
	name, target, _ := strings.Cut(word, "@")
	if name == "" || len(name) > 32 {
		return "", "", "", false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return "", "", "", false
		}
	}
	return strings.ToLower(name), strings.TrimSpace(rest), target, true
}

// stripMention removes mentions of the bot from text and reports whether
// there was one. Entity offsets are in UTF-16 units.
func stripMention(text string, ents tele.Entities, me botIdentity) (string, bool) {
	u := utf16.Encode([]rune(text))
	found := false
	// Cut from the end so earlier offsets stay valid.
	for i := len(ents) - 1; i >= 0; i-- {
		e := ents[i]
		if e.Offset < 0 || e.Length <= 0 || e.Offset+e.Length > len(u) {
			continue
		}
		mention := string(utf16.Decode(u[e.Offset : e.Offset+e.Length]))
		isMe := (e.Type == tele.EntityMention && strings.EqualFold(strings.TrimPrefix(mention, "@"), me.username)) ||
			(e.Type == tele.EntityTMention && e.User != nil && e.User.ID == me.id)
		if !isMe {
			continue
		}
		found = true
		u = append(u[:e.Offset], u[e.Offset+e.Length:]...)
	}
	return string(utf16.Decode(u)), found
}

// dispatch turns one update into an event for h, answering button presses
// at once so the user's client stops its spinner.
func (b *Bridge) dispatch(ctx context.Context, h engine.Handler, u *tele.Update) {
	me := botIdentity{id: b.me.ID, username: b.me.Username}
	switch {
	case u.Message != nil:
		ev, ok := eventFromMessage(u.ID, u.Message, me)
		if !ok {
			return
		}
		h.HandleEvent(ctx, b.newReplier(u.Message.Chat.ID, u.Message.ThreadID, ev.Private), ev)
	case u.Callback != nil:
		if err := call(ctx, func() error { return b.bot.Respond(u.Callback) }); err != nil {
			b.log.Warn("telegram answerCallbackQuery failed", "err", mapError(err))
		}
		ev, ok := eventFromCallback(u.ID, u.Callback, me)
		if !ok {
			return
		}
		h.HandleEvent(ctx, b.newReplier(u.Callback.Message.Chat.ID, u.Callback.Message.ThreadID, ev.Private), ev)
	}
}
