package telegram

import (
	"testing"

	tele "gopkg.in/telebot.v3"
)

func TestEventFromMessage_WhichMessagesAreTurns(t *testing.T) {
	me := botIdentity{id: 1000, username: "chatbridge_bot"}
	user := &tele.User{ID: 42, FirstName: "Ann", Username: "ann"}
	private := &tele.Chat{ID: 42, Type: tele.ChatPrivate}
	group := &tele.Chat{ID: -100, Type: tele.ChatSuperGroup}
	botMsg := &tele.Message{ID: 7, Sender: &tele.User{ID: 1000, IsBot: true}, Chat: group}
	otherMsg := &tele.Message{ID: 8, Sender: &tele.User{ID: 43}, Chat: group}
	mention := func(off, n int) tele.Entities {
		return tele.Entities{{Type: tele.EntityMention, Offset: off, Length: n}}
	}
	for _, tc := range []struct {
		name        string
		msg         *tele.Message
		ok          bool
		cmd, text   string
		wantPrivate bool
	}{
		{"private text", &tele.Message{Sender: user, Chat: private, Text: "hello"}, true, "", "hello", true},
		{"private command", &tele.Message{Sender: user, Chat: private, Text: "/model openai/gpt-4o"}, true, "model", "openai/gpt-4o", true},
		{"private command addressed to us", &tele.Message{Sender: user, Chat: private, Text: "/help@chatbridge_bot"}, true, "help", "", true},
		{"private command for another bot", &tele.Message{Sender: user, Chat: private, Text: "/help@other_bot"}, false, "", "", true},
		{"group without mention", &tele.Message{Sender: user, Chat: group, Text: "hello all"}, false, "", "", false},
		{"group mention", &tele.Message{Sender: user, Chat: group, Text: "@chatbridge_bot what is 2+2?", Entities: mention(0, 15)}, true, "", "what is 2+2?", false},
		{"group mention after emoji", &tele.Message{Sender: user, Chat: group, Text: "😀 @chatbridge_bot hi", Entities: mention(3, 15)}, true, "", "😀  hi", false},
		{"group mention of another bot", &tele.Message{Sender: user, Chat: group, Text: "@other_bot hi", Entities: mention(0, 10)}, false, "", "", false},
		{"group reply to the bot", &tele.Message{Sender: user, Chat: group, Text: "and then?", ReplyTo: botMsg}, true, "", "and then?", false},
		{"group reply to someone else", &tele.Message{Sender: user, Chat: group, Text: "and then?", ReplyTo: otherMsg}, false, "", "", false},
		{"group bare command", &tele.Message{Sender: user, Chat: group, Text: "/new"}, false, "", "", false},
		{"group addressed command", &tele.Message{Sender: user, Chat: group, Text: "/new@ChatBridge_Bot"}, true, "new", "", false},
		{"from a bot", &tele.Message{Sender: &tele.User{ID: 5, IsBot: true}, Chat: private, Text: "hi"}, false, "", "", true},
		{"no text (a photo)", &tele.Message{Sender: user, Chat: private}, false, "", "", true},
		{"a path is not a command", &tele.Message{Sender: user, Chat: private, Text: "/usr/bin/env is a path"}, true, "", "/usr/bin/env is a path", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, ok := eventFromMessage(99, tc.msg, me)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if ev.Command != tc.cmd || ev.Text != tc.text || ev.Private != tc.wantPrivate {
				t.Errorf("event = command %q text %q private %v, want %q %q %v", ev.Command, ev.Text, ev.Private, tc.cmd, tc.text, tc.wantPrivate)
			}
			if ev.ID != "99" || ev.Platform != Name || ev.User != "42" {
				t.Errorf("event ids = %q %q %q", ev.ID, ev.Platform, ev.User)
			}
		})
	}
}

func TestEventFromCallback_ButtonRunsItsCommand(t *testing.T) {
	me := botIdentity{id: 1000, username: "chatbridge_bot"}
	c := &tele.Callback{ID: "cb1", Sender: &tele.User{ID: 42}, Data: "/model anthropic/claude-3.5-sonnet",
		Message: &tele.Message{ID: 5, Chat: &tele.Chat{ID: 42, Type: tele.ChatPrivate}}}
	ev, ok := eventFromCallback(3, c, me)
	if !ok || ev.Command != "model" || ev.Text != "anthropic/claude-3.5-sonnet" || ev.Chat != "42" || !ev.Private {
		t.Fatalf("event = %+v, %v", ev, ok)
	}
	c.Data = "not a command"
	if _, ok := eventFromCallback(3, c, me); ok {
		t.Error("a callback without a command became an event")
	}
}
