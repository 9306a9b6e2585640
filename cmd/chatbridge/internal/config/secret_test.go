package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecret_Case(t *testing.T) {
	t.Run("prints redacted", func(t *testing.T) {
		s := Secret("sk-or-v1-TOPSECRET")
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%10s"} {
			if got := fmt.Sprintf(verb, s); strings.Contains(got, "TOPSECRET") || !strings.Contains(got, "[redacted]") {
				t.Errorf("Sprintf(%s) = %q", verb, got)
			}
		}
		if s.Reveal() != "sk-or-v1-TOPSECRET" {
			t.Errorf("Reveal = %q", s.Reveal())
		}
	})

	t.Run("empty prints empty", func(t *testing.T) {
		if got := fmt.Sprintf("%v|%s", Secret(""), Secret("").LogValue()); got != "|" {
			t.Errorf("got %q", got)
		}
	})
}

// TestLoad_SecretsNeverLeak loads files that are wrong in ways that involve
// a secret and checks that no error text, and no printed or encoded Config,
// contains the secret's value.
func TestLoad_SecretsNeverLeak(t *testing.T) {
	dir := t.TempDir()
	badFile := filepath.Join(dir, "slack-token")
	if err := os.WriteFile(badFile, []byte("xoxp-TOPSECRET5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body string
		env        map[string]string
		mention    string // where the value came from, when not the file
	}{
		{"type error on api_key", "[openrouter]\napi_key = 987654321\n", nil, ""},
		{"array for a token", "[telegram]\ntoken = [\"TOPSECRET7\"]\n", nil, ""},
		{"table for a secret", "[slack]\nsigning_secret = { a = \"TOPSECRET8\" }\n", nil, ""},
		{"wrong slack prefix in the file", "[slack]\nbot_token = \"xoxp-TOPSECRET1\"\n", nil, ""},
		{"wrong slack prefix from env", "", map[string]string{"SLACK_APP_TOKEN": "bad-TOPSECRET2"}, "SLACK_APP_TOKEN"},
		{"wrong slack prefix from a file", "[slack]\nbot_token_file = '" + badFile + "'\n", nil, badFile},
		{"key defined twice", "[openrouter]\napi_key = \"TOPSECRET3\"\napi_key = \"TOPSECRET3\"\n", nil, ""},
		{"syntax error inside a secret", "[openrouter]\napi_key = \"TOPSECRET4\\q\"\n", nil, ""},
		{"secret and file both set", "[discord]\ntoken = \"TOPSECRET6\"\ntoken_file = '" + badFile + "'\n", nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := loadErrors(t, tc.body, tc.env)
			text := errs.Error() + fmt.Sprintf("%+v %#v", errs, errs)
			for _, secret := range []string{"TOPSECRET", "987654321"} {
				if strings.Contains(text, secret) {
					t.Errorf("error text leaks %q:\n%s", secret, text)
				}
			}
			if !strings.Contains(text, tc.mention) {
				t.Errorf("error text does not say the value came from %q:\n%s", tc.mention, text)
			}
		})
	}

	t.Run("printed and encoded config", func(t *testing.T) {
		cfg := mustLoad(t, `[openrouter]
api_key = "sk-TOPSECRET-a"
[telegram]
token = "1:TOPSECRET-b"
[slack]
signing_secret = "TOPSECRET-c"
`, map[string]string{"DISCORD_BOT_TOKEN": "TOPSECRET-d", "SLACK_BOT_TOKEN": "xoxb-TOPSECRET-e", "SLACK_APP_TOKEN": "xapp-TOPSECRET-f"})
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "key", cfg.OpenRouter.APIKey)
		slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "cfg", cfg, "key", cfg.OpenRouter.APIKey)
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		outputs := map[string]string{
			"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
			"%+v section": fmt.Sprintf("%+v", cfg.Slack), "slog": logged.String(), "json": string(js),
		}
		for name, out := range outputs {
			if strings.Contains(out, "TOPSECRET") {
				t.Errorf("%s leaks a secret:\n%s", name, out)
			}
			if !strings.Contains(out, "[redacted]") {
				t.Errorf("%s shows no [redacted]:\n%s", name, out)
			}
		}
		if cfg.Slack.BotToken.Reveal() != "xoxb-TOPSECRET-e" {
			t.Errorf("Reveal = %q", cfg.Slack.BotToken.Reveal())
		}
	})
}
