package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/chatbridge/chatbridge/cmd/chatbridge/internal/config"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/health"
	"github.com/chatbridge/chatbridge/engine/openrouter"
	"github.com/chatbridge/chatbridge/storage"
)

const defaultConfig = "config.toml"

// loadConfig reads and validates the config file. Every problem is a usage
// error (exit 2) that names the file, line and key.
func (c *cli) loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path, c.env)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usagef("config file %s does not exist; copy config.example.toml to %s and edit it", path, path)
		}
		return nil, usageError{err}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	return cfg, nil
}

// firstRun handles `run` without a config file: it copies the example next
// to where the config should be and says what to fill in.
func (c *cli) firstRun(path string) error {
	example := ""
	for _, cand := range []string{filepath.Join(filepath.Dir(path), "config.example.toml"), "config.example.toml"} {
		if _, err := os.Stat(cand); err == nil {
			example = cand
			break
		}
	}
	if example == "" {
		return usagef("config file %s does not exist, and there is no config.example.toml to start from", path)
	}
	data, err := os.ReadFile(example)
	if err != nil {
		return fmt.Errorf("read %s: %w", example, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return usagef(`created %s from %s; fill it in, then run again:
  - set OPENROUTER_API_KEY in the environment (or openrouter.api_key in %[1]s)
  - enable a platform: in [telegram], [discord] or [slack] set enabled = true, its token
    (or TELEGRAM_BOT_TOKEN, DISCORD_BOT_TOKEN, SLACK_BOT_TOKEN + SLACK_APP_TOKEN) and allowed_users
    (this version has the Telegram bridge; Discord and Slack land later)
  - or chat in the terminal right away: chatbridge console -config %[1]s`, path, example)
}

// newLogger logs to w as text. Secrets never reach it: config secrets print
// as [redacted] and the provider redacts its key from errors.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// openStore opens the database, turning the common failures into clear
// messages.
func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*storage.Store, error) {
	opts := storage.Options{
		Dir:           cfg.Storage.Dir,
		SyncWrites:    true,
		RetentionDays: cfg.Storage.RetentionDays,
		Logger:        log,
	}
	if f := cfg.Storage.EncryptionKeyFile; f != "" {
		key, err := readKeyFile(f)
		if err != nil {
			return nil, usageError{err}
		}
		opts.EncryptionKey = key
	}
	st, err := storage.Open(ctx, opts)
	switch {
	case errors.Is(err, storage.ErrLocked):
		return nil, fmt.Errorf("the data directory %s is in use by another chatbridge process (stop it first): %w", cfg.Storage.Dir, err)
	case errors.Is(err, storage.ErrBadKey):
		return nil, usagef("storage.encryption_key_file: the key does not open the database in %s: %w", cfg.Storage.Dir, err)
	case err != nil:
		return nil, fmt.Errorf("open storage in %s: %w", cfg.Storage.Dir, err)
	}
	return st, nil
}

// readKeyFile reads a 16, 24 or 32 byte key, raw or hex-encoded.
func readKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("storage.encryption_key_file: %w", err)
	}
	s := strings.TrimSpace(string(data))
	if key, err := hex.DecodeString(s); err == nil && validKeyLen(len(key)) {
		return key, nil
	}
	if validKeyLen(len(data)) {
		return data, nil
	}
	return nil, fmt.Errorf("storage.encryption_key_file %s: want a 16, 24 or 32 byte key (raw, or hex: e.g. `openssl rand -hex 32`)", path)
}

func validKeyLen(n int) bool { return n == 16 || n == 24 || n == 32 }

// newProvider builds the OpenRouter client from the config.
func newProvider(cfg *config.Config, log *slog.Logger) *openrouter.Client {
	return openrouter.New(openrouter.Options{
		BaseURL: cfg.OpenRouter.BaseURL,
		APIKey:  cfg.OpenRouter.APIKey.Reveal(),
		Timeout: cfg.OpenRouter.Timeout.Duration,
		Logger:  log,
	})
}

// newEngine wires the engine from the config.
func newEngine(cfg *config.Config, prov engine.Provider, st engine.Store, tracker *health.Tracker,
	access map[engine.Platform]engine.Access, log *slog.Logger) (*engine.Engine, error) {
	return engine.New(engine.Options{
		Provider: prov,
		Store:    st,
		Logger:   log,
		Health:   tracker,
		Defaults: engine.Settings{
			Model:        cfg.OpenRouter.Model,
			Temperature:  cfg.OpenRouter.Temperature,
			MaxTokens:    cfg.OpenRouter.MaxTokens,
			SystemPrompt: cfg.OpenRouter.SystemPrompt,
			Streaming:    cfg.Bot.EnableStreaming,
		},
		FallbackModels:  cfg.OpenRouter.FallbackModels,
		HistoryMessages: cfg.OpenRouter.HistoryMessages,
		MaxRetries:      cfg.OpenRouter.MaxRetries,
		IdleTimeout:     cfg.OpenRouter.Timeout.Duration,
		Limits: engine.Limits{
			RequestsPerMinute:   cfg.Limits.RequestsPerMinute,
			MaxInputChars:       cfg.Limits.MaxInputChars,
			DailyCostUSD:        cfg.Limits.DailyCostUSD,
			MonthlyCostUSD:      cfg.Limits.MonthlyCostUSD,
			PerUserDailyCostUSD: cfg.Limits.PerUserDailyCostUSD,
		},
		Access:        access,
		ErrorDetails:  cfg.Bot.EnableErrorLogging,
		AutoTitle:     cfg.Bot.AutoTitle,
		CheckInterval: cfg.Health.CheckInterval.Duration,
		Thresholds: engine.Thresholds{
			MemoryMB:     cfg.Health.MemoryMBWarn,
			CPUPercent:   cfg.Health.CPUPercentWarn,
			APIErrorRate: cfg.Health.APIErrorRateWarn,
			StorageMB:    cfg.Health.StorageMBWarn,
		},
	})
}
