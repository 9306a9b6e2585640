package discord

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/engine"
)

func TestEventFromMessage_WhichMessagesAreTurns(t *testing.T) {
	me := identity{id: "900"}
	ann := &discordgo.User{ID: "42", Username: "ann"}
	known := func(name string) bool { return name == "model" || name == "help" }
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name      string
		m         *discordgo.Message
		botThread bool
		want      bool
		text, cmd string
		private   bool
	}{
		{name: "DM", m: &discordgo.Message{ID: "1", ChannelID: "100", Content: "hello", Author: ann, Timestamp: at}, want: true, text: "hello", private: true},
		{name: "DM command", m: &discordgo.Message{ID: "2", ChannelID: "100", Content: "/model openai/gpt-4o", Author: ann}, want: true, cmd: "model", text: "openai/gpt-4o", private: true},
		{name: "DM path is not a command", m: &discordgo.Message{ID: "3", ChannelID: "100", Content: "/etc/hosts what is it", Author: ann}, want: true, text: "/etc/hosts what is it", private: true},
		{name: "own message", m: &discordgo.Message{ID: "4", ChannelID: "100", Content: "hi", Author: &discordgo.User{ID: "900"}}},
		{name: "another bot", m: &discordgo.Message{ID: "5", ChannelID: "100", Content: "hi", Author: &discordgo.User{ID: "7", Bot: true}}},
		{name: "empty", m: &discordgo.Message{ID: "6", ChannelID: "100", Content: "  ", Author: ann}},
		{name: "guild chatter", m: &discordgo.Message{ID: "7", GuildID: "g", ChannelID: "200", Content: "just chatting", Author: ann}},
		{name: "guild mention", m: &discordgo.Message{ID: "8", GuildID: "g", ChannelID: "200", Content: "<@900> ping", Author: ann, Mentions: []*discordgo.User{{ID: "900"}}}, want: true, text: "ping"},
		{name: "guild old-style mention", m: &discordgo.Message{ID: "9", GuildID: "g", ChannelID: "200", Content: "hey <@!900>, ping", Author: ann}, want: true, text: "hey , ping"},
		{name: "mention of someone else", m: &discordgo.Message{ID: "10", GuildID: "g", ChannelID: "200", Content: "<@77> ping", Author: ann, Mentions: []*discordgo.User{{ID: "77"}}}},
		{name: "bot thread", m: &discordgo.Message{ID: "11", GuildID: "g", ChannelID: "300", Content: "go on", Author: ann}, botThread: true, want: true, text: "go on"},
		{name: "bare mention", m: &discordgo.Message{ID: "12", GuildID: "g", ChannelID: "200", Content: "<@900>", Author: ann}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, ok := eventFromMessage(c.m, me, c.botThread, known)
			if ok != c.want {
				t.Fatalf("answered = %v, want %v", ok, c.want)
			}
			if !ok {
				return
			}
			if ev.Text != c.text || ev.Command != c.cmd || ev.Private != c.private {
				t.Errorf("event = %+v, want text %q command %q private %v", ev, c.text, c.cmd, c.private)
			}
			if string(ev.Chat) != c.m.ChannelID || ev.User != "42" || ev.ID != "m"+ev.ID[1:] || ev.ID == "m" {
				t.Errorf("event = %+v: chat/user/id wrong", ev)
			}
		})
	}
	ev, _ := eventFromMessage(cases[0].m, me, false, known)
	if !ev.Time.Equal(at) {
		t.Errorf("time = %v, want the message's timestamp", ev.Time)
	}
}

func interaction(t *testing.T, raw string) *discordgo.Interaction {
	t.Helper()
	var i discordgo.Interaction
	if err := json.Unmarshal([]byte(raw), &i); err != nil {
		t.Fatal(err)
	}
	return &i
}

func TestEventFromInteraction(t *testing.T) {
	cmd := interaction(t, `{"id":"3001","application_id":"800","type":2,"token":"itok","channel_id":"100",
		"user":{"id":"42","username":"ann"},"data":{"id":"7","name":"model","type":1,"options":[{"name":"id","type":3,"value":"openai/gpt-4o"}]}}`)
	ev, ok := eventFromInteraction(cmd)
	if !ok || ev.Command != "model" || ev.Text != "openai/gpt-4o" || !ev.Private || ev.User != "42" || ev.Chat != "100" || ev.ID != "i3001" {
		t.Errorf("slash command: %+v %v", ev, ok)
	}
	guild := interaction(t, `{"id":"3002","application_id":"800","type":2,"token":"itok","channel_id":"200","guild_id":"5",
		"member":{"user":{"id":"43","username":"bo"},"permissions":"0"},"data":{"id":"7","name":"help","type":1}}`)
	ev, ok = eventFromInteraction(guild)
	if !ok || ev.Command != "help" || ev.Text != "" || ev.Private || ev.User != "43" {
		t.Errorf("guild command: %+v %v", ev, ok)
	}
	button := interaction(t, `{"id":"3003","application_id":"800","type":3,"token":"itok","channel_id":"100",
		"user":{"id":"42","username":"ann"},"data":{"custom_id":"/model anthropic/claude-3.5-sonnet","component_type":2}}`)
	ev, ok = eventFromInteraction(button)
	if !ok || ev.Command != "model" || ev.Text != "anthropic/claude-3.5-sonnet" {
		t.Errorf("button: %+v %v", ev, ok)
	}
	auto := interaction(t, `{"id":"3004","application_id":"800","type":4,"token":"itok","channel_id":"100",
		"user":{"id":"42","username":"ann"},"data":{"id":"7","name":"model","type":1,"options":[{"name":"id","type":3,"value":"clau","focused":true}]}}`)
	if _, ok := eventFromInteraction(auto); ok {
		t.Error("an autocomplete became an event")
	}
	if got := focusedText(auto); got != "clau" {
		t.Errorf("focused text = %q", got)
	}
}

func TestApplicationCommands(t *testing.T) {
	specs := []struct{ name, usage, option string }{
		{"help", "", ""},
		{"model", "[id]", "id"},
		{"temperature", "[0..2]", "value"},
		{"system", "[text|reset]", "value"},
		{"tag", "add|remove|list [tag]", "value"},
		{"apikey", "<key>|reset", "value"},
	}
	var in []engine.CommandSpec
	for _, s := range specs {
		in = append(in, engine.CommandSpec{Name: s.name, Usage: s.usage, Description: strings.Repeat("d", 150)})
	}
	cmds := applicationCommands(in)
	for i, c := range cmds {
		s := specs[i]
		if c.Name != s.name || c.Contexts == nil || len(*c.Contexts) != 3 || utf8.RuneCountInString(c.Description) != 100 {
			t.Errorf("%s: %+v", s.name, c)
		}
		if s.option == "" {
			if len(c.Options) != 0 {
				t.Errorf("%s has options", s.name)
			}
			continue
		}
		if len(c.Options) != 1 || c.Options[0].Name != s.option || c.Options[0].Description != s.usage {
			t.Errorf("%s option = %+v, want %q", s.name, c.Options, s.option)
			continue
		}
		if c.Options[0].Autocomplete != (s.name == "model") {
			t.Errorf("%s autocomplete = %v", s.name, c.Options[0].Autocomplete)
		}
		if c.Options[0].Required != (s.name == "apikey") {
			t.Errorf("%s required = %v", s.name, c.Options[0].Required)
		}
	}
}
