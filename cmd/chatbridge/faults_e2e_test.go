package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// The fault-injection suite: the built binary against the fakes.

func TestFaults_ProviderFaults(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	d := startDaemon(t, t.TempDir(), tg, or)
	chat := telegramtest.PrivateChat(tgOwner)
	answer := "All good after the fault."
	notJSON := openroutertest.Script{Handler: func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "this is not json {")
	}}
	portal := openroutertest.Script{Handler: func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html><title>Captive portal</title><body>log in</body></html>")
	}}
	cases := []struct {
		name    string
		scripts []openroutertest.Script
		want    []string // substrings of the final message
		minGap  time.Duration
	}{
		{name: "429 with Retry-After", minGap: 2 * time.Second, want: []string{answer},
			scripts: []openroutertest.Script{{Status: 429, Message: "Rate limit exceeded", ErrorType: "rate_limit_exceeded", RetryAfter: "2"}, openroutertest.Tokens(answer)}},
		{name: "429 without Retry-After", want: []string{answer},
			scripts: []openroutertest.Script{{Status: 429, Message: "Rate limit exceeded"}, openroutertest.Tokens(answer)}},
		{name: "503 with Retry-After", minGap: time.Second, want: []string{answer},
			scripts: []openroutertest.Script{{Status: 503, Message: "Service unavailable", RetryAfter: "1"}, openroutertest.Tokens(answer)}},
		{name: "500 without Retry-After", want: []string{answer},
			scripts: []openroutertest.Script{{Status: 500, Message: "Internal error"}, openroutertest.Tokens(answer)}},
		{name: "HTML 502 every time", want: []string{"unavailable", "/retry"},
			scripts: []openroutertest.Script{
				{Status: 502, Body: "<html><title>502 Bad gateway</title></html>", ContentType: "text/html"},
				{Status: 502, Body: "<html><title>502 Bad gateway</title></html>", ContentType: "text/html"},
				{Status: 502, Body: "<html><title>502 Bad gateway</title></html>", ContentType: "text/html"},
				{Status: 502, Body: "<html><title>502 Bad gateway</title></html>", ContentType: "text/html"}}},
		{name: "stream cut before any text", want: []string{answer},
			scripts: []openroutertest.Script{{Tokens: []string{"lost"}, Cut: &openroutertest.Cut{After: 0}}, openroutertest.Tokens(answer)}},
		{name: "stream cut mid-answer", want: []string{"The first half", "cut", "/retry"},
			scripts: []openroutertest.Script{{Tokens: openroutertest.Words("The first half of an answer and the rest"), Cut: &openroutertest.Cut{After: 4}, Delay: 20 * time.Millisecond}}},
		{name: "mid-stream error", want: []string{"Partial answer", "failed while answering", "/retry"},
			scripts: []openroutertest.Script{{Tokens: openroutertest.Words("Partial answer before the error and more"), MidStreamError: &openroutertest.MidStreamError{After: 2}}}},
		{name: "slow start with keep-alives", want: []string{answer},
			scripts: []openroutertest.Script{{FirstByteDelay: 1500 * time.Millisecond, KeepAlives: 5, Tokens: openroutertest.Words(answer), Delay: 50 * time.Millisecond}}},
		{name: "not JSON in a 200", want: []string{"The model failed", "/retry"},
			scripts: []openroutertest.Script{notJSON, notJSON, notJSON, notJSON}},
		{name: "HTML in a 200 (a captive portal)", want: []string{"unavailable", "/retry"},
			scripts: []openroutertest.Script{portal, portal, portal, portal}},
	}
	for i, c := range cases {
		before := len(chatRequests(or))
		shown := len(visible(tg, tgOwner.ID))
		// Each case answers differently, so one case's answer cannot pass
		// for the next one's.
		for j, sc := range c.scripts {
			if len(sc.Tokens) > 0 && strings.Join(sc.Tokens, "") == answer {
				c.scripts[j].Tokens = openroutertest.Words(fmt.Sprintf("%s (case %d)", answer, i))
			}
		}
		or.Enqueue(c.scripts...)
		question := fmt.Sprintf("case %d: %s", i, c.name)
		tg.SendText(chat, tgOwner, question)
		var final string
		waitUntil(t, d, c.name, func() bool {
			msgs := visible(tg, tgOwner.ID)
			if len(msgs) <= shown {
				return false
			}
			final = last(msgs)
			if strings.Contains(c.want[0], answer) && !strings.Contains(final, fmt.Sprintf("(case %d)", i)) {
				return false
			}
			for _, w := range c.want {
				if !strings.Contains(final, w) {
					return false
				}
			}
			return true
		})
		reqs := chatRequests(or)[before:]
		if c.minGap > 0 && len(reqs) >= 2 {
			if gap := reqs[1].At.Sub(reqs[0].At); gap < c.minGap {
				t.Errorf("%s: retried after %s, want >= %s", c.name, gap, c.minGap)
			}
		}
		if strings.Contains(final, "<html") || strings.Contains(final, "not json") || strings.Contains(final, "Captive") {
			t.Errorf("%s: the provider's raw answer reached the user: %q", c.name, final)
		}
		t.Logf("%s: %d provider requests; user saw %q", c.name, len(reqs), final)
	}
	d.stop()
}

// chatRequests are the chat completion requests the fake provider got.
func chatRequests(or *openroutertest.Server) []openroutertest.Request {
	var out []openroutertest.Request
	for _, r := range or.Requests() {
		if strings.HasSuffix(r.Path, "/chat/completions") {
			out = append(out, r)
		}
	}
	return out
}

func TestFaults_KillNineLoops(t *testing.T) {
	if testing.Short() {
		t.Skip("20 kill -9 loops: run without -short")
	}
	const loops = 20
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{EchoDelay: 25 * time.Millisecond})
	dir := t.TempDir()
	chat := telegramtest.PrivateChat(tgOwner)
	rng := rand.New(rand.NewPCG(1, 2))        // fixed: a failure can be replayed
	filler := strings.Repeat("and so on ", 8) // ~0.7 s of streaming: kills land before, during and after
	questions := make([]string, loops)
	for i := range loops {
		questions[i] = fmt.Sprintf("question-%02d %s", i, filler)
		d := startDaemon(t, dir, tg, or)
		polls := len(tg.CallsTo("getUpdates"))
		waitUntil(t, d, "the daemon to poll", func() bool { return len(tg.CallsTo("getUpdates")) > polls })
		tg.SendText(chat, tgOwner, questions[i])
		time.Sleep(time.Duration(rng.IntN(2500)) * time.Millisecond)
		d.kill()
		tg.Redeliver() // as after a crash: nothing confirmed, everything comes again
	}
	d := startDaemon(t, dir, tg, or)
	tg.SendText(chat, tgOwner, "final question")
	waitUntil(t, d, "the final answer", func() bool { return last(visible(tg, tgOwner.ID)) == "You said: final question" })
	d.stop()

	// One conversation, answered in order: reply i is question i's, exactly
	// once, whole or marked interrupted. A kill before the question was
	// read only delays its answer to the next start.
	msgs := visible(tg, tgOwner.ID)
	if len(msgs) != loops+1 {
		t.Fatalf("the bot sent %d messages for %d questions and a final one, want one each (nothing twice):\n%q", len(msgs), loops, msgs)
	}
	complete, interrupted := 0, 0
	for i, q := range questions {
		m := msgs[i]
		switch {
		case strings.TrimSpace(m) == "You said: "+strings.TrimSpace(q):
			complete++
		case strings.Contains(m, "Interrupted") && strings.HasPrefix(strings.TrimSpace("You said: "+q), strings.TrimSpace(strings.Split(m, "\n\n⚠️")[0])):
			interrupted++
		default:
			t.Errorf("reply %d is neither question %d's whole answer nor marked interrupted: %q", i, i, m)
		}
	}
	// Every user turn is stored exactly once.
	res := runBinary(t, dir, "", []string{"OPENROUTER_API_KEY=x", "TELEGRAM_BOT_TOKEN=" + tg.Token()}, "export", "-config", dir+"/config.toml")
	if res.code != 0 {
		t.Fatalf("export: %d %s", res.code, res.stderr)
	}
	var export []struct {
		Messages []struct{ Role, Content string } `json:"messages"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &export); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	stored := map[string]int{}
	for _, c := range export {
		for _, m := range c.Messages {
			if m.Role == "user" {
				stored[m.Content]++
			}
		}
	}
	for _, q := range questions {
		if n := stored[strings.TrimSpace(q)]; n != 1 {
			t.Errorf("%s is stored %d times, want 1", q[:11], n)
		}
	}
	t.Logf("%d kill -9 loops: %d replies whole, %d marked interrupted, none sent twice, every user turn stored once", loops, complete, interrupted)
}

func count(msgs []string, sub string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func TestFaults_ThousandMessagesAcross200Chats(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 messages: run without -short")
	}
	const chats, perChat = 200, 5
	tg := telegramtest.New(t, telegramtest.Options{
		ChatLimit:   telegramtest.Limit{Every: time.Second, Burst: 3},
		GlobalLimit: telegramtest.Limit{Every: time.Second / 30, Burst: 30},
	})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	section := fmt.Sprintf("[telegram]\nenabled = true\napi_url = %q\nallow_everyone = true\n", tg.URL())
	d := startDaemonWith(t, dir, or, section, "TELEGRAM_BOT_TOKEN="+tg.Token())
	start := time.Now()
	for i := range perChat {
		for c := range chats {
			u := telegramtest.User{ID: int64(100_000 + c), FirstName: fmt.Sprintf("U%d", c)}
			tg.SendText(telegramtest.PrivateChat(u), u, fmt.Sprintf("message %d of chat %d", i, c))
		}
	}
	waitUntilFor(t, d, 4*time.Minute, "all 1,000 answers", func() bool {
		for c := range chats {
			if len(tg.Messages(int64(100_000+c))) < perChat {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(start)
	d.stop()
	for c := range chats {
		got := visible(tg, int64(100_000+c))
		if len(got) != perChat {
			t.Errorf("chat %d got %d replies, want %d", c, len(got), perChat)
			continue
		}
		for i := range perChat {
			if want := fmt.Sprintf("You said: message %d of chat %d", i, c); count(got, want) != 1 {
				t.Errorf("chat %d: %q answered %d times, want once", c, want, count(got, want))
			}
		}
	}
	if early := tg.EarlyCalls(); len(early) != 0 {
		t.Errorf("%d calls came before their retry_after", len(early))
	}
	t.Logf("1,000 messages across 200 chats answered in %s under Telegram's limits", elapsed.Round(time.Second))
}

func TestFaults_GracefulShutdown(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	chat := telegramtest.PrivateChat(tgOwner)
	dir := t.TempDir()
	section := fmt.Sprintf("[bot]\nshutdown_timeout = \"1s\"\n\n[telegram]\nenabled = true\napi_url = %q\nallowed_users = [%d]\n", tg.URL(), tgOwner.ID)

	// SIGTERM in the middle of a long reply: the reply is marked
	// interrupted within shutdown_timeout and the exit is clean.
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(strings.Repeat("endless ", 300)), Delay: 50 * time.Millisecond})
	d := startDaemonWith(t, dir, or, section, "TELEGRAM_BOT_TOKEN="+tg.Token())
	tg.SendText(chat, tgOwner, "talk for a while")
	waitUntil(t, d, "the reply to stream", func() bool {
		m := tg.Messages(tgOwner.ID)
		return len(m) == 1 && m[0].Edits >= 1
	})
	start := time.Now()
	d.stop()
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("shutdown took %s with shutdown_timeout 1s", took)
	}
	if got := tg.Messages(tgOwner.ID)[0].Text; !strings.Contains(got, "Interrupted") || !strings.Contains(got, "endless") {
		t.Errorf("the reply in flight reads %q, want its text marked interrupted", got)
	}
	if !strings.Contains(d.log(), "chatbridge stopped") {
		t.Errorf("no clean stop in the log:\n%s", d.log())
	}

	// A second signal forces the exit even when shutdown would wait long.
	section = strings.Replace(section, `"1s"`, `"5m"`, 1)
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(strings.Repeat("endless ", 300)), Delay: 50 * time.Millisecond})
	d2 := startDaemonWith(t, dir, or, section, "TELEGRAM_BOT_TOKEN="+tg.Token())
	tg.SendText(chat, tgOwner, "talk again")
	waitUntil(t, d2, "the second reply to stream", func() bool {
		m := tg.Messages(tgOwner.ID)
		return len(m) == 2 && m[1].Edits >= 1
	})
	_ = d2.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	_ = d2.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d2.done:
	case <-time.After(10 * time.Second):
		t.Error("a second SIGTERM did not force the exit")
	}
}
