// Package config loads, defaults and validates chatbridge's TOML
// configuration file (config.example.toml at the repository root documents
// every key).
//
// Load reads a file over Default, takes secrets from the environment or from
// *_file keys, and validates everything at once: each problem is an *Error
// naming the file, the line, the dotted key and what would be accepted.
//
// Struct tags carry the rules that are pure data: `range:"lo,hi"` (either
// bound may be empty) on numbers and durations, `oneof:"a,b"` on enums.
package config

import (
	"fmt"
	"time"
)

// Config is the whole configuration. The zero value is not useful: start from
// Default or Load. A Config is plain data, safe to copy; secrets are of type
// Secret and never print.
type Config struct {
	OpenRouter OpenRouter `toml:"openrouter"`
	Bot        Bot        `toml:"bot"`
	Limits     Limits     `toml:"limits"`
	Storage    Storage    `toml:"storage"`
	Health     Health     `toml:"health"`
	Telegram   Telegram   `toml:"telegram"`
	Discord    Discord    `toml:"discord"`
	Slack      Slack      `toml:"slack"`
	Console    Console    `toml:"console"`

	// Warnings are problems that do not stop the bot, e.g. a secret file
	// readable by others. Load fills it; it is not a file key.
	Warnings []string `toml:"-"`
}

// OpenRouter is the [openrouter] section: the model API (any
// OpenAI-compatible server).
type OpenRouter struct {
	BaseURL        string   `toml:"base_url"`
	APIKey         Secret   `toml:"api_key"`
	APIKeyFile     string   `toml:"api_key_file"`
	Model          string   `toml:"model"`
	FallbackModels []string `toml:"fallback_models"`
	Temperature    float64  `toml:"temperature" range:"0,2"`
	MaxTokens      int      `toml:"max_tokens" range:"1,1000000"`
	SystemPrompt   string   `toml:"system_prompt"`
	Timeout        Duration `toml:"timeout" range:"1s,30m"`
	// HistoryMessages is how many earlier messages are sent with each turn.
	HistoryMessages int `toml:"history_messages" range:"1,1000"`
	// MaxRetries is how many times a failed request is retried by the engine.
	MaxRetries int `toml:"max_retries" range:"0,10"`
}

// Bot is the [bot] section: engine behaviour.
type Bot struct {
	EnableStreaming    bool     `toml:"enable_streaming"`
	AutoTitle          bool     `toml:"auto_title"`
	EnableErrorLogging bool     `toml:"enable_error_logging"`
	ShutdownTimeout    Duration `toml:"shutdown_timeout" range:"1s,5m"`
}

// Limits is the [limits] section. A cost cap of 0 means no cap.
type Limits struct {
	RequestsPerMinute   int     `toml:"requests_per_minute" range:"1,10000"`
	MaxInputChars       int     `toml:"max_input_chars" range:"1,1000000"`
	DailyCostUSD        float64 `toml:"daily_cost_usd" range:"0,"`
	MonthlyCostUSD      float64 `toml:"monthly_cost_usd" range:"0,"`
	PerUserDailyCostUSD float64 `toml:"per_user_daily_cost_usd" range:"0,"`
}

// Storage is the [storage] section. Relative paths are relative to the
// working directory, not to the configuration file.
type Storage struct {
	Dir string `toml:"dir"`
	// RetentionDays deletes messages older than this; 0 keeps them forever.
	RetentionDays int `toml:"retention_days" range:"0,36500"`
	// BackupDir is where scheduled backups go; Load sets an empty one to
	// <Dir>/backups.
	BackupDir string `toml:"backup_dir"`
	// BackupInterval is the time between scheduled backups; 0 turns them off.
	BackupInterval Duration `toml:"backup_interval" range:"0s,8760h"`
	BackupKeep     int      `toml:"backup_keep" range:"1,1000"`
	// BackupAgeRecipients, when set, encrypts backups (scheduled ones and
	// `chatbridge backup`) with age to these public keys ("age1...").
	BackupAgeRecipients []string `toml:"backup_age_recipients"`
	// EncryptionKeyFile, when set, encrypts the database at rest with the key
	// in that file (read by the storage package, not by Load).
	EncryptionKeyFile string `toml:"encryption_key_file"`
}

// Health is the [health] section. A warning threshold of 0 turns that check
// off.
type Health struct {
	// Listen is the host:port of /healthz and /metrics; empty: no endpoint.
	Listen           string   `toml:"listen"`
	CheckInterval    Duration `toml:"check_interval" range:"1s,1h"`
	MemoryMBWarn     int      `toml:"memory_mb_warn" range:"0,1000000"`
	CPUPercentWarn   int      `toml:"cpu_percent_warn" range:"0,100"`
	APIErrorRateWarn float64  `toml:"api_error_rate_warn" range:"0,1"`
	StorageMBWarn    int      `toml:"storage_mb_warn" range:"0,10000000"`
	// Pprof serves Go's profiles under /debug/pprof/ on Listen.
	Pprof bool `toml:"pprof"`
}

// Telegram is the [telegram] section. User IDs are Telegram's numeric ids.
type Telegram struct {
	Enabled       bool    `toml:"enabled"`
	Token         Secret  `toml:"token"`
	TokenFile     string  `toml:"token_file"`
	APIURL        string  `toml:"api_url"`
	AllowedUsers  []int64 `toml:"allowed_users"`
	Owners        []int64 `toml:"owners"`
	AllowEveryone bool    `toml:"allow_everyone"`
	// StreamMode is "edit" (edit a sent message) or "draft"
	// (sendMessageDraft in private chats, edits elsewhere).
	StreamMode string `toml:"stream_mode" oneof:"edit,draft"`
}

// Discord is the [discord] section. IDs are numeric snowflakes as strings.
type Discord struct {
	Enabled       bool     `toml:"enabled"`
	Token         Secret   `toml:"token"`
	TokenFile     string   `toml:"token_file"`
	APIURL        string   `toml:"api_url"`
	AllowedUsers  []string `toml:"allowed_users"`
	Owners        []string `toml:"owners"`
	AllowEveryone bool     `toml:"allow_everyone"`
	// GuildIDs, when set, registers slash commands in these guilds (instant)
	// instead of globally.
	GuildIDs []string `toml:"guild_ids"`
	// MessageContent requests the privileged Message Content intent.
	MessageContent bool `toml:"message_content"`
}

// Slack is the [slack] section. User IDs look like U0123ABCD.
type Slack struct {
	Enabled       bool     `toml:"enabled"`
	BotToken      Secret   `toml:"bot_token"`
	BotTokenFile  string   `toml:"bot_token_file"`
	AppToken      Secret   `toml:"app_token"`
	AppTokenFile  string   `toml:"app_token_file"`
	APIURL        string   `toml:"api_url"`
	AllowedUsers  []string `toml:"allowed_users"`
	Owners        []string `toml:"owners"`
	AllowEveryone bool     `toml:"allow_everyone"`
	// StreamMode is "edit" (chat.update) or "native" (chat.startStream).
	StreamMode string `toml:"stream_mode" oneof:"edit,native"`
	// SigningSecret verifies Events API requests when Listen is set.
	SigningSecret Secret `toml:"signing_secret"`
	// Listen, when set, receives the Events API over HTTP on this host:port
	// instead of Socket Mode (which needs AppToken).
	Listen string `toml:"listen"`
}

// Console is the [console] section: the terminal bridge.
type Console struct {
	// User is the user id the terminal chats as.
	User string `toml:"user"`
}

// Default returns a new Config holding every default; Load decodes the file
// over it. Platforms are disabled and secrets are empty.
func Default() *Config {
	return &Config{
		OpenRouter: OpenRouter{
			BaseURL:         "https://openrouter.ai/api/v1",
			Model:           "openai/gpt-4o-mini",
			FallbackModels:  []string{},
			Temperature:     0.7,
			MaxTokens:       1024,
			SystemPrompt:    "You are a helpful assistant.",
			Timeout:         Duration{120 * time.Second},
			HistoryMessages: 50,
			MaxRetries:      3,
		},
		Bot: Bot{
			EnableStreaming:    true,
			EnableErrorLogging: true,
			ShutdownTimeout:    Duration{10 * time.Second},
		},
		Limits: Limits{RequestsPerMinute: 20, MaxInputChars: 8000},
		Storage: Storage{
			Dir:                 "./data",
			BackupInterval:      Duration{24 * time.Hour},
			BackupKeep:          7,
			BackupAgeRecipients: []string{},
		},
		Health: Health{
			CheckInterval:    Duration{30 * time.Second},
			MemoryMBWarn:     512,
			CPUPercentWarn:   90,
			APIErrorRateWarn: 0.2,
			StorageMBWarn:    1024,
		},
		Telegram: Telegram{
			APIURL:       "https://api.telegram.org",
			AllowedUsers: []int64{},
			Owners:       []int64{},
			StreamMode:   "edit",
		},
		Discord: Discord{
			APIURL:       "https://discord.com",
			AllowedUsers: []string{},
			Owners:       []string{},
			GuildIDs:     []string{},
		},
		Slack: Slack{
			APIURL:       "https://slack.com/api/",
			AllowedUsers: []string{},
			Owners:       []string{},
			StreamMode:   "edit",
		},
		Console: Console{User: "owner"},
	}
}

// MissingForRun lists what the user still has to set before `chatbridge run`
// can chat, one human-readable item each (e.g. "openrouter.api_key or
// OPENROUTER_API_KEY"); empty when nothing is missing. Load does not treat
// these as errors, so `chatbridge check` and tests work without them. The
// console needs only the API key.
func (c *Config) MissingForRun() []string {
	var missing []string
	if c.OpenRouter.APIKey == "" {
		missing = append(missing, "openrouter.api_key or OPENROUTER_API_KEY")
	}
	if !c.Telegram.Enabled && !c.Discord.Enabled && !c.Slack.Enabled {
		missing = append(missing, "enabled = true in one of [telegram], [discord], [slack] (with its token and allowed_users)")
	}
	return missing
}

// Duration is a time.Duration read from a TOML string such as "90s", "1m30s"
// or "24h" (see time.ParseDuration).
type Duration struct {
	time.Duration
}

// UnmarshalText parses text with time.ParseDuration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("%q is not a duration", text)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as time.Duration.String does ("1m30s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }
