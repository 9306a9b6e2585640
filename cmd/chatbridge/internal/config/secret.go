package config

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// redacted is what a non-empty Secret prints as.
const redacted = "[redacted]"

// Secret is a credential (API key, bot token, signing secret). It prints,
// logs and marshals as "[redacted]" (or "" when empty), so a Config can be
// printed with %v, %+v or %#v, logged with slog or marshalled to JSON
// without leaking it; Reveal returns the value for the one place that needs
// it.
//
// Exception: go-toml's encoder ignores MarshalText on string kinds, so
// toml.Marshal writes a Secret in clear. Do not TOML-encode a Config.
type Secret string

// Reveal returns the secret's value. Call it only where the value is sent to
// the service it belongs to.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" when the secret is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format prints String for every verb, so that verbs without a Stringer path
// (%d, %x on the raw bytes, ...) cannot reveal the value either.
func (s Secret) Format(f fmt.State, verb rune) {
	_, _ = f.Write([]byte(s.String()))
}

// MarshalText returns String, so encoders (JSON, TOML) write "[redacted]".
// It never fails.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue returns String as a slog string value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// secretRef ties one secret key to its companion *_file key and its
// environment variable.
type secretRef struct {
	key     string  // dotted key, e.g. "telegram.token"
	fileKey string  // dotted key of the companion file, "" when there is none
	env     string  // environment variable that wins over the file
	value   *Secret // the field inside the Config
	file    *string // the *_file field, nil when there is none
}

// secretRefs lists every secret of c with where else it may come from.
func (c *Config) secretRefs() []secretRef {
	return []secretRef{
		{"openrouter.api_key", "openrouter.api_key_file", "OPENROUTER_API_KEY", &c.OpenRouter.APIKey, &c.OpenRouter.APIKeyFile},
		{"telegram.token", "telegram.token_file", "TELEGRAM_BOT_TOKEN", &c.Telegram.Token, &c.Telegram.TokenFile},
		{"discord.token", "discord.token_file", "DISCORD_BOT_TOKEN", &c.Discord.Token, &c.Discord.TokenFile},
		{"slack.bot_token", "slack.bot_token_file", "SLACK_BOT_TOKEN", &c.Slack.BotToken, &c.Slack.BotTokenFile},
		{"slack.app_token", "slack.app_token_file", "SLACK_APP_TOKEN", &c.Slack.AppToken, &c.Slack.AppTokenFile},
		{"slack.signing_secret", "", "SLACK_SIGNING_SECRET", &c.Slack.SigningSecret, nil},
	}
}

// resolveSecrets applies the environment and the *_file keys to c, in that
// order of precedence: a non-empty environment variable wins over both file
// keys, and a *_file key fills the secret when the variable is unset. Setting
// both the secret and its *_file in the file is an error. It records in
// origins where each secret came from (for error messages) and appends
// warnings for secret files readable by others.
func (l *loader) resolveSecrets(c *Config) {
	for _, r := range c.secretRefs() {
		if v := strings.TrimSpace(l.env(r.env)); v != "" {
			*r.value = Secret(v)
			l.origins[r.key] = origin{desc: "the " + r.env + " environment variable"}
			continue
		}
		if r.file == nil || *r.file == "" {
			continue
		}
		if *r.value != "" {
			l.add(r.fileKey, fmt.Sprintf("is set together with %s", r.key),
				fmt.Sprintf("either %s or %s, not both", r.key, r.fileKey), r.fileKey, r.key)
			continue
		}
		v, err := l.readSecretFile(r.fileKey, *r.file)
		if err != nil {
			l.errs = append(l.errs, &Error{File: l.file, Line: l.line(r.fileKey), Key: r.fileKey,
				Problem: err.Error(), Accepted: "a readable file holding the secret", err: err})
			continue
		}
		*r.value = Secret(v)
		l.origins[r.key] = origin{desc: "the file " + *r.file, lineKey: r.fileKey}
	}
}

// readSecretFile returns the trimmed contents of the secret file at path. It
// appends a warning (not an error) when the file's mode lets group or others
// read or write it. An empty file is an error.
func (l *loader) readSecretFile(key, path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("cannot read: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	l.warnLooseMode(key, path, info.Mode())
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// warnLooseMode appends a warning when mode grants any permission to group or
// others.
func (l *loader) warnLooseMode(key, path string, mode fs.FileMode) {
	if mode.Perm()&0o077 == 0 {
		return
	}
	l.warnings = append(l.warnings, fmt.Sprintf("%s: %s has mode %04o, readable by others; run: chmod 600 %s",
		key, path, mode.Perm(), path))
}
