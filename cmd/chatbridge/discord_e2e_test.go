package main_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

var (
	dcOwner    = discordtest.User{ID: "424242424242424242", Username: "owner"}
	dcStranger = discordtest.User{ID: "666666666666666666", Username: "eve"}
)

func startDiscordDaemon(t *testing.T, dir string, dc *discordtest.Server, or *openroutertest.Server) *daemon {
	t.Helper()
	section := fmt.Sprintf(`[discord]
enabled = true
api_url = %q
allowed_users = [%q]
owners = [%q]
`, dc.URL(), dcOwner.ID, dcOwner.ID)
	d := startDaemonWith(t, dir, or, section, "DISCORD_BOT_TOKEN="+dc.Token())
	waitUntil(t, d, "the gateway session", dc.Connected)
	return d
}

func dcTexts(dc *discordtest.Server, channel string) []string {
	var out []string
	for _, m := range dc.Messages(channel) {
		out = append(out, strings.TrimSpace(m.Content))
	}
	return out
}

func TestRunDiscord_HelloLongReplyStrangerAutocompleteAndMentions(t *testing.T) {
	dc := discordtest.New(t, discordtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{EchoDelay: 50 * time.Millisecond})
	d := startDiscordDaemon(t, t.TempDir(), dc, or)
	dm := dc.DM(dcOwner).ID

	dc.SendDM(dcOwner, "hello")
	waitUntil(t, d, "the streamed reply", func() bool { return last(dcTexts(dc, dm)) == "You said: hello" })
	if n := len(dc.CallsTo(discordtest.RouteEditMessage)); n == 0 {
		t.Error("the reply was not streamed by edits")
	}

	long := openroutertest.LongText(5500)
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(long), Delay: time.Millisecond})
	dc.SendDM(dcOwner, "write a lot")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	waitUntil(t, d, "the whole 5,500-word reply (19 messages)", func() bool {
		msgs := dcTexts(dc, dm)
		return len(msgs) > 1 && norm(strings.Join(msgs[1:], " ")) == norm(long)
	})
	for i, m := range dcTexts(dc, dm) {
		if n := utf8.RuneCountInString(m); n > 2000 {
			t.Errorf("message %d has %d characters, over Discord's 2000", i, n)
		}
	}

	before := len(or.Requests())
	eveDM := dc.SendDM(dcStranger, "let me in").ChannelID
	waitUntil(t, d, "the refusal", func() bool { return len(dcTexts(dc, eveDM)) == 1 })
	if n := len(or.Requests()) - before; n != 0 {
		t.Errorf("a stranger caused %d provider requests", n)
	}

	ac := dc.SendAutocomplete(dcOwner, dm, "model", discordtest.Option{Name: "id", Type: 3, Value: "gpt", Focused: true})
	waitUntil(t, d, "the autocomplete choices", func() bool {
		resp, ok := dc.InteractionResponse(ac.ID)
		return ok && resp.CallbackType == 8
	})
	resp, _ := dc.InteractionResponse(ac.ID)
	if len(resp.Choices) == 0 || len(resp.Choices) > 25 {
		t.Errorf("choices = %+v, want 1..25 catalogue matches", resp.Choices)
	}
	for _, c := range resp.Choices {
		if v, _ := c.Value.(string); !strings.Contains(v, "gpt") {
			t.Errorf("choice %q does not match what was typed", v)
		}
	}

	or.Enqueue(openroutertest.Script{Tokens: []string{"Attention @everyone ", "and @here, ", "ask <@", dcStranger.ID, ">"}})
	dc.SendDM(dcOwner, "ping them all")
	waitUntil(t, d, "the @everyone reply", func() bool { return strings.Contains(last(dcTexts(dc, dm)), "ask <@") })
	for _, m := range dc.Messages(dm) {
		if m.Pings() {
			t.Errorf("message %q pinged someone", m.Content)
		}
	}
	d.stop()
	if strings.Contains(d.log(), dc.Token()) || strings.Contains(d.log(), or.APIKey()) {
		t.Error("a secret appears in the daemon's log")
	}
}

func TestRunDiscord_RateLimitStorm(t *testing.T) {
	dc := discordtest.New(t, discordtest.Options{ChannelLimit: discordtest.Limit{Every: 2 * time.Second, Burst: 1}})
	or := openroutertest.New(t, openroutertest.Options{})
	text := strings.TrimSpace(strings.Repeat("limited ", 60))
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(text), Delay: 100 * time.Millisecond})
	d := startDiscordDaemon(t, t.TempDir(), dc, or)
	dm := dc.SendDM(dcOwner, "go").ChannelID
	dc.FailNext(discordtest.RouteEditMessage, discordtest.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond})
	waitUntil(t, d, "the whole text", func() bool { return last(dcTexts(dc, dm)) == text })
	d.stop()
	if early := dc.EarlyCalls(); len(early) != 0 {
		t.Errorf("%d requests came before their retry_after ended: %+v", len(early), early[0])
	}
}

func TestRunDiscord_KillDuringReplyThenRestart(t *testing.T) {
	dc := discordtest.New(t, discordtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(strings.Repeat("slow ", 200)), Delay: 100 * time.Millisecond})
	d := startDiscordDaemon(t, dir, dc, or)
	dm := dc.SendDM(dcOwner, "tell me a long story").ChannelID
	waitUntil(t, d, "part of the reply", func() bool {
		m := dc.Messages(dm)
		return len(m) == 1 && strings.Count(m[0].Content, "slow") >= 5 && m[0].Edits >= 1
	})
	d.kill()
	partial := dc.Messages(dm)[0].Content
	sendsBefore := len(dc.CallsTo(discordtest.RouteCreateMessage))

	d2 := startDiscordDaemon(t, dir, dc, or)
	// Discord replays what the session missed; the question must not be
	// answered again.
	for _, ev := range dc.Events() {
		if ev.Type == "MESSAGE_CREATE" && strings.Contains(string(ev.Data), "tell me a long story") {
			dc.Resend(ev)
		}
	}
	waitUntil(t, d2, "the interrupted mark", func() bool { return strings.Contains(dc.Messages(dm)[0].Content, "Interrupted") })
	if got := dc.Messages(dm)[0].Content; !strings.HasPrefix(got, strings.TrimSpace(partial)[:20]) {
		t.Errorf("the interrupted message lost its text: %q (was %q)", got, partial)
	}
	dc.SendDM(dcOwner, "are you back?")
	waitUntil(t, d2, "the next reply", func() bool { return last(dcTexts(dc, dm)) == "You said: are you back?" })
	d2.stop()
	if n := len(dc.CallsTo(discordtest.RouteCreateMessage)) - sendsBefore; n != 1 {
		t.Errorf("after the restart the bot sent %d messages, want 1 (nothing answered twice)", n)
	}
	story := 0
	for _, r := range or.Requests() {
		msgs := r.Body.Messages
		if len(msgs) > 0 && msgs[len(msgs)-1].Content == "tell me a long story" {
			story++
		}
	}
	if story != 1 {
		t.Errorf("the interrupted question was sent to the model %d times, want 1", story)
	}
}
