package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

var (
	tgOwner    = telegramtest.User{ID: 4242, FirstName: "Owner", Username: "owner"}
	tgStranger = telegramtest.User{ID: 6666, FirstName: "Eve", Username: "eve"}
)

// daemon is a running `chatbridge run`.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

func (d *daemon) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.Write(p)
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// startDaemon runs `chatbridge run` with Telegram and OpenRouter pointed at
// the fakes.
func startDaemon(t *testing.T, dir string, tg *telegramtest.Server, or *openroutertest.Server) *daemon {
	t.Helper()
	section := fmt.Sprintf(`[telegram]
enabled = true
api_url = %q
allowed_users = [%d]
owners = [%d]
`, tg.URL(), tgOwner.ID, tgOwner.ID)
	return startDaemonWith(t, dir, or, section, "TELEGRAM_BOT_TOKEN="+tg.Token())
}

// startDaemonWith runs `chatbridge run` with OpenRouter pointed at its fake
// and the platform section and environment given.
func startDaemonWith(t *testing.T, dir string, or *openroutertest.Server, section string, env ...string) *daemon {
	t.Helper()
	cfg := fmt.Sprintf(`[openrouter]
base_url = %q
model = "openai/gpt-4o-mini"

[limits]
requests_per_minute = 1000

[storage]
dir = %q

%s`, or.URL(), filepath.Join(dir, "data"), section)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, done: make(chan error, 1)}
	d.cmd = exec.Command(binary, "run", "-config", path)
	d.cmd.Dir = dir
	d.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "OPENROUTER_API_KEY=" + or.APIKey()}, env...)
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() { d.kill() })
	return d
}

// stop sends SIGTERM and waits for a graceful exit.
func (d *daemon) stop() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("chatbridge run exited with %v; log:\n%s", err, d.log())
		}
	case <-time.After(30 * time.Second):
		d.t.Errorf("chatbridge run did not stop on SIGTERM; log:\n%s", d.log())
		d.kill()
	}
}

// kill is kill -9.
func (d *daemon) kill() {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
	}
}

func waitUntil(t *testing.T, d *daemon, what string, cond func() bool) {
	t.Helper()
	waitUntilFor(t, d, 45*time.Second, what, cond)
}

// waitUntilFor polls cond until it holds or limit passes.
func waitUntilFor(t *testing.T, d *daemon, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; daemon log:\n%s", what, d.log())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func visible(tg *telegramtest.Server, chat int64) []string {
	var out []string
	for _, m := range tg.Messages(chat) {
		out = append(out, m.Text)
	}
	return out
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func TestRunTelegram_HelloLongReplyAndStranger(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{EchoDelay: 50 * time.Millisecond})
	d := startDaemon(t, t.TempDir(), tg, or)
	chat := telegramtest.PrivateChat(tgOwner)

	tg.SendText(chat, tgOwner, "hello")
	waitUntil(t, d, "the streamed reply", func() bool { return last(visible(tg, tgOwner.ID)) == "You said: hello" })
	if n := len(tg.CallsTo("editMessageText")); n == 0 {
		t.Error("the reply was not streamed by edits")
	}

	long := openroutertest.LongText(10000)
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(long), Delay: time.Millisecond})
	tg.SendText(chat, tgOwner, "write a lot")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	waitUntil(t, d, "the whole 10,000-word reply", func() bool {
		msgs := visible(tg, tgOwner.ID)
		return len(msgs) > 1 && norm(strings.Join(msgs[1:], " ")) == norm(long)
	})
	if n := len(visible(tg, tgOwner.ID)) - 1; n < 3 {
		t.Errorf("the long reply took %d messages, want 3 or more", n)
	}

	before := len(or.Requests())
	eve := telegramtest.PrivateChat(tgStranger)
	tg.SendText(eve, tgStranger, "let me in")
	waitUntil(t, d, "the refusal", func() bool { return len(visible(tg, tgStranger.ID)) == 1 })
	if n := len(or.Requests()) - before; n != 0 {
		t.Errorf("a stranger caused %d provider requests", n)
	}
	d.stop()
	if strings.Contains(d.log(), tg.Token()) || strings.Contains(d.log(), or.APIKey()) {
		t.Error("a secret appears in the daemon's log")
	}
}

func TestRunTelegram_TightRateLimit(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{ChatLimit: telegramtest.Limit{Every: 2 * time.Second, Burst: 1}})
	or := openroutertest.New(t, openroutertest.Options{})
	text := strings.TrimSpace(strings.Repeat("limited ", 60))
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(text), Delay: 100 * time.Millisecond})
	d := startDaemon(t, t.TempDir(), tg, or)
	tg.SendText(telegramtest.PrivateChat(tgOwner), tgOwner, "go")
	waitUntil(t, d, "the whole text", func() bool { return last(visible(tg, tgOwner.ID)) == text })
	d.stop()
	if early := tg.EarlyCalls(); len(early) != 0 {
		t.Errorf("%d requests came before their retry_after ended: %+v", len(early), early)
	}
}

func TestRunTelegram_KillDuringReplyThenRestart(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	chat := telegramtest.PrivateChat(tgOwner)
	or.Enqueue(openroutertest.Script{Tokens: openroutertest.Words(strings.Repeat("slow ", 200)), Delay: 100 * time.Millisecond})
	d := startDaemon(t, dir, tg, or)
	tg.SendText(chat, tgOwner, "tell me a long story")
	waitUntil(t, d, "part of the reply", func() bool {
		m := tg.Messages(tgOwner.ID)
		return len(m) == 1 && strings.Count(m[0].Text, "slow") >= 5 && m[0].Edits >= 1
	})
	d.kill()
	partial := tg.Messages(tgOwner.ID)[0].Text
	sendsBefore := len(tg.CallsTo("sendMessage"))

	tg.Redeliver() // Telegram sends the unconfirmed update again
	d2 := startDaemon(t, dir, tg, or)
	waitUntil(t, d2, "the interrupted mark", func() bool {
		return strings.Contains(tg.Messages(tgOwner.ID)[0].Text, "Interrupted")
	})
	got := tg.Messages(tgOwner.ID)[0].Text
	if !strings.HasPrefix(got, strings.TrimSpace(partial)[:20]) {
		t.Errorf("the interrupted message lost its text: %q (was %q)", got, partial)
	}
	tg.SendText(chat, tgOwner, "are you back?")
	waitUntil(t, d2, "the next reply", func() bool { return last(visible(tg, tgOwner.ID)) == "You said: are you back?" })
	d2.stop()

	if n := len(tg.CallsTo("sendMessage")) - sendsBefore; n != 1 {
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
	reqs := or.Requests()
	lastReq := reqs[len(reqs)-1].Body.Messages
	found := false
	for _, m := range lastReq {
		if m.Role == "user" && m.Content == "tell me a long story" {
			found = true
		}
	}
	if !found {
		t.Errorf("the history did not survive the crash: %+v", lastReq)
	}
}
