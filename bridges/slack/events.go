package slack

import (
	"context"
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/chatbridge/chatbridge/engine"
)

// target is where the answer to an event goes.
type target struct {
	channel  string
	thread   string // the thread to reply in; empty: top level
	statusTS string // the thread an assistant status is shown in
	user     string // for ephemeral messages and streams in channels
	private  bool
}

// self is what deciding "is this message for us" needs.
type self struct {
	userID string // U…
	botID  string // B…
}

// fromInner converts an Events API inner event to an engine event. It
// reports false for events the bot does not answer: its own and other
// bots' messages, edits and other subtypes, channel messages that are not
// app mentions, and empty text. Pure.
//
// A DM's top-level messages form one conversation and are answered at top
// level; a message in a thread, and every app mention, belongs to (and is
// answered in) its thread, an app mention at top level starting one.
func fromInner(inner any, eventID, envelopeID string, eventTime time.Time, me self) (*engine.Event, target, bool) {
	var ev engine.Event
	var t target
	var clientMsgID string
	switch e := inner.(type) {
	case *slackevents.MessageEvent:
		if e.ChannelType != "im" || e.BotID != "" || e.SubType != "" || e.User == "" || e.User == me.userID || e.Channel == "" {
			return nil, t, false
		}
		ev.Text = e.Text
		ev.Chat, ev.User, ev.Private = engine.ChatID(e.Channel), engine.UserID(e.User), true
		ev.Thread = engine.ThreadID(e.ThreadTimeStamp)
		ev.Message = engine.MessageID(e.TimeStamp)
		t = target{channel: e.Channel, thread: e.ThreadTimeStamp, statusTS: first(e.ThreadTimeStamp, e.TimeStamp), user: e.User, private: true}
		clientMsgID = e.ClientMsgID
	case *slackevents.AppMentionEvent:
		if e.BotID != "" || e.User == "" || e.User == me.userID || e.Channel == "" {
			return nil, t, false
		}
		thread := first(e.ThreadTimeStamp, e.TimeStamp)
		ev.Text = stripMention(e.Text, me.userID)
		ev.Chat, ev.User, ev.Thread = engine.ChatID(e.Channel), engine.UserID(e.User), engine.ThreadID(thread)
		ev.Private = strings.HasPrefix(e.Channel, "D")
		t = target{channel: e.Channel, thread: thread, statusTS: thread, user: e.User, private: ev.Private}
	default:
		return nil, t, false
	}
	ev.Text = strings.TrimSpace(fromMrkdwn(ev.Text))
	if ev.Text == "" {
		return nil, t, false
	}
	ev.Platform, ev.Time = Name, eventTime.UTC()
	ev.ID = engine.EventID("ev:" + eventID)
	ev.AltIDs = ids("env:"+envelopeID, "msg:"+clientMsgID)
	return &ev, t, true
}

// fromSlash converts a slash command. It reports false for an unknown
// command name. Pure.
func fromSlash(c slack.SlashCommand, envelopeID string, known func(string) bool) (*engine.Event, target, bool) {
	name := strings.ToLower(strings.TrimPrefix(c.Command, "/"))
	if name == "" || !known(name) || c.UserID == "" || c.ChannelID == "" {
		return nil, target{}, false
	}
	private := strings.HasPrefix(c.ChannelID, "D") || c.ChannelName == "directmessage"
	ev := &engine.Event{
		ID:       engine.EventID("cmd:" + first(c.TriggerID, envelopeID)),
		AltIDs:   ids("env:" + envelopeID),
		Platform: Name,
		Chat:     engine.ChatID(c.ChannelID),
		User:     engine.UserID(c.UserID),
		UserName: c.UserName,
		Private:  private,
		Command:  name,
		Text:     strings.TrimSpace(fromMrkdwn(c.Text)),
		Time:     time.Now().UTC(),
	}
	return ev, target{channel: c.ChannelID, user: c.UserID, private: private}, true
}

// fromButton converts a button press (block_actions) whose value is a
// command, like "/model x". Pure.
func fromButton(cb slack.InteractionCallback, envelopeID string, known func(string) bool) (*engine.Event, target, bool) {
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 || cb.User.ID == "" {
		return nil, target{}, false
	}
	a := cb.ActionCallback.BlockActions[0]
	word, args, _ := strings.Cut(strings.TrimPrefix(a.Value, "/"), " ")
	if !strings.HasPrefix(a.Value, "/") || !known(strings.ToLower(word)) {
		return nil, target{}, false
	}
	channel := first(cb.Channel.ID, cb.Container.ChannelID)
	if channel == "" {
		return nil, target{}, false
	}
	thread := cb.Container.ThreadTs
	private := strings.HasPrefix(channel, "D")
	ev := &engine.Event{
		ID:       engine.EventID("act:" + first(a.ActionTs, cb.TriggerID, envelopeID)),
		AltIDs:   ids("env:" + envelopeID),
		Platform: Name,
		Chat:     engine.ChatID(channel),
		Thread:   engine.ThreadID(thread),
		User:     engine.UserID(cb.User.ID),
		Private:  private,
		Command:  strings.ToLower(word),
		Text:     strings.TrimSpace(args),
		Time:     time.Now().UTC(),
	}
	return ev, target{channel: channel, thread: thread, statusTS: thread, user: cb.User.ID, private: private}, true
}

// ids drops the ids whose value part is empty.
func ids(all ...string) []engine.EventID {
	var out []engine.EventID
	for _, id := range all {
		if _, v, _ := strings.Cut(id, ":"); v != "" {
			out = append(out, engine.EventID(id))
		}
	}
	return out
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// stripMention removes <@BOT> tokens from an app mention's text.
func stripMention(text, botUserID string) string {
	if botUserID == "" {
		return text
	}
	text = strings.ReplaceAll(text, "<@"+botUserID+">", "")
	return regexp.MustCompile(`<@`+regexp.QuoteMeta(botUserID)+`\|[^>]*>`).ReplaceAllString(text, "")
}

// linkRE matches Slack's angle-bracket tokens: <url|label>, <url>,
// <@U…>, <#C…|name>, <!here>.
var linkRE = regexp.MustCompile(`<([^<>|]+)(?:\|([^<>]*))?>`)

// fromMrkdwn turns what Slack sends as a message's text into plain text for
// the model: links become "label (url)" or the url, channel links their
// name, entities are unescaped. User mentions stay as <@U…>.
func fromMrkdwn(s string) string {
	s = linkRE.ReplaceAllStringFunc(s, func(tok string) string {
		m := linkRE.FindStringSubmatch(tok)
		target, label := m[1], m[2]
		switch {
		case strings.HasPrefix(target, "@"):
			return tok
		case strings.HasPrefix(target, "#"):
			if label != "" {
				return "#" + label
			}
			return tok
		case strings.HasPrefix(target, "!"):
			return "@" + strings.TrimPrefix(strings.SplitN(target, "^", 2)[0], "!")
		case label != "" && label != target && strings.TrimPrefix(strings.TrimPrefix(target, "mailto:"), "tel:") != label:
			return label + " (" + target + ")"
		}
		return strings.TrimPrefix(target, "mailto:")
	})
	return html.UnescapeString(s)
}

// onEventsAPI parses an event_callback (from Socket Mode or HTTP) and hands
// the event to the engine.
func (b *Bridge) onEventsAPI(ctx context.Context, h engine.Handler, payload json.RawMessage, envelopeID string) {
	outer, err := slackevents.ParseEvent(payload, slackevents.OptionNoVerifyToken())
	if err != nil {
		b.log.Warn("slack: unreadable event", "err", err)
		return
	}
	cb, ok := outer.Data.(*slackevents.EventsAPICallbackEvent)
	if !ok {
		return
	}
	at := time.Unix(int64(cb.EventTime), 0)
	if cb.EventTime == 0 {
		at = time.Now()
	}
	ev, t, ok := fromInner(outer.InnerEvent.Data, cb.EventID, envelopeID, at, self{userID: b.botUserID, botID: b.botID})
	if !ok {
		return
	}
	if ev.Private && strings.HasPrefix(ev.Text, "/") {
		// A command sent as text ("/model x" from a client without slash
		// commands) runs as one.
		name, args, _ := strings.Cut(ev.Text[1:], " ")
		if b.known(strings.ToLower(name)) {
			ev.Command, ev.Text = strings.ToLower(name), strings.TrimSpace(args)
		}
	}
	h.HandleEvent(ctx, b.newReplier(t.channel, t.thread, t.statusTS, t.user, t.private).forEngine(), ev)
}

func (b *Bridge) known(name string) bool {
	_, ok := b.command(name)
	return ok
}

// onSlashCommand hands a slash command to the engine; its answer goes to
// the channel (in the DM, or where the bot is a member).
func (b *Bridge) onSlashCommand(ctx context.Context, h engine.Handler, c slack.SlashCommand, envelopeID string) {
	ev, t, ok := fromSlash(c, envelopeID, b.known)
	if !ok {
		b.log.Info("slack: unknown slash command", "command", c.Command)
		return
	}
	r := b.newReplier(t.channel, t.thread, t.statusTS, t.user, t.private)
	r.responseURL = c.ResponseURL
	h.HandleEvent(ctx, r.forEngine(), ev)
}

// onInteraction runs the command behind a pressed button.
func (b *Bridge) onInteraction(ctx context.Context, h engine.Handler, cb slack.InteractionCallback, envelopeID string) {
	ev, t, ok := fromButton(cb, envelopeID, b.known)
	if !ok {
		return
	}
	r := b.newReplier(t.channel, t.thread, t.statusTS, t.user, t.private)
	r.responseURL = cb.ResponseURL
	h.HandleEvent(ctx, r.forEngine(), ev)
}
