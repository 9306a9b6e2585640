package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Load reads the TOML file at path over Default and returns the validated
// configuration.
//
// Secrets come, in order of precedence, from the environment as read by env
// (OPENROUTER_API_KEY, TELEGRAM_BOT_TOKEN, DISCORD_BOT_TOKEN,
// SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET), from the file named
// by a *_file key (trimmed; a mode looser than 0600 adds a warning to
// Config.Warnings), or from the key itself. A nil env reads no environment;
// pass os.Getenv in main.
//
// Relative paths (storage.dir, storage.backup_dir, *_file keys) are kept
// as written, so they are relative to the working directory, not to the
// file. An empty storage.backup_dir becomes <storage.dir>/backups.
//
// On any problem Load returns a nil Config and an Errors holding every
// problem found (syntax, unknown key, type, range, cross-field), each an
// *Error naming file, line and key. A syntax error stops at once; wrongly
// typed values are all reported, but hold back the range and cross-field
// checks until they are fixed.
// A missing OpenRouter key is not a problem here: see MissingForRun.
func Load(path string, env func(string) string) (*Config, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Problem: "cannot read the configuration file: " + unwrapPath(err), err: err}}
	}
	if env == nil {
		env = func(string) string { return "" }
	}
	l := &loader{file: path, env: env, origins: map[string]origin{}}
	cfg := l.load(doc)
	if err := l.errs.errOrNil(); err != nil {
		return nil, err
	}
	cfg.Warnings = l.warnings
	return cfg, nil
}

// Validate checks c as Load does after decoding (ranges, choices, URLs, IDs,
// platforms' tokens and allowed users), for a Config built in code. The
// returned Errors have no File or Line. It does not read the environment or
// any file.
func (c *Config) Validate() error {
	l := &loader{origins: map[string]origin{}}
	l.validate(c)
	return l.errs.errOrNil()
}

// loader collects the problems and warnings of one Load or Validate.
type loader struct {
	file     string
	env      func(string) string
	idx      *index            // nil for Validate
	origins  map[string]origin // secret key -> where its value came from, if not the key itself
	errs     Errors
	warnings []string
}

// origin is where a secret's value came from when it was not its own key.
type origin struct {
	desc    string // "the SLACK_BOT_TOKEN environment variable", "the file /run/x"
	lineKey string // the *_file key naming the file; "" for the environment
}

// load decodes doc over Default and validates it, collecting problems in
// l.errs. The returned Config is only meaningful when l.errs is empty.
func (l *loader) load(doc []byte) *Config {
	idx, synErr := parseIndex(doc)
	if synErr != nil {
		synErr.File = l.file
		l.errs = append(l.errs, synErr)
		return nil
	}
	l.idx = idx
	for _, e := range idx.check() {
		e.File = l.file
		l.errs = append(l.errs, e)
	}

	cfg := Default()
	err := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields().Decode(cfg)
	var strict *toml.StrictMissingError
	complete := err == nil || errors.As(err, &strict)
	if len(l.errs) == 0 && err != nil {
		// The index check normally finds everything go-toml does; this is
		// the backstop for what it does not.
		l.errs = append(l.errs, l.decodeErrors(err)...)
	}
	if !complete {
		return nil
	}

	l.resolveSecrets(cfg)
	if cfg.Storage.BackupDir == "" && cfg.Storage.Dir != "" {
		cfg.Storage.BackupDir = filepath.Join(cfg.Storage.Dir, "backups")
	}
	if cfg.Storage.EncryptionKeyFile != "" {
		if info, err := os.Stat(cfg.Storage.EncryptionKeyFile); err == nil {
			l.warnLooseMode("storage.encryption_key_file", cfg.Storage.EncryptionKeyFile, info.Mode())
		}
	}
	l.validate(cfg)
	return cfg
}

// decodeErrors turns an error from go-toml's Decode into *Errors. It never
// repeats go-toml's text for a secret key, since that may quote the value.
func (l *loader) decodeErrors(err error) Errors {
	var strict *toml.StrictMissingError
	var de *toml.DecodeError
	switch {
	case errors.As(err, &strict):
		var out Errors
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, _ := e.Position()
			u := unknownKey(unknownPrefix(e.Key()), line)
			u.File = l.file
			out = append(out, u)
		}
		return out
	case errors.As(err, &de):
		line, _ := de.Position()
		e := &Error{File: l.file, Line: line, Key: strings.Join(de.Key(), "."),
			Problem: strings.TrimPrefix(de.Error(), "toml: "), err: err}
		if f, ok := lookup(de.Key()); ok {
			e.Accepted = f.accepted()
			if f.isSecret() {
				e.Problem = "invalid value"
			}
		}
		return Errors{e}
	default:
		return Errors{{File: l.file, Problem: strings.TrimPrefix(err.Error(), "toml: "), err: err}}
	}
}

// unwrapPath returns the cause of a *fs.PathError without repeating the path
// that Error.File already shows.
func unwrapPath(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// line returns the line of the first of keys written in the file, else the
// line of the first key's [section] header, else 0.
func (l *loader) line(keys ...string) int {
	for _, k := range keys {
		if n := l.idx.line(k); n > 0 {
			return n
		}
	}
	if len(keys) > 0 {
		section, _, _ := strings.Cut(keys[0], ".")
		return l.idx.line(section)
	}
	return 0
}

// add records a problem with key, placed on the line of the first of
// lineKeys written in the file (key itself when lineKeys is empty).
func (l *loader) add(key, problem, accepted string, lineKeys ...string) {
	if len(lineKeys) == 0 {
		lineKeys = []string{key}
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: l.line(lineKeys...), Key: key, Problem: problem, Accepted: accepted})
}
