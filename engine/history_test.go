package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

func TestCommands_SettingsHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testCaps(), enginetest.NewProvider())
		defer h.close()
		if err := h.e.RecordDefaults(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := h.command("/settings history"); !strings.Contains(got, "No setting has been changed") {
			t.Errorf("history before any change = %q", got)
		}
		h.command("/temperature 0.3")
		time.Sleep(time.Minute)
		h.command("/system Answer in French.")
		time.Sleep(time.Minute)
		h.command("/system reset")
		h.command("/temperature 0.3") // no change: no operation

		// The next start has a different default model in the config.
		h2 := newHarness(t, testCaps(), enginetest.NewProvider(), func(o *engine.Options) {
			o.Store = h.store
			o.Defaults.Model = "anthropic/claude-3.5-sonnet"
		})
		defer h2.close()
		if err := h2.e.RecordDefaults(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := h2.command("/settings history")
		lines := strings.Split(strings.TrimSpace(got), "\n")
		want := []string{
			"**Settings history** (last 4)",
			"2000-01-01 00:00 UTC · `u1` · temperature: default → `0.3`",
			"2000-01-01 00:01 UTC · `u1` · system_prompt: default → `Answer in French.`",
			"2000-01-01 00:02 UTC · `u1` · system_prompt: `Answer in French.` → default",
			"2000-01-01 00:02 UTC · config file · model: `openai/gpt-4o-mini` → `anthropic/claude-3.5-sonnet`",
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("/settings history =\n%s\nwant\n%s", got, strings.Join(want, "\n"))
		}

		// Only the last 20 are shown.
		for i := range 25 {
			h2.command(fmt.Sprintf("/maxtokens %d", 100+i))
		}
		got = h2.command("/settings history")
		if !strings.Contains(got, "(last 20)") || len(strings.Split(strings.TrimSpace(got), "\n")) != 21 || !strings.Contains(got, "`124`") ||
			strings.Contains(got, "temperature") {
			t.Errorf("history after 30 changes =\n%s\nwant the last 20", got)
		}

		// /forget takes the chat's history with it; the config's stays.
		h2.command("/forget")
		h2.command("/forget confirm")
		got = h2.command("/settings history")
		if strings.Contains(got, "maxtokens") || strings.Contains(got, "max_tokens") || !strings.Contains(got, "config file") {
			t.Errorf("history after /forget =\n%s", got)
		}
	})
}
