package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

func TestTokenClock(t *testing.T) {
	c := newTokenClock()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	req := func(user string) *openroutertest.ChatRequest {
		return &openroutertest.ChatRequest{Messages: []openroutertest.Message{
			{Role: "system", Content: "be brief"}, {Role: "user", Content: "old"}, {Role: "assistant", Content: "a"},
			{Role: "user", Content: user},
		}}
	}
	var wg sync.WaitGroup
	for chat := range 4 {
		wg.Go(func() {
			for i := range 10 {
				c.observe(req(chatText("telegram", chat)), i, t0.Add(time.Duration(chat*100+i)*time.Millisecond))
			}
		})
	}
	wg.Wait()
	if c.count() != 40 {
		t.Errorf("count = %d, want 40", c.count())
	}
	first, last, ok := c.times(chatText("telegram", 2))
	if !ok || !first.Equal(t0.Add(200*time.Millisecond)) || !last.Equal(t0.Add(209*time.Millisecond)) {
		t.Errorf("chat 2: first %v last %v ok %v", first, last, ok)
	}
	if _, _, ok := c.times("old"); ok {
		t.Error("an earlier user message was taken for the chat")
	}
}

func TestNormalize(t *testing.T) {
	reply := openroutertest.LongText(130)            // three paragraphs
	cut := 200 + strings.IndexByte(reply[200:], ' ') // messages are split between words
	split := reply[:cut] + "\n" + reply[cut:]
	if normalize(split) != normalize(reply) {
		t.Error("a reply split in two messages does not compare equal")
	}
	if normalize(reply) == normalize(reply[:len(reply)-1]) {
		t.Error("a reply missing its last character compares equal")
	}
}

func TestResult(t *testing.T) {
	r := Result{CPU: 50 * time.Millisecond, Tokens: 10_000}
	if got := r.CPUPer1kTokens(); got != 5*time.Millisecond {
		t.Errorf("CPUPer1kTokens = %v, want 5ms", got)
	}
	if (Result{}).CPUPer1kTokens() != 0 {
		t.Error("no tokens: want 0")
	}
	if r.Failed() || !(Result{Lost: 1}).Failed() || !(Result{Early: 1}).Failed() {
		t.Error("Failed must be true exactly for lost replies or early calls")
	}
}

func TestLoadTable(t *testing.T) {
	o := Options{TokensPerReply: 200, TokenRate: 20}
	r := Result{Platform: "telegram", Chats: 100, Completed: 99, Lost: 1, Early: 2, TooMany: 3,
		FirstText: Latency{N: 3, P50: 2 * time.Millisecond, P95: 40 * time.Millisecond, Max: 45 * time.Millisecond},
		EditsMean: 4.25, EditsMax: 7, EditsAllowed: 10, BridgeRate: 29.5, Budget: Budget{BridgeRate: 30},
		Wall: 12340 * time.Millisecond, CPU: 3 * time.Second, Tokens: 20_000, IdleRSS: 20 << 20, PeakRSS: 48 << 20}
	var b strings.Builder
	if err := LoadTable(o, []Result{r}).Render(&b); err != nil {
		t.Fatal(err)
	}
	row := strings.Split(strings.TrimSpace(b.String()), "\n")[2]
	want := "| telegram | 100 × 200 tokens @ 20/s | 2.0 ms / 40 ms / 45 ms | 4.2, 7 / 10.0 | 29.5 (30) | 2 | 3 | 99 / 1 | 12.3s | 0.150 s (150.0 µs/token) | 20.0 MiB | 48.0 MiB |"
	if row != want {
		t.Errorf("row\n%s\nwant\n%s", row, want)
	}
}

func TestFirstDifference(t *testing.T) {
	if got := firstDifference("same", "same"); got != "no difference" {
		t.Errorf("equal texts: %q", got)
	}
	got := firstDifference("lorem ipsum &amp; dolor", "lorem ipsum & dolor")
	if !strings.Contains(got, `shows "lorem ipsum &amp; dolor", want "lorem ipsum & dolor"`) {
		t.Errorf("firstDifference = %q", got)
	}
	if got := firstDifference("lorem", "lorem ipsum"); !strings.Contains(got, "5 of 11 characters shown") {
		t.Errorf("a prefix: %q", got)
	}
	if wall(0) != "n/a" || wall(1234*time.Millisecond) != "1.2s" {
		t.Errorf("wall: %q %q", wall(0), wall(1234*time.Millisecond))
	}
}

func TestCountsBy(t *testing.T) {
	if got := countsBy(0, nil); got != "0" {
		t.Errorf("countsBy(0) = %q", got)
	}
	got := countsBy(32, map[string]int{"sendMessage": 1, "sendChatAction": 30, "editMessageText": 1})
	if want := "32 (sendChatAction 30, editMessageText 1, sendMessage 1)"; got != want {
		t.Errorf("countsBy = %q, want %q", got, want)
	}
}

func TestDaemonConfig_IsValidTOML(t *testing.T) {
	for _, name := range []string{"telegram", "discord", "slack"} {
		t.Run(name, func(t *testing.T) {
			p, err := newPlatform(name, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			section, env := p.Section()
			cfg := DaemonConfig{DataDir: "/data", Provider: "http://127.0.0.1:1/api/v1", HealthAddr: "127.0.0.1:2", Section: section,
				StorageExt: `backup_interval = "0s"`}
			var m map[string]map[string]any
			if err := toml.Unmarshal([]byte(cfg.Config()), &m); err != nil {
				t.Fatalf("config does not parse: %v\n%s", err, cfg.Config())
			}
			if m["health"]["listen"] != "127.0.0.1:2" || m["storage"]["dir"] != "/data" || m["storage"]["backup_interval"] != "0s" || m[name]["enabled"] != true {
				t.Errorf("config = %v", m)
			}
			if users, _ := m[name]["allowed_users"].([]any); len(users) != 3 {
				t.Errorf("allowed_users = %v, want the 3 load users", m[name]["allowed_users"])
			}
			if len(env) == 0 || !strings.Contains(env[0], "_TOKEN=") {
				t.Errorf("env = %v, want the platform's token", env)
			}
		})
	}
	if _, err := newPlatform("irc", 1); err == nil {
		t.Error("an unknown platform gave no error")
	}
}

func TestEnsureDatabase_GeneratesOnceAndReuses(t *testing.T) {
	cache := t.TempDir()
	var logs []string
	logf := func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) }
	const size = 1 << 20
	dir, err := EnsureDatabase(context.Background(), cache, size, logf)
	if err != nil {
		t.Fatal(err)
	}
	n, err := DirSize(dir)
	if err != nil || n < size {
		t.Fatalf("database is %d bytes (%v), want at least %d", n, err, size)
	}
	if _, err := os.Stat(dir + ".done"); err != nil {
		t.Fatalf("no done marker: %v", err)
	}
	logged := len(logs)
	again, err := EnsureDatabase(context.Background(), cache, size, logf)
	if err != nil || again != dir || len(logs) != logged {
		t.Errorf("second call: %q, %v, logs %q; want the cached %q without generating", again, err, logs[logged:], dir)
	}

	// A partial database (no marker) is generated afresh.
	partial := filepath.Join(cache, "db-4096")
	if err := os.MkdirAll(partial, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, "junk"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureDatabase(context.Background(), cache, 4096, logf); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(partial, "junk")); !os.IsNotExist(err) {
		t.Error("the partial database was not cleared")
	}
}

func TestEnsureDatabase_Cancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := EnsureDatabase(ctx, t.TempDir(), 1<<30, func(string, ...any) {}); err == nil {
		t.Error("a cancelled context gave no error")
	}
}

func TestRandomTextAndDirSize(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "b"), make([]byte, 24), 0o600); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	text := randomText(rng, 500)
	if len(text) < 500 || len(text) > 520 || strings.Trim(text, "abcdefghijklmnopqrstuvwxyz ") != "" {
		t.Errorf("randomText(500) = %q", text)
	}
	if n, err := DirSize(dir); err != nil || n != 1024 {
		t.Errorf("DirSize = %d, %v; want 1024", n, err)
	}
	if _, err := DirSize(filepath.Join(dir, "missing")); err == nil {
		t.Error("DirSize of a missing dir gave no error")
	}
}
