package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeConfig writes body to config.toml in a new temporary directory and
// returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// envOf returns an env function reading m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// mustLoad loads body and fails the test on any error.
func mustLoad(t *testing.T, body string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Load(writeConfig(t, body), envOf(env))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

// loadErrors loads body and returns its problems, failing unless Load
// returned a non-empty Errors and a nil Config.
func loadErrors(t *testing.T, body string, env map[string]string) Errors {
	t.Helper()
	cfg, err := Load(writeConfig(t, body), envOf(env))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("Load: got %v (%T), want Errors", err, err)
	}
	if cfg != nil {
		t.Errorf("Load returned a Config along with errors")
	}
	return errs
}

// want is the part of an *Error a test cares about; empty strings are not
// checked, substrings are matched.
type want struct {
	line     int
	key      string
	problem  string
	accepted string
}

// checkOne fails unless errs holds exactly one problem matching w.
func checkOne(t *testing.T, errs Errors, w want) {
	t.Helper()
	if len(errs) != 1 {
		t.Fatalf("got %d problems, want 1:\n%v", len(errs), errs)
	}
	check(t, errs[0], w)
}

// check fails unless e matches w.
func check(t *testing.T, e *Error, w want) {
	t.Helper()
	if e.Line != w.line || e.Key != w.key ||
		!strings.Contains(e.Problem, w.problem) || !strings.Contains(e.Accepted, w.accepted) {
		t.Errorf("got  %d %q %q %q\nwant %d %q ~%q ~%q", e.Line, e.Key, e.Problem, e.Accepted,
			w.line, w.key, w.problem, w.accepted)
	}
	if !strings.HasSuffix(e.File, "config.toml") {
		t.Errorf("File = %q, want the config path", e.File)
	}
}

// withBackupDir returns Default with storage.backup_dir resolved as Load does.
func withBackupDir() *Config {
	c := Default()
	c.Storage.BackupDir = filepath.Join(c.Storage.Dir, "backups")
	return c
}

func TestLoad_Case(t *testing.T) {
	t.Run("empty file gives defaults", func(t *testing.T) {
		cfg := mustLoad(t, "", nil)
		if !reflect.DeepEqual(cfg, withBackupDir()) {
			t.Errorf("got %+v\nwant %+v", cfg, withBackupDir())
		}
		if cfg.Storage.BackupDir != filepath.Join("data", "backups") {
			t.Errorf("backup_dir = %q", cfg.Storage.BackupDir)
		}
	})

	t.Run("file values over defaults, paths kept as written", func(t *testing.T) {
		cfg := mustLoad(t, `
[openrouter]
model = "anthropic/claude-3.5-haiku"
fallback_models = ["a/b", "c/d"]
temperature = 1
timeout = "1m30s"
[storage]
dir = "var/db"
backup_interval = "0s"
[telegram]
allowed_users = [42]
`, nil)
		if cfg.OpenRouter.Model != "anthropic/claude-3.5-haiku" || len(cfg.OpenRouter.FallbackModels) != 2 ||
			cfg.OpenRouter.Temperature != 1 || cfg.OpenRouter.Timeout.Duration != 90*time.Second {
			t.Errorf("openrouter = %+v", cfg.OpenRouter)
		}
		if cfg.OpenRouter.MaxTokens != 1024 || !cfg.Bot.EnableStreaming {
			t.Errorf("defaults lost: %+v %+v", cfg.OpenRouter, cfg.Bot)
		}
		if cfg.Storage.Dir != "var/db" || cfg.Storage.BackupDir != filepath.Join("var/db", "backups") ||
			cfg.Storage.BackupInterval.Duration != 0 {
			t.Errorf("storage = %+v", cfg.Storage)
		}
		if !reflect.DeepEqual(cfg.Telegram.AllowedUsers, []int64{42}) {
			t.Errorf("allowed_users = %v", cfg.Telegram.AllowedUsers)
		}
	})

	t.Run("environment wins over the file", func(t *testing.T) {
		cfg := mustLoad(t, `
[openrouter]
api_key = "from-file"
[telegram]
enabled = true
token = "1:file"
allowed_users = [1]
[slack]
bot_token_file = "/does/not/exist"
`, map[string]string{
			"OPENROUTER_API_KEY": " from-env\n", "TELEGRAM_BOT_TOKEN": "1:env",
			"SLACK_BOT_TOKEN": "xoxb-env", "SLACK_APP_TOKEN": "xapp-env", "DISCORD_BOT_TOKEN": "d-env",
		})
		got := []string{cfg.OpenRouter.APIKey.Reveal(), cfg.Telegram.Token.Reveal(), cfg.Slack.BotToken.Reveal(),
			cfg.Slack.AppToken.Reveal(), cfg.Discord.Token.Reveal()}
		if want := []string{"from-env", "1:env", "xoxb-env", "xapp-env", "d-env"}; !reflect.DeepEqual(got, want) {
			t.Errorf("secrets = %q, want %q", got, want)
		}
	})

	t.Run("secret file is read and trimmed, loose mode warns", func(t *testing.T) {
		dir := t.TempDir()
		loose, strict := filepath.Join(dir, "key"), filepath.Join(dir, "token")
		if err := os.WriteFile(loose, []byte("  sk-or-file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(strict, []byte("1:tok\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := mustLoad(t, "[openrouter]\napi_key_file = '"+loose+"'\n[telegram]\ntoken_file = '"+strict+"'\n"+
			"[storage]\nencryption_key_file = '"+loose+"'\n", nil)
		if cfg.OpenRouter.APIKey.Reveal() != "sk-or-file" || cfg.Telegram.Token.Reveal() != "1:tok" {
			t.Errorf("secrets = %q %q", cfg.OpenRouter.APIKey.Reveal(), cfg.Telegram.Token.Reveal())
		}
		if len(cfg.Warnings) != 2 || !strings.Contains(cfg.Warnings[0], "openrouter.api_key_file") ||
			!strings.Contains(cfg.Warnings[0], "0644") || !strings.Contains(cfg.Warnings[0], "chmod 600") ||
			!strings.HasPrefix(cfg.Warnings[1], "storage.encryption_key_file: ") {
			t.Errorf("warnings = %q", cfg.Warnings)
		}
	})

	t.Run("missing secret file", func(t *testing.T) {
		errs := loadErrors(t, "[discord]\n\ntoken_file = \"/nonexistent/token\"\n", nil)
		checkOne(t, errs, want{line: 3, key: "discord.token_file", problem: "no such file"})
		if !errors.Is(errs, fs.ErrNotExist) {
			t.Errorf("errors.Is(ErrNotExist) = false")
		}
	})

	t.Run("secret and its file both set", func(t *testing.T) {
		errs := loadErrors(t, "[openrouter]\napi_key = \"k\"\napi_key_file = \"/x\"\n", nil)
		checkOne(t, errs, want{line: 3, key: "openrouter.api_key_file", problem: "together with openrouter.api_key"})
	})

	t.Run("missing config file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.toml"), nil)
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, fs.ErrNotExist) || !strings.HasSuffix(e.File, "nope.toml") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("unknown key at top level", func(t *testing.T) {
		errs := loadErrors(t, "# c\nmodel = \"x\"\n", nil)
		checkOne(t, errs, want{line: 2, key: "model", problem: "unknown section", accepted: "[openrouter], [bot]"})
	})

	t.Run("unknown section reported once", func(t *testing.T) {
		errs := loadErrors(t, "[bot]\n[telegramm]\nenabled = true\ntoken = \"x\"\n", nil)
		checkOne(t, errs, want{line: 2, key: "telegramm", problem: "unknown section", accepted: "[telegram]"})
	})

	t.Run("unknown key in a section", func(t *testing.T) {
		errs := loadErrors(t, "[limits]\nrequests_per_minute = 5\nrequests_per_hour = 9\n", nil)
		checkOne(t, errs, want{line: 3, key: "limits.requests_per_hour", problem: "unknown key",
			accepted: "[limits]: requests_per_minute, max_input_chars,"})
	})

	t.Run("unknown dotted and inline keys", func(t *testing.T) {
		errs := loadErrors(t, "openrouter.modle = \"x\"\nbot = { auto_titel = true }\n", nil)
		if len(errs) != 2 {
			t.Fatalf("got %v", errs)
		}
		check(t, errs[0], want{line: 1, key: "openrouter.modle", problem: "unknown key", accepted: "model"})
		check(t, errs[1], want{line: 2, key: "bot.auto_titel", problem: "unknown key", accepted: "auto_title"})
	})

	t.Run("unknown key alongside range problem", func(t *testing.T) {
		errs := loadErrors(t, "[limits]\nrequests_per_minute = 0\nfoo = 1\n", nil)
		if len(errs) != 2 {
			t.Fatalf("got %v", errs)
		}
		check(t, errs[0], want{line: 2, key: "limits.requests_per_minute", problem: "0 is out of range"})
		check(t, errs[1], want{line: 3, key: "limits.foo", problem: "unknown key"})
	})

	t.Run("string where an integer goes", func(t *testing.T) {
		errs := loadErrors(t, "[limits]\nrequests_per_minute = \"20\"\n", nil)
		checkOne(t, errs, want{line: 2, key: "limits.requests_per_minute",
			problem: "expected an integer, got a string", accepted: "an integer from 1 to 10000"})
	})

	t.Run("integer where a boolean goes", func(t *testing.T) {
		errs := loadErrors(t, "[bot]\nauto_title = 1\n", nil)
		checkOne(t, errs, want{line: 2, key: "bot.auto_title", problem: "expected a boolean, got an integer", accepted: "true or false"})
	})

	t.Run("wrong array element and table for a value", func(t *testing.T) {
		errs := loadErrors(t, "[telegram]\nallowed_users = [1, \"2\"]\n[discord.enabled]\nx = 1\n[console]\nuser = 5\n", nil)
		if len(errs) != 3 {
			t.Fatalf("got %v", errs)
		}
		check(t, errs[0], want{line: 2, key: "telegram.allowed_users", problem: "got an array holding a string", accepted: "integers"})
		check(t, errs[1], want{line: 3, key: "discord.enabled", problem: "expected a boolean, got a table"})
		check(t, errs[2], want{line: 6, key: "console.user", problem: "expected a string, got an integer"})
	})

	t.Run("section given a value", func(t *testing.T) {
		errs := loadErrors(t, "bot = 1\n", nil)
		checkOne(t, errs, want{line: 1, key: "bot", problem: "expected a table [bot], got an integer"})
	})

	t.Run("key defined twice", func(t *testing.T) {
		errs := loadErrors(t, "[bot]\nauto_title = true\nauto_title = false\n", nil)
		checkOne(t, errs, want{line: 3, key: "bot.auto_title", problem: "defined twice (first on line 2)"})
	})

	t.Run("integer too large for go-toml", func(t *testing.T) {
		errs := loadErrors(t, "[limits]\nmax_input_chars = 99999999999999999999\n", nil)
		checkOne(t, errs, want{line: 2, key: "limits.max_input_chars", problem: "too large", accepted: "an integer from 1 to 1000000"})
	})

	t.Run("temperature out of range", func(t *testing.T) {
		errs := loadErrors(t, "[openrouter]\n\ntemperature = 3.5\n", nil)
		checkOne(t, errs, want{line: 3, key: "openrouter.temperature", problem: "3.5 is out of range", accepted: "a number from 0 to 2"})
		if got := errs.Error(); !strings.HasSuffix(got, "config.toml:3: openrouter.temperature: 3.5 is out of range; accepted: a number from 0 to 2") {
			t.Errorf("rendered %q", got)
		}
	})

	t.Run("bad durations", func(t *testing.T) {
		errs := loadErrors(t, "[openrouter]\ntimeout = \"soon\"\n[bot]\nshutdown_timeout = 10\n", nil)
		if len(errs) != 2 {
			t.Fatalf("got %v", errs)
		}
		check(t, errs[0], want{line: 2, key: "openrouter.timeout", problem: `"soon" is not a duration`, accepted: "a duration from 1s to 30m"})
		check(t, errs[1], want{line: 4, key: "bot.shutdown_timeout", problem: "expected a duration string", accepted: `like "90s"`})
	})

	t.Run("duration out of range", func(t *testing.T) {
		errs := loadErrors(t, "[health]\ncheck_interval = \"2h\"\n[storage]\nbackup_interval = \"-1s\"\n", nil)
		if len(errs) != 2 {
			t.Fatalf("got %v", errs)
		}
		check(t, errs[0], want{line: 2, key: "health.check_interval", problem: "2h0m0s is out of range", accepted: "from 1s to 1h"})
		check(t, errs[1], want{line: 4, key: "storage.backup_interval", problem: "-1s is out of range", accepted: "from 0s to 8760h"})
	})

	t.Run("enabled telegram with no allowed_users", func(t *testing.T) {
		errs := loadErrors(t, "[telegram]\nenabled = true\ntoken = \"1:x\"\n", nil)
		checkOne(t, errs, want{line: 2, key: "telegram.allowed_users", problem: "empty while telegram.enabled = true",
			accepted: "at least one user id, or allow_everyone = true"})
	})

	t.Run("allow_everyone passes", func(t *testing.T) {
		cfg := mustLoad(t, "[telegram]\nenabled = true\nallow_everyone = true\n", map[string]string{"TELEGRAM_BOT_TOKEN": "1:x"})
		if !cfg.Telegram.Enabled || len(cfg.MissingForRun()) != 1 {
			t.Errorf("got %+v, missing %q", cfg.Telegram, cfg.MissingForRun())
		}
	})

	t.Run("missing token names the environment variable", func(t *testing.T) {
		for _, tc := range []struct{ body, key, env string }{
			{"[telegram]\nenabled = true\nallowed_users = [1]\n", "telegram.token", "TELEGRAM_BOT_TOKEN"},
			{"[discord]\nenabled = true\nallowed_users = [\"1\"]\n", "discord.token", "DISCORD_BOT_TOKEN"},
			{"[slack]\nenabled = true\nallowed_users = [\"U1\"]\napp_token = \"xapp-1\"\n", "slack.bot_token", "SLACK_BOT_TOKEN"},
			{"[slack]\nenabled = true\nallowed_users = [\"U1\"]\nbot_token = \"xoxb-1\"\n", "slack.app_token", "SLACK_APP_TOKEN"},
		} {
			errs := loadErrors(t, tc.body, nil)
			checkOne(t, errs, want{line: 2, key: tc.key, problem: "missing while", accepted: tc.env})
		}
	})

	t.Run("syntax error gives a line", func(t *testing.T) {
		errs := loadErrors(t, "[openrouter]\nmodel = \"a\"\ntemperature = \n", nil)
		checkOne(t, errs, want{line: 3, problem: "syntax error: unexpected character"})
		if !strings.Contains(errs.Error(), "config.toml:3: syntax error: unexpected") {
			t.Errorf("rendered %q", errs.Error())
		}
	})

	t.Run("several problems together in line order", func(t *testing.T) {
		errs := loadErrors(t, `[openrouter]
base_url = "openrouter.ai/api"
max_tokens = 0
[telegram]
stream_mode = "fast"
[discord]
allowed_users = ["12a"]
[slack]
bot_token = "xoxp-1"
listen = "nohost"
[health]
api_error_rate_warn = 1.5
`, nil)
		wants := []want{
			{line: 2, key: "openrouter.base_url", problem: `"openrouter.ai/api" is not an absolute http(s) URL`},
			{line: 3, key: "openrouter.max_tokens", problem: "0 is out of range"},
			{line: 5, key: "telegram.stream_mode", problem: `"fast" is not one of the choices`, accepted: `"edit" or "draft"`},
			{line: 7, key: "discord.allowed_users", problem: `"12a" is not a valid id`, accepted: "numeric"},
			{line: 9, key: "slack.bot_token", problem: `does not start with "xoxb-"`},
			{line: 10, key: "slack.listen", problem: `"nohost" is not a host:port`},
			{line: 12, key: "health.api_error_rate_warn", problem: "1.5 is out of range"},
		}
		if len(errs) != len(wants) {
			t.Fatalf("got %d problems:\n%v", len(errs), errs)
		}
		for i, w := range wants {
			check(t, errs[i], w)
		}
		if n := strings.Count(errs.Error(), "\n"); n != len(wants)-1 {
			t.Errorf("Error() has %d lines:\n%s", n+1, errs.Error())
		}
	})

	t.Run("slack over HTTP needs the signing secret", func(t *testing.T) {
		errs := loadErrors(t, "[slack]\nenabled = true\nallow_everyone = true\nlisten = \"127.0.0.1:0\"\n",
			map[string]string{"SLACK_BOT_TOKEN": "xoxb-1"})
		checkOne(t, errs, want{line: 4, key: "slack.signing_secret", problem: "missing while slack.listen is set"})
	})

	t.Run("owner not allowed warns", func(t *testing.T) {
		cfg := mustLoad(t, "[discord]\nallowed_users = [\"1\"]\nowners = [\"2\"]\n", nil)
		if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "discord.owners: 2 is not in") {
			t.Errorf("warnings = %q", cfg.Warnings)
		}
	})

	t.Run("example file loads", func(t *testing.T) {
		cfg, err := Load(examplePath, envOf(nil))
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if !reflect.DeepEqual(cfg, withBackupDir()) {
			t.Errorf("the example's values differ from Default:\n got %+v\nwant %+v", cfg, withBackupDir())
		}
		if len(cfg.MissingForRun()) != 2 {
			t.Errorf("MissingForRun = %q", cfg.MissingForRun())
		}
	})
}
