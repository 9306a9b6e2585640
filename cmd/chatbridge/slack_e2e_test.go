package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

const (
	slOwner    = "U0OWNER1"
	slStranger = "U0EVE666"
)

func startSlackDaemon(t *testing.T, dir string, sl *slacktest.Server, or *openroutertest.Server) *daemon {
	t.Helper()
	section := fmt.Sprintf(`[slack]
enabled = true
api_url = %q
allowed_users = [%q]
owners = [%q]
`, sl.APIURL(), slOwner, slOwner)
	d := startDaemonWith(t, dir, or, section, "SLACK_BOT_TOKEN="+sl.BotToken(), "SLACK_APP_TOKEN="+sl.AppToken())
	waitUntil(t, d, "the Socket Mode connection", func() bool { return sl.Connections() > 0 })
	return d
}

func slTexts(sl *slacktest.Server, channel string) []string {
	var out []string
	for _, m := range sl.Messages(channel) {
		out = append(out, m.Text)
	}
	return out
}

func TestRunSlack_HelloLongReplyStrangerAndThreads(t *testing.T) {
	sl := slacktest.New(t, slacktest.Options{})
	or := openroutertest.New(t, openroutertest.Options{EchoDelay: 50 * time.Millisecond})
	d := startSlackDaemon(t, t.TempDir(), sl, or)
	dm := slacktest.DMChannel(slOwner)

	sl.SendDM(slOwner, "hello")
	waitUntil(t, d, "the streamed reply", func() bool { return last(slTexts(sl, dm)) == "You said: hello" })
	if n := len(sl.CallsTo("chat.update")); n == 0 {
		t.Error("the reply was not streamed by chat.update")
	}

	long := openroutertest.LongText(10000)
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(long), Delay: time.Millisecond})
	sl.SendDM(slOwner, "write a lot")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	waitUntil(t, d, "the whole 10,000-word reply", func() bool {
		msgs := slTexts(sl, dm)
		return len(msgs) > 1 && norm(strings.Join(msgs[1:], " ")) == norm(long)
	})
	for i, m := range slTexts(sl, dm) {
		if n := len([]rune(m)); n > 3900 {
			t.Errorf("message %d has %d characters", i, n)
		}
	}

	before := len(or.Requests())
	sl.SendDM(slStranger, "let me in")
	eveDM := slacktest.DMChannel(slStranger)
	waitUntil(t, d, "the refusal", func() bool { return len(slTexts(sl, eveDM)) == 1 })
	if n := len(or.Requests()) - before; n != 0 {
		t.Errorf("a stranger caused %d provider requests", n)
	}

	sl.AddChannel(slacktest.Channel{ID: "C0TEAM", Name: "team"})
	first := sl.SendMention("C0TEAM", slOwner, "<@"+slacktest.DefaultBotUserID+"> start", "")
	waitUntil(t, d, "the answer in the thread", func() bool { return len(sl.ThreadMessages("C0TEAM", first.TS)) == 1 })
	sl.SendMention("C0TEAM", slOwner, "<@"+slacktest.DefaultBotUserID+"> continue", first.TS)
	waitUntil(t, d, "the second answer in the thread", func() bool { return len(sl.ThreadMessages("C0TEAM", first.TS)) == 2 })
	reqs := or.Requests()
	found := false
	for _, m := range reqs[len(reqs)-1].Body.Messages {
		found = found || m.Content == "start"
	}
	if !found {
		t.Error("a reply in a thread did not continue that thread's conversation")
	}
	d.stop()
	for _, secret := range []string{sl.BotToken(), sl.AppToken(), or.APIKey()} {
		if strings.Contains(d.log(), secret) {
			t.Error("a secret appears in the daemon's log")
		}
	}
}

func TestRunSlack_RateLimitStorm(t *testing.T) {
	sl := slacktest.New(t, slacktest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	text := strings.TrimSpace(strings.Repeat("limited ", 60))
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(text), Delay: 100 * time.Millisecond})
	d := startSlackDaemon(t, t.TempDir(), sl, or)
	sl.SetLimit("chat.update", slacktest.Limit{Every: 2 * time.Second, Burst: 1})
	sl.FailNext("chat.update", http.StatusTooManyRequests, "ratelimited", 2)
	sl.SendDM(slOwner, "go")
	dm := slacktest.DMChannel(slOwner)
	waitUntil(t, d, "the whole text", func() bool { return last(slTexts(sl, dm)) == text })
	d.stop()
	if early := sl.EarlyCalls(); len(early) != 0 {
		t.Errorf("%d requests came before their Retry-After ended: %+v", len(early), early[0])
	}
}

func TestRunSlack_KillDuringReplyThenRestart(t *testing.T) {
	sl := slacktest.New(t, slacktest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	dm := slacktest.DMChannel(slOwner)
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(strings.Repeat("slow ", 200)), Delay: 100 * time.Millisecond})
	d := startSlackDaemon(t, dir, sl, or)
	sent := sl.SendDM(slOwner, "tell me a long story")
	waitUntil(t, d, "part of the reply", func() bool {
		m := sl.Messages(dm)
		return len(m) == 1 && strings.Count(m[0].Text, "slow") >= 5 && m[0].Edits >= 1
	})
	d.kill()
	partial := sl.Messages(dm)[0].Text
	postsBefore := len(sl.CallsTo("chat.postMessage"))

	d2 := startSlackDaemon(t, dir, sl, or)
	if _, err := sl.Redeliver(sent.EnvelopeID); err != nil { // Slack retries the event
		t.Fatal(err)
	}
	waitUntil(t, d2, "the interrupted mark", func() bool { return strings.Contains(sl.Messages(dm)[0].Text, "Interrupted") })
	if got := sl.Messages(dm)[0].Text; !strings.HasPrefix(got, strings.TrimSpace(partial)[:20]) {
		t.Errorf("the interrupted message lost its text: %q (was %q)", got, partial)
	}
	sl.SendDM(slOwner, "are you back?")
	waitUntil(t, d2, "the next reply", func() bool { return last(slTexts(sl, dm)) == "You said: are you back?" })
	d2.stop()
	if n := len(sl.CallsTo("chat.postMessage")) - postsBefore; n != 1 {
		t.Errorf("after the restart the bot posted %d messages, want 1 (nothing answered twice)", n)
	}
}

func TestSlackManifest_ListsEveryCommand(t *testing.T) {
	res := runBinary(t, t.TempDir(), "", nil, "slack-manifest")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	for _, cmd := range []string{"/help", "/new", "/model", "/models", "/temperature", "/maxtokens", "/system", "/settings",
		"/retry", "/stop", "/usage", "/status", "/export", "/forget"} {
		if !strings.Contains(res.stdout, `"command": "`+cmd+`"`) {
			t.Errorf("the manifest lacks %s", cmd)
		}
	}
	if !strings.Contains(res.stdout, `"socket_mode_enabled": true`) {
		t.Error("the manifest does not turn on Socket Mode")
	}
	if res := runBinary(t, t.TempDir(), "", nil, "slack-manifest", "-request-url", "http://insecure"); res.code != 2 {
		t.Errorf("a non-https request URL: exit %d, want 2", res.code)
	}
}
