package main_test

import (
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// TestConsole_DailyCapRefusesBeforeTheRequest runs the binary with
// [limits] daily_cost_usd: the first turn spends past the cap, so the next
// one is refused, naming the cap and its reset, without a request to the
// provider; /status shows the spending against the cap.
func TestConsole_DailyCapRefusesBeforeTheRequest(t *testing.T) {
	fake := openroutertest.New(t, openroutertest.Options{})
	fake.Enqueue(openroutertest.Script{
		Tokens: []string{"An ", "expensive ", "answer."},
		Usage:  &openroutertest.Usage{PromptTokens: 900, CompletionTokens: 100, TotalTokens: 1000, Cost: 0.012},
	})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fake.URL(), "\n[limits]\ndaily_cost_usd = 0.01\n")
	env := []string{"OPENROUTER_API_KEY=" + fake.APIKey()}

	first := runBinary(t, dir, "an expensive question\n", env, "console", "-config", cfg)
	if first.code != 0 || !strings.Contains(first.stdout, "An expensive answer.") {
		t.Fatalf("first turn: exit %d\n%s\n%s", first.code, first.stdout, first.stderr)
	}
	if n := len(chatRequests(fake)); n != 1 {
		t.Fatalf("chat requests after the first turn = %d, want 1", n)
	}

	second := runBinary(t, dir, "one more\n/status\n", env, "console", "-config", cfg)
	if second.code != 0 {
		t.Fatalf("second run: exit %d\n%s", second.code, second.stderr)
	}
	if n := len(chatRequests(fake)); n != 1 {
		t.Errorf("chat requests = %d: the capped turn reached the provider", n)
	}
	for _, want := range []string{
		"daily spending cap ($0.01, limits.daily_cost_usd) is reached: $0.01 spent today",
		"resets at midnight UTC",
		"Spending: today $0.01 of $0.01",
	} {
		if !strings.Contains(second.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, second.stdout)
		}
	}
}
