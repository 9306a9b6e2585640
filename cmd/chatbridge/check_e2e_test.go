package main_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

func TestCheckOnline_EveryPlatformAndTheKey(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	dc := discordtest.New(t, discordtest.Options{})
	sl := slacktest.New(t, slacktest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	extra := fmt.Sprintf(`
[telegram]
enabled = true
api_url = %q
allowed_users = [1]

[discord]
enabled = true
api_url = %q
allowed_users = ["123456789012345678"]

[slack]
enabled = true
api_url = %q
allowed_users = ["U0ANN"]
`, tg.URL(), dc.URL(), sl.APIURL())
	path := writeConfig(t, dir, or.URL(), extra)
	env := []string{"OPENROUTER_API_KEY=" + or.APIKey(), "TELEGRAM_BOT_TOKEN=" + tg.Token(),
		"DISCORD_BOT_TOKEN=" + dc.Token(), "SLACK_BOT_TOKEN=" + sl.BotToken(), "SLACK_APP_TOKEN=" + sl.AppToken()}
	res := runBinary(t, dir, "", env, "check", "-config", path, "-online")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	for _, want := range []string{"telegram: ok", "discord: ok", "slack: ok", "openrouter: ok"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.stdout)
		}
	}

	env[2] = "DISCORD_BOT_TOKEN=wrong-token"
	res = runBinary(t, dir, "", env, "check", "-config", path, "-online")
	if res.code != 1 || !strings.Contains(res.stdout, "discord: FAIL") || !strings.Contains(res.stdout, "telegram: ok") {
		t.Errorf("a wrong Discord token: exit %d\n%s", res.code, res.stdout)
	}
	if strings.Contains(res.stdout+res.stderr, "wrong-token") {
		t.Error("the token appears in the output")
	}
}
