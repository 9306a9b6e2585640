package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validate checks a decoded Config (with its secrets resolved) and records
// every problem in l.errs.
func (l *loader) validate(c *Config) {
	l.checkTags(c)

	l.checkURL("openrouter.base_url", c.OpenRouter.BaseURL)
	if m := c.OpenRouter.Model; m == "" || strings.ContainsFunc(m, isSpace) {
		l.add("openrouter.model", fmt.Sprintf("%q is not a model id", m), `a model id like "openai/gpt-4o-mini"`)
	}
	for _, m := range c.OpenRouter.FallbackModels {
		if m == "" || strings.ContainsFunc(m, isSpace) {
			l.add("openrouter.fallback_models", fmt.Sprintf("%q is not a model id", m), `model ids like ["anthropic/claude-3.5-haiku"]`)
		}
	}
	if c.Storage.Dir == "" {
		l.add("storage.dir", "is empty", `a directory path, like "./data"`)
	}
	l.checkRecipients(&c.Storage)
	l.checkListen("health.listen", c.Health.Listen)
	if c.Console.User == "" || strings.ContainsFunc(c.Console.User, isSpace) {
		l.add("console.user", fmt.Sprintf("%q is not a user name", c.Console.User), `a name without spaces, like "owner"`)
	}

	l.checkTelegram(&c.Telegram)
	l.checkDiscord(&c.Discord)
	l.checkSlack(&c.Slack)
	if c.Slack.Listen != "" && c.Slack.Listen == c.Health.Listen {
		l.add("slack.listen", "is the same address as health.listen", "a different host:port")
	}
}

// checkTelegram validates the [telegram] section.
func (l *loader) checkTelegram(t *Telegram) {
	l.checkURL("telegram.api_url", t.APIURL)
	const accepted = "positive Telegram user ids, like [123456789]"
	for _, key := range []string{"telegram.allowed_users", "telegram.owners"} {
		ids := t.AllowedUsers
		if key == "telegram.owners" {
			ids = t.Owners
		}
		for _, id := range ids {
			if id <= 0 {
				l.add(key, fmt.Sprintf("%d is not a user id", id), accepted)
			}
		}
	}
	l.checkAccess("telegram", t.Enabled, t.AllowEveryone, len(t.AllowedUsers))
	warnOwners(l, "telegram", t.AllowEveryone, t.AllowedUsers, t.Owners)
	l.requireSecret(t.Enabled, "telegram.token", "TELEGRAM_BOT_TOKEN", t.Token, "the bot token from @BotFather")
}

// checkDiscord validates the [discord] section.
func (l *loader) checkDiscord(d *Discord) {
	l.checkURL("discord.api_url", d.APIURL)
	l.checkIDs("discord.allowed_users", d.AllowedUsers, isSnowflake, `numeric Discord user ids as strings, like ["123456789012345678"]`)
	l.checkIDs("discord.owners", d.Owners, isSnowflake, `numeric Discord user ids as strings, like ["123456789012345678"]`)
	l.checkIDs("discord.guild_ids", d.GuildIDs, isSnowflake, `numeric Discord server ids as strings, like ["123456789012345678"]`)
	l.checkAccess("discord", d.Enabled, d.AllowEveryone, len(d.AllowedUsers))
	warnOwners(l, "discord", d.AllowEveryone, d.AllowedUsers, d.Owners)
	l.requireSecret(d.Enabled, "discord.token", "DISCORD_BOT_TOKEN", d.Token, "the bot token from the Discord developer portal")
}

// checkSlack validates the [slack] section: IDs, token prefixes, and the
// secrets the chosen mode needs (Socket Mode: app_token; HTTP: signing_secret).
func (l *loader) checkSlack(s *Slack) {
	l.checkURL("slack.api_url", s.APIURL)
	l.checkIDs("slack.allowed_users", s.AllowedUsers, isSlackUserID, `Slack user ids, like ["U0123ABCD"]`)
	l.checkIDs("slack.owners", s.Owners, isSlackUserID, `Slack user ids, like ["U0123ABCD"]`)
	l.checkAccess("slack", s.Enabled, s.AllowEveryone, len(s.AllowedUsers))
	warnOwners(l, "slack", s.AllowEveryone, s.AllowedUsers, s.Owners)
	l.checkListen("slack.listen", s.Listen)

	l.requireSecret(s.Enabled, "slack.bot_token", "SLACK_BOT_TOKEN", s.BotToken, `the bot token ("xoxb-...")`)
	if s.BotToken != "" && !strings.HasPrefix(s.BotToken.Reveal(), "xoxb-") {
		l.secretProblem("slack.bot_token", `does not start with "xoxb-"`, `a bot token starting with "xoxb-" (OAuth & Permissions page)`)
	}
	if s.AppToken != "" && !strings.HasPrefix(s.AppToken.Reveal(), "xapp-") {
		l.secretProblem("slack.app_token", `does not start with "xapp-"`, `an app-level token starting with "xapp-" (Basic Information page)`)
	}
	if s.Enabled && s.Listen == "" && s.AppToken == "" {
		l.add("slack.app_token", "missing while slack.enabled = true and slack.listen is empty (Socket Mode)",
			`an app-level token ("xapp-...") in slack.app_token, in a file named by slack.app_token_file, `+
				"or in the SLACK_APP_TOKEN environment variable; or set slack.listen and slack.signing_secret to receive events over HTTP",
			"slack.app_token", "slack.app_token_file", "slack.enabled")
	}
	if s.Enabled && s.Listen != "" && s.SigningSecret == "" {
		l.add("slack.signing_secret", "missing while slack.listen is set",
			"the app's signing secret in slack.signing_secret or in the SLACK_SIGNING_SECRET environment variable",
			"slack.signing_secret", "slack.listen")
	}
}

// checkAccess enforces the contract's rule: an enabled platform answers
// someone only on purpose.
func (l *loader) checkAccess(platform string, enabled, everyone bool, users int) {
	if enabled && !everyone && users == 0 {
		l.add(platform+".allowed_users", "empty while "+platform+".enabled = true",
			"at least one user id, or allow_everyone = true",
			platform+".allowed_users", platform+".enabled")
	}
}

// warnOwners warns about owners who cannot talk to the bot because they are
// not allowed users.
func warnOwners[T comparable](l *loader, platform string, everyone bool, allowed, owners []T) {
	if everyone {
		return
	}
	for _, o := range owners {
		if !slices.Contains(allowed, o) {
			l.warnings = append(l.warnings, fmt.Sprintf("%s.owners: %v is not in %s.allowed_users, so cannot talk to the bot", platform, o, platform))
		}
	}
}

// requireSecret records a problem when a platform is enabled without the
// secret at key (after the environment and the *_file key were applied).
func (l *loader) requireSecret(enabled bool, key, env string, v Secret, what string) {
	if !enabled || v != "" {
		return
	}
	section, _, _ := strings.Cut(key, ".")
	l.add(key, "missing while "+section+".enabled = true",
		fmt.Sprintf("%s in %s, in a file named by %s_file, or in the %s environment variable", what, key, key, env),
		key, key+"_file", section+".enabled")
}

// secretProblem records a problem with a secret's value without showing it,
// saying where the value came from when that was not its own key.
func (l *loader) secretProblem(key, problem, accepted string) {
	o, ok := l.origins[key]
	if !ok {
		l.add(key, problem, accepted)
		return
	}
	line := 0
	if o.lineKey != "" {
		line = l.line(o.lineKey)
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Key: key,
		Problem: problem + " (value from " + o.desc + ")", Accepted: accepted})
}

// checkIDs records one problem per id that ok rejects.
func (l *loader) checkIDs(key string, ids []string, ok func(string) bool, accepted string) {
	for _, id := range ids {
		if !ok(id) {
			l.add(key, fmt.Sprintf("%q is not a valid id", id), accepted)
		}
	}
}

// isSnowflake reports whether s is a Discord snowflake: a positive decimal
// uint64.
func isSnowflake(s string) bool {
	if s == "" || len(s) > 20 || strings.TrimLeft(s, "0123456789") != "" {
		return false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n > 0
}

// isSlackUserID reports whether s looks like a Slack user id (U… or W…,
// upper-case letters and digits).
func isSlackUserID(s string) bool {
	if len(s) < 2 || (s[0] != 'U' && s[0] != 'W') {
		return false
	}
	return strings.TrimLeft(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
}

// isSpace reports whether r is white space, for rejecting ids with spaces.
func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// checkURL records a problem unless raw is an absolute http or https URL.
// A URL's password is never shown.
func (l *loader) checkURL(key, raw string) {
	const accepted = `an absolute http(s) URL, like "https://example.com/api"`
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		l.add(key, "is not a URL: "+err.Error(), accepted)
		return
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		l.add(key, fmt.Sprintf("%q is not an absolute http(s) URL", u.Redacted()), accepted)
	}
}

// checkListen records a problem unless v is empty or a host:port with a
// numeric port (0 picks a free port).
func (l *loader) checkListen(key, v string) {
	if v == "" {
		return
	}
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 0 || n > 65535 {
			err = fmt.Errorf("port %q is not a number from 0 to 65535", port)
		}
	}
	if err != nil {
		l.add(key, fmt.Sprintf("%q is not a host:port", v), `a host:port like "127.0.0.1:9090", or "" for none`)
	}
}

// checkTags applies the `range` and `oneof` tags of every section field.
func (l *loader) checkTags(c *Config) {
	root := reflect.ValueOf(c).Elem()
	for _, s := range fieldsOf(root.Type()) {
		sec := root.FieldByIndex(s.Index)
		for _, k := range fieldsOf(s.Type) {
			f := field{key: s.Name + "." + k.Name, typ: k.Type, sf: k.StructField}
			if problem := f.outOfRange(sec.FieldByIndex(k.Index)); problem != "" {
				l.add(f.key, problem, f.accepted())
			}
		}
	}
}

// outOfRange returns the problem with v against f's `oneof` and `range`
// tags, or "" when there is none.
func (f field) outOfRange(v reflect.Value) string {
	if choices := f.sf.Tag.Get("oneof"); choices != "" {
		if !slices.Contains(strings.Split(choices, ","), v.String()) {
			return fmt.Sprintf("%q is not one of the choices", v.String())
		}
		return ""
	}
	tag, ok := f.sf.Tag.Lookup("range")
	if !ok {
		return ""
	}
	lo, hi, _ := strings.Cut(tag, ",")
	var x float64
	var shown string
	parse := func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
	switch {
	case f.isDuration():
		d := v.Interface().(Duration).Duration
		x, shown = float64(d), d.String()
		parse = func(s string) (float64, error) { d, err := time.ParseDuration(s); return float64(d), err }
	case v.CanInt():
		x, shown = float64(v.Int()), strconv.FormatInt(v.Int(), 10)
	case v.CanFloat():
		x, shown = v.Float(), strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return shown + " is not a finite number"
		}
	default:
		return "internal: range tag on a " + f.typ.String()
	}
	for i, bound := range []string{lo, hi} {
		if bound == "" {
			continue
		}
		b, err := parse(bound)
		if err != nil {
			return "internal: bad range tag " + strconv.Quote(tag)
		}
		if (i == 0 && x < b) || (i == 1 && x > b) {
			return shown + " is out of range"
		}
	}
	return ""
}
