package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/chatbridge/chatbridge/engine"
)

var me = self{userID: "UBOT", botID: "BBOT"}

func TestFromInner_WhichEventsAreTurns(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	cases := []struct {
		name           string
		inner          any
		want           bool
		text, chat     string
		thread, replyT string
		private        bool
	}{
		{name: "DM top level", inner: &slackevents.MessageEvent{ChannelType: "im", Channel: "D1", User: "U1", Text: "hello", TimeStamp: "1.1", ClientMsgID: "c1"},
			want: true, text: "hello", chat: "D1", private: true},
		{name: "DM in a thread", inner: &slackevents.MessageEvent{ChannelType: "im", Channel: "D1", User: "U1", Text: "more", TimeStamp: "1.3", ThreadTimeStamp: "1.1"},
			want: true, text: "more", chat: "D1", thread: "1.1", replyT: "1.1", private: true},
		{name: "own message", inner: &slackevents.MessageEvent{ChannelType: "im", Channel: "D1", User: "UBOT", Text: "hi"}},
		{name: "a bot", inner: &slackevents.MessageEvent{ChannelType: "im", Channel: "D1", User: "U2", BotID: "B2", Text: "hi"}},
		{name: "an edit", inner: &slackevents.MessageEvent{ChannelType: "im", Channel: "D1", User: "U1", SubType: "message_changed", Text: "hi"}},
		{name: "channel chatter", inner: &slackevents.MessageEvent{ChannelType: "channel", Channel: "C1", User: "U1", Text: "hi"}},
		{name: "mention at top level starts a thread", inner: &slackevents.AppMentionEvent{Channel: "C1", User: "U1", Text: "<@UBOT> what is Go?", TimeStamp: "2.1"},
			want: true, text: "what is Go?", chat: "C1", thread: "2.1", replyT: "2.1"},
		{name: "mention in a thread continues it", inner: &slackevents.AppMentionEvent{Channel: "C1", User: "U1", Text: "<@UBOT> and then?", TimeStamp: "2.5", ThreadTimeStamp: "2.1"},
			want: true, text: "and then?", chat: "C1", thread: "2.1", replyT: "2.1"},
		{name: "bare mention", inner: &slackevents.AppMentionEvent{Channel: "C1", User: "U1", Text: "<@UBOT>", TimeStamp: "2.1"}},
		{name: "mrkdwn unescaped", inner: &slackevents.MessageEvent{ChannelType: "im", Channel: "D1", User: "U1", Text: "a &lt;b&gt; &amp; <https://go.dev|Go> <https://x.y>"},
			want: true, text: "a <b> & Go (https://go.dev) https://x.y", chat: "D1", private: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, tg, ok := fromInner(c.inner, "Ev1", "env1", at, me)
			if ok != c.want {
				t.Fatalf("answered = %v, want %v", ok, c.want)
			}
			if !ok {
				return
			}
			if ev.Text != c.text || string(ev.Chat) != c.chat || string(ev.Thread) != c.thread || ev.Private != c.private {
				t.Errorf("event = %+v", ev)
			}
			if tg.thread != c.replyT || tg.channel != c.chat {
				t.Errorf("reply goes to %+v, want thread %q", tg, c.replyT)
			}
			if ev.ID != "ev:Ev1" || !ev.Time.Equal(at) {
				t.Errorf("id/time = %q %v", ev.ID, ev.Time)
			}
		})
	}
	ev, _, _ := fromInner(cases[0].inner, "Ev1", "env1", at, me)
	if got := ev.AltIDs; len(got) != 2 || got[0] != "env:env1" || got[1] != "msg:c1" {
		t.Errorf("alt ids = %q, want the envelope and the client message id", got)
	}
	ev, _, _ = fromInner(cases[0].inner, "Ev1", "", at, me)
	if got := ev.AltIDs; len(got) != 1 {
		t.Errorf("alt ids without an envelope = %q", got)
	}
}

func TestFromSlashAndButton(t *testing.T) {
	known := func(n string) bool { return n == "model" || n == "help" }
	ev, tg, ok := fromSlash(slack.SlashCommand{Command: "/model", Text: "openai/gpt-4o", UserID: "U1", ChannelID: "D1", TriggerID: "tr1"}, "env2", known)
	if !ok || ev.Command != "model" || ev.Text != "openai/gpt-4o" || !ev.Private || ev.ID != "cmd:tr1" || tg.channel != "D1" {
		t.Errorf("slash: %+v %+v %v", ev, tg, ok)
	}
	if _, _, ok := fromSlash(slack.SlashCommand{Command: "/weather", UserID: "U1", ChannelID: "C1"}, "env3", known); ok {
		t.Error("an unknown command became an event")
	}
	var cb slack.InteractionCallback
	raw := `{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"D1"},"container":{"type":"message","message_ts":"5.5","channel_id":"D1"},
		"actions":[{"action_id":"cmd0","block_id":"commands","type":"button","value":"/model anthropic/claude-3.5-sonnet","action_ts":"6.6"}]}`
	if err := json.Unmarshal([]byte(raw), &cb); err != nil {
		t.Fatal(err)
	}
	ev, _, ok = fromButton(cb, "env4", known)
	if !ok || ev.Command != "model" || ev.Text != "anthropic/claude-3.5-sonnet" || ev.ID != "act:6.6" {
		t.Errorf("button: %+v %v", ev, ok)
	}
}

func sign(secret string, ts int64, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + strconv.FormatInt(ts, 10) + ":" + body))
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func TestVerifier(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	v := newVerifier("s3cret", func() time.Time { return now })
	body := `{"type":"event_callback"}`
	hdr := func(ts int64, sig string) http.Header {
		h := http.Header{}
		h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
		h.Set("X-Slack-Signature", sig)
		return h
	}
	if err := v.check(hdr(now.Unix(), sign("s3cret", now.Unix(), body)), []byte(body)); err != nil {
		t.Errorf("a good request: %v", err)
	}
	if err := v.check(hdr(now.Unix(), sign("s3cret", now.Unix(), body)), []byte(body)); !errors.Is(err, errReplay) {
		t.Errorf("the same request again: %v, want a replay refusal", err)
	}
	if err := v.check(hdr(now.Unix(), sign("wrong", now.Unix(), body)), []byte(body)); !errors.Is(err, errUnsigned) {
		t.Errorf("a bad signature: %v", err)
	}
	if err := v.check(hdr(now.Unix(), sign("s3cret", now.Unix(), body)), []byte(body+" ")); !errors.Is(err, errUnsigned) {
		t.Errorf("a changed body: %v", err)
	}
	old := now.Add(-6 * time.Minute).Unix()
	if err := v.check(hdr(old, sign("s3cret", old, body)), []byte(body)); !errors.Is(err, errReplay) {
		t.Errorf("an old request: %v", err)
	}
	if err := v.check(http.Header{}, []byte(body)); !errors.Is(err, errUnsigned) {
		t.Errorf("no headers: %v", err)
	}
}

func TestManifestListsEveryCommand(t *testing.T) {
	cmds := engine.CommandSpecs()
	raw, err := Manifest(cmds, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			SlashCommands []struct {
				Command, Description string
			} `json:"slash_commands"`
		} `json:"features"`
		OAuth struct {
			Scopes struct{ Bot []string } `json:"scopes"`
		} `json:"oauth_config"`
		Settings struct {
			Events struct {
				BotEvents []string `json:"bot_events"`
			} `json:"event_subscriptions"`
			SocketMode bool `json:"socket_mode_enabled"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range m.Features.SlashCommands {
		listed[c.Command] = c.Description != ""
	}
	for _, c := range cmds {
		if !listed["/"+c.Name] {
			t.Errorf("the manifest lacks /%s", c.Name)
		}
	}
	for _, scope := range []string{"app_mentions:read", "chat:write", "im:history", "commands", "files:write"} {
		if !strings.Contains(strings.Join(m.OAuth.Scopes.Bot, " "), scope) {
			t.Errorf("scope %s missing", scope)
		}
	}
	if ev := strings.Join(m.Settings.Events.BotEvents, " "); !strings.Contains(ev, "message.im") || !strings.Contains(ev, "app_mention") {
		t.Errorf("events = %s", ev)
	}
	if !m.Settings.SocketMode {
		t.Error("socket mode is off")
	}
	raw, _ = Manifest(cmds, ManifestOptions{RequestURL: "https://bot.example.com/"})
	if !strings.Contains(string(raw), `"request_url": "https://bot.example.com/"`) || !strings.Contains(string(raw), `"socket_mode_enabled": false`) {
		t.Errorf("HTTP mode manifest: %s", raw)
	}
}

func TestMapError(t *testing.T) {
	var rl *engine.RateLimitError
	if err := mapError(&slack.RateLimitedError{RetryAfter: 3 * time.Second}); !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Errorf("429: %v", err)
	}
	if err := mapError(slack.StatusCodeError{Code: 429, Status: "429"}); !errors.As(err, &rl) || rl.RetryAfter <= 0 {
		t.Errorf("429 without Retry-After: %v", err)
	}
	if err := mapError(slack.SlackErrorResponse{Err: "msg_too_long"}); !errors.Is(err, engine.ErrTooLong) {
		t.Errorf("msg_too_long: %v", err)
	}
	err := mapError(errors.New(`Post "https://hooks.slack.com/commands/T1/123/abcSECRET": timeout`))
	if strings.Contains(err.Error(), "abcSECRET") {
		t.Errorf("the response URL leaked: %v", err)
	}
}
