package slack_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/bridges/slack"
	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	ann  = "U0ANN"
	eve  = "U0EVE"
	room = "C0ROOM"
)

// rig is a running bridge and engine against a fake Slack.
type rig struct {
	t      *testing.T
	fake   *slacktest.Server
	prov   *enginetest.Provider
	store  *enginetest.MemStore
	bridge *slack.Bridge
	eng    *engine.Engine
	stop   func()
}

type rigOption func(*slack.Options, *slacktest.Options)

func newRig(t *testing.T, prov *enginetest.Provider, opts ...rigOption) *rig {
	t.Helper()
	fo := slacktest.Options{PingInterval: 50 * time.Millisecond}
	bo := slack.Options{PingInterval: 2 * time.Second}
	for _, f := range opts {
		f(&bo, &fo)
	}
	fake := slacktest.New(t, fo)
	fake.AddChannel(slacktest.Channel{ID: room, Name: "general"})
	bo.BotToken, bo.AppToken, bo.APIURL = fake.BotToken(), fake.AppToken(), fake.APIURL()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	bo.HTTPClient = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	r := &rig{t: t, fake: fake, prov: prov, store: enginetest.NewMemStore()}
	r.start(bo)
	return r
}

func (r *rig) start(bo slack.Options) {
	r.t.Helper()
	br, err := slack.New(context.Background(), bo)
	if err != nil {
		r.t.Fatal(err)
	}
	r.bridge = br
	r.eng, r.stop = enginetest.StartBridge(r.t, br, r.prov, r.store, ann)
}

func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	enginetest.WaitFor(r.t, what, cond, func() string {
		var names []string
		for _, c := range r.fake.Calls() {
			names = append(names, c.Method+"="+c.Error)
		}
		return "calls: " + strings.Join(names, ",")
	})
}

func (r *rig) texts(channel string) []string {
	var out []string
	for _, m := range r.fake.Messages(channel) {
		out = append(out, m.Text)
	}
	return out
}

func (r *rig) lastText(channel string) string { return enginetest.Last(r.texts(channel)) }

var dm = slacktest.DMChannel(ann)

func TestBridge_DMStreamsByUpdates(t *testing.T) {
	deltas := enginetest.Words(12, "streamed")
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r := newRig(t, enginetest.NewProvider(enginetest.Script{FirstDelay: 300 * time.Millisecond, Delay: 250 * time.Millisecond, Deltas: deltas}))
	sent := r.fake.SendDM(ann, "hello")
	r.waitFor("the whole reply", func() bool { return r.lastText(dm) == want })
	r.stop()
	msgs := r.fake.Messages(dm)
	if len(msgs) != 1 {
		t.Fatalf("messages = %d, want 1", len(msgs))
	}
	if msgs[0].ThreadTS != "" {
		t.Errorf("a top-level DM was answered in a thread (%s)", msgs[0].ThreadTS)
	}
	if msgs[0].UnfurlLinks == nil || *msgs[0].UnfurlLinks || msgs[0].UnfurlMedia == nil || *msgs[0].UnfurlMedia {
		t.Errorf("unfurling not off: %+v %+v", msgs[0].UnfurlLinks, msgs[0].UnfurlMedia)
	}
	var post time.Time
	var updates []time.Time
	for _, c := range r.fake.Calls() {
		switch c.Method {
		case "chat.postMessage":
			post = c.At
		case "chat.update":
			if c.OK {
				updates = append(updates, c.At)
			}
		}
	}
	if len(updates) < 2 {
		t.Errorf("chat.update calls = %d, want the reply to grow by updates", len(updates))
	}
	prev := post
	for _, u := range updates {
		if gap := u.Sub(prev); gap < 1200*time.Millisecond {
			t.Errorf("update %s after the previous call, want >= 1.2s", gap)
		}
		prev = u
	}
	if st := r.fake.Statuses(); len(st) == 0 || st[0].ThreadTS != sent.TS || !st[0].At.Before(post) {
		t.Errorf("assistant statuses = %+v, want one on the message's thread before the reply", st)
	}
	if n := len(r.fake.Acks()); n < 1 {
		t.Error("the envelope was not acked")
	}
}

func TestBridge_LongReplySplitWithoutLoss(t *testing.T) {
	var b strings.Builder
	for b.Len() < 10000 {
		b.WriteString("This sentence is part of a long answer. ")
		if b.Len()%700 < 40 {
			b.WriteString("\n\n")
		}
	}
	reply := b.String()
	var deltas []string
	for s := reply; s != ""; {
		n := min(500, len(s))
		deltas, s = append(deltas, s[:n]), s[n:]
	}
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 20 * time.Millisecond, Deltas: deltas}))
	r.fake.SendDM(ann, "write a lot")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	r.waitFor("the whole reply", func() bool { return norm(strings.Join(r.texts(dm), " ")) == norm(reply) })
	if n := len(r.texts(dm)); n < 3 {
		t.Errorf("messages = %d, want 3 or more", n)
	}
	for i, m := range r.fake.Messages(dm) {
		if n := len([]rune(m.Text)); n > 3900 {
			t.Errorf("message %d has %d characters, over 3900", i, n)
		}
	}
}

func TestBridge_StrangerCostsNothing(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	r.fake.SendDM(eve, "hi")
	r.fake.SendDM(eve, "hello?")
	evesDM := slacktest.DMChannel(eve)
	r.waitFor("the refusal", func() bool { return len(r.texts(evesDM)) == 1 })
	time.Sleep(300 * time.Millisecond)
	r.stop()
	if got := r.texts(evesDM); len(got) != 1 || !strings.Contains(got[0], "private bot") {
		t.Errorf("stranger saw %q, want one refusal", got)
	}
	if n := len(r.prov.Requests()); n != 0 {
		t.Errorf("provider requests = %d, want 0", n)
	}
}

func TestBridge_MentionsAreAnsweredInTheirThread(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	first := r.fake.SendMention(room, ann, "<@"+slacktest.DefaultBotUserID+"> remember 42", "")
	r.waitFor("the answer", func() bool { return len(r.fake.ThreadMessages(room, first.TS)) == 1 })
	r.fake.SendMention(room, ann, "<@"+slacktest.DefaultBotUserID+"> what did I say?", first.TS)
	r.waitFor("the second answer", func() bool { return len(r.fake.ThreadMessages(room, first.TS)) == 2 })
	other := r.fake.SendMention(room, ann, "<@"+slacktest.DefaultBotUserID+"> fresh start", "")
	r.waitFor("the third answer", func() bool { return len(r.fake.ThreadMessages(room, other.TS)) == 1 })
	r.stop()
	reqs := r.prov.Requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d", len(reqs))
	}
	hist := func(i int) string {
		var parts []string
		for _, m := range reqs[i].Req.Messages {
			parts = append(parts, m.Content)
		}
		return strings.Join(parts, "|")
	}
	if h := hist(1); !strings.Contains(h, "remember 42") || !strings.Contains(h, "what did I say?") {
		t.Errorf("the reply in the thread did not continue its conversation: %s", h)
	}
	if h := hist(2); strings.Contains(h, "remember 42") {
		t.Errorf("a new thread saw another thread's history: %s", h)
	}
	for _, m := range r.fake.Messages(room) {
		if m.ThreadTS == "" {
			t.Errorf("a channel answer was posted at top level: %q", m.Text)
		}
	}
}

func TestBridge_RedeliveredEnvelopeAnsweredOnce(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	sent := r.fake.SendDM(ann, "only once")
	r.waitFor("the reply", func() bool { return r.lastText(dm) == "You said: only once" })
	if _, err := r.fake.Redeliver(sent.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	r.fake.SendDM(ann, "a new one")
	r.waitFor("the new reply", func() bool { return r.lastText(dm) == "You said: a new one" })
	r.stop()
	// And after a restart with the same storage.
	r.start(slack.Options{BotToken: r.fake.BotToken(), AppToken: r.fake.AppToken(), APIURL: r.fake.APIURL(), PingInterval: 2 * time.Second,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if _, err := r.fake.Redeliver(sent.EnvelopeID); err != nil {
		t.Fatal(err)
	}
	r.fake.SendDM(ann, "third")
	r.waitFor("the third reply", func() bool { return r.lastText(dm) == "You said: third" })
	r.stop()
	if n := len(r.prov.Requests()); n != 3 {
		t.Errorf("provider requests = %d, want 3", n)
	}
	if n := len(r.texts(dm)); n != 3 {
		t.Errorf("messages = %d (%q), want 3", n, r.texts(dm))
	}
}

func TestBridge_SlashCommandsExportAndButtons(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	r.fake.SendDM(ann, "remember me")
	r.waitFor("the reply", func() bool { return r.lastText(dm) == "You said: remember me" })
	r.fake.SendSlashCommand(ann, "", "/export", "")
	r.waitFor("the export file", func() bool {
		for _, f := range r.fake.Files() {
			if f.Completed && bytes.Contains(f.Data, []byte("remember me")) {
				return true
			}
		}
		return false
	})
	r.fake.SendSlashCommand(ann, "", "/model", "")
	var kb slacktest.Message
	r.waitFor("the model buttons", func() bool {
		for _, m := range r.fake.Messages(dm) {
			if strings.Contains(m.Text, "Model:") && len(m.Blocks) > 0 {
				kb = m
				return true
			}
		}
		return false
	})
	if !strings.Contains(string(kb.Blocks), "/model anthropic/claude-3.5-sonnet") {
		t.Fatalf("blocks = %s", kb.Blocks)
	}
	r.fake.SendBlockAction(ann, dm, kb.TS, "cmd1", "/model anthropic/claude-3.5-sonnet")
	r.waitFor("the model change", func() bool {
		return strings.Contains(r.lastText(dm), "anthropic/claude-3.5-sonnet") && strings.Contains(r.lastText(dm), "set to")
	})
	r.fake.SendSlashCommand(ann, "", "/temperature", "0.3")
	r.waitFor("the setting", func() bool { return strings.Contains(r.lastText(dm), "0.3") })
}

func TestBridge_RateLimitedUpdateWaitsRetryAfter(t *testing.T) {
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 100 * time.Millisecond, Deltas: enginetest.Words(40, "limit")}))
	r.fake.FailNext("chat.update", http.StatusTooManyRequests, "ratelimited", 2)
	r.fake.SendDM(ann, "hi")
	want := strings.TrimSpace(strings.Repeat("limit ", 40))
	r.waitFor("the reply", func() bool { return r.lastText(dm) == want })
	r.stop()
	if early := r.fake.EarlyCalls(); len(early) != 0 {
		t.Errorf("%d calls came before Retry-After ended: %+v", len(early), early[0])
	}
	var limitedAt time.Time
	for _, c := range r.fake.Calls() {
		if c.Status == http.StatusTooManyRequests {
			limitedAt = c.At
		} else if !limitedAt.IsZero() && (c.Method == "chat.update" || c.Method == "chat.postMessage") && c.At.Sub(limitedAt) < 2*time.Second {
			t.Errorf("%s %s after the 429, want none for 2s", c.Method, c.At.Sub(limitedAt))
		}
	}
	if limitedAt.IsZero() {
		t.Error("the 429 never happened")
	}
}

func TestBridge_ModelOutputMentionsNobody(t *testing.T) {
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Deltas: []string{"Hey <!channel> and <!here>, ping <@U0BOSS> & @everyone"}}))
	r.fake.SendDM(ann, "say it")
	r.waitFor("the reply", func() bool { return strings.Contains(r.lastText(dm), "ping") })
	got := r.lastText(dm)
	for _, bad := range []string{"<!channel>", "<!here>", "<@U0BOSS>", "@everyone"} {
		if strings.Contains(got, bad) {
			t.Errorf("reply %q still holds the live mention %s", got, bad)
		}
	}
}

func TestBridge_NativeStreaming(t *testing.T) {
	deltas := enginetest.Words(10, "native")
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 250 * time.Millisecond, Deltas: deltas}),
		func(bo *slack.Options, _ *slacktest.Options) { bo.StreamMode = "native" })
	r.fake.SendDM(ann, "hi")
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r.waitFor("the stopped stream", func() bool {
		m := r.fake.Messages(dm)
		return len(m) == 1 && m[0].Streamed && !m[0].Streaming && strings.TrimSpace(m[0].Text) == want
	})
	r.stop()
	if n := len(r.fake.CallsTo("chat.appendStream")); n < 1 {
		t.Errorf("appendStream calls = %d, want the reply to grow", n)
	}
	if n := len(r.fake.CallsTo("chat.update")); n != 0 {
		t.Errorf("chat.update calls = %d, want none in native mode", n)
	}
}

func TestBridge_HTTPEventsSignedOnly(t *testing.T) {
	const secret = "signing-secret"
	addr := make(chan string, 1)
	r := newRig(t, enginetest.NewProvider(), func(bo *slack.Options, _ *slacktest.Options) {
		bo.Listen, bo.SigningSecret, bo.AppToken = "127.0.0.1:0", secret, ""
		bo.OnListen = func(a string) { addr <- a }
	})
	url := "http://" + <-addr + "/slack/events"
	post := func(req *http.Request) int {
		t.Helper()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body, _ := r.fake.EventBody(r.fake.DMEvent(ann, "forged", ""))
	bad, _ := slacktest.NewEventRequest(url, "not-the-secret", time.Now(), body)
	if code := post(bad); code != http.StatusUnauthorized {
		t.Errorf("a bad signature got %d, want 401", code)
	}
	old, _ := slacktest.NewEventRequest(url, secret, time.Now().Add(-10*time.Minute), body)
	if code := post(old); code != http.StatusUnauthorized {
		t.Errorf("a 10-minute-old request got %d, want 401", code)
	}
	body, _ = r.fake.EventBody(r.fake.DMEvent(ann, "over http", ""))
	now := time.Now()
	good, _ := slacktest.NewEventRequest(url, secret, now, body)
	if code := post(good); code != http.StatusOK {
		t.Errorf("a signed request got %d, want 200", code)
	}
	r.waitFor("the reply", func() bool { return r.lastText(dm) == "You said: over http" })
	replay, _ := slacktest.NewEventRequest(url, secret, now, body)
	if code := post(replay); code != http.StatusUnauthorized {
		t.Errorf("a replayed request got %d, want 401", code)
	}
	r.stop()
	for _, m := range r.texts(dm) {
		if strings.Contains(m, "forged") {
			t.Errorf("a forged event was answered: %q", m)
		}
	}
	if n := len(r.prov.Requests()); n != 1 {
		t.Errorf("provider requests = %d, want 1", n)
	}
}

func TestBridge_ReconnectsAfterADisconnect(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	r.fake.SendDM(ann, "first")
	r.waitFor("the first reply", func() bool { return r.lastText(dm) == "You said: first" })
	dials := r.fake.Dials()
	r.fake.Disconnect("refresh_requested")
	r.waitFor("a new connection", func() bool { return r.fake.Dials() > dials && r.fake.Connections() > 0 })
	r.fake.SendDM(ann, "after the refresh")
	r.waitFor("the reply on the new connection", func() bool { return r.lastText(dm) == "You said: after the refresh" })
	r.fake.DropConnections()
	r.fake.SendDM(ann, "after a drop")
	r.waitFor("the reply after a dropped connection", func() bool { return r.lastText(dm) == "You said: after a drop" })
}

func TestBridge_MsgTooLongIsSplitSmaller(t *testing.T) {
	reply := strings.TrimSpace(strings.Repeat("chunk of text ", 270)) // ~3,800: fits 3,900 but not 3/4 of it
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Deltas: []string{reply}}))
	r.fake.FailNext("chat.postMessage", http.StatusOK, "msg_too_long", 0)
	r.fake.SendDM(ann, "long one")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	r.waitFor("the whole reply", func() bool { return norm(strings.Join(r.texts(dm), " ")) == reply })
	if n := len(r.texts(dm)); n < 2 {
		t.Errorf("messages = %d, want the refused text split smaller", n)
	}
}

func TestBridge_EnvelopesAckedAtOnce(t *testing.T) {
	r := newRig(t, enginetest.NewProvider(enginetest.Script{FirstDelay: 2 * time.Second, Deltas: []string{"slow answer"}}))
	sent := r.fake.SendDM(ann, "take your time")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := r.fake.WaitForAck(ctx, sent.EnvelopeID)
	if err != nil {
		t.Fatal(err)
	}
	r.waitFor("the reply", func() bool { return r.lastText(dm) == "slow answer" })
	var post time.Time
	for _, c := range r.fake.CallsTo("chat.postMessage") {
		post = c.At
	}
	if !ack.At.Before(post) {
		t.Errorf("acked at %v, after the reply was posted at %v: want the ack first, at once", ack.At, post)
	}
}

func TestBridge_OneEditBudgetForTheWorkspace(t *testing.T) {
	bob := "U0BOB"
	prov := enginetest.NewProvider(
		enginetest.Script{Delay: 50 * time.Millisecond, Deltas: enginetest.Words(120, "one")},
		enginetest.Script{Delay: 50 * time.Millisecond, Deltas: enginetest.Words(120, "two")},
	)
	// The rig's fake, with a bridge and engine of our own where both users
	// may talk.
	r := newRig(t, enginetest.NewProvider())
	r.stop()
	eng, err := engine.New(engine.Options{
		Provider: prov, Store: enginetest.NewMemStore(),
		Defaults: engine.Settings{Model: "openai/gpt-4o-mini", Streaming: true, MaxTokens: 100},
		Access:   map[engine.Platform]engine.Access{slack.Name: {Allowed: []engine.UserID{ann, engine.UserID(bob)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	br, err := slack.New(context.Background(), slack.Options{BotToken: r.fake.BotToken(), AppToken: r.fake.AppToken(), APIURL: r.fake.APIURL(),
		PingInterval: 2 * time.Second, HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	eng.Register(br)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = br.Run(ctx, eng) })
	defer func() { cancel(); wg.Wait(); eng.Shutdown(context.Background()) }()
	r.fake.SendDM(ann, "go")
	r.fake.SendDM(bob, "go")
	done := func(ch string) bool {
		t := r.lastText(ch)
		return strings.Count(t, "one") == 120 || strings.Count(t, "two") == 120
	}
	r.waitFor("both replies", func() bool { return done(dm) && done(slacktest.DMChannel(bob)) })
	var at []time.Time
	for _, c := range r.fake.CallsTo("chat.update") {
		at = append(at, c.At)
	}
	if len(at) < 6 {
		t.Fatalf("chat.update calls = %d, want enough to test the budget", len(at))
	}
	caps := br.Caps()
	// A token bucket allows at most Burst + span/Every calls in any span.
	for i := range at {
		for j := i + 1; j < len(at); j++ {
			allowed := caps.EditBudget.Burst + int(at[j].Sub(at[i])/caps.EditBudget.Every) + 1
			if n := j - i + 1; n > allowed {
				t.Fatalf("%d chat.update calls in %s across both chats, the workspace budget allows %d", n, at[j].Sub(at[i]), allowed)
			}
		}
	}
	if per := time.Minute / caps.EditBudget.Every; per > 50 {
		t.Errorf("edit budget = %d a minute, over Slack's Tier 3 (~50)", per)
	}
}

func TestBridge_NativeStreamFallsBackToUpdates(t *testing.T) {
	deltas := enginetest.Words(10, "fallback")
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 250 * time.Millisecond, Deltas: deltas}),
		func(bo *slack.Options, _ *slacktest.Options) { bo.StreamMode = "native" })
	r.fake.FailNext("chat.appendStream", http.StatusOK, "fatal_error", 0)
	r.fake.SendDM(ann, "hi")
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r.waitFor("the whole reply", func() bool {
		m := r.fake.Messages(dm)
		return len(m) > 0 && strings.TrimSpace(m[len(m)-1].Text) == want
	})
	r.stop()
	if n := len(r.fake.Messages(dm)); n != 1 {
		t.Errorf("messages = %d (%q), want 1: the stream's message finished by updates, not a second copy", n, r.texts(dm))
	}
	if n := len(r.fake.CallsTo("chat.update")); n == 0 {
		t.Error("no chat.update after the stream failed")
	}
}
