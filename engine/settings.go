package engine

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The names of the per-conversation settings, as stored.
const (
	SettingModel       = "model"
	SettingTemperature = "temperature"
	SettingMaxTokens   = "max_tokens"
	SettingSystem      = "system_prompt"
	SettingStreaming   = "streaming"
)

// Settings are the effective settings of one conversation.
type Settings struct {
	Model        string
	Temperature  float64
	MaxTokens    int
	SystemPrompt string
	Streaming    bool
}

// settingNames lists the settings in the order /settings shows them.
var settingNames = [...]string{SettingModel, SettingTemperature, SettingMaxTokens, SettingSystem, SettingStreaming}

// MaxTokensLimit is the largest max_tokens a user may set.
const MaxTokensLimit = 1_000_000

// parseSetting checks a user's value for name and returns its canonical form.
func parseSetting(name, value string) (string, error) {
	value = strings.TrimSpace(value)
	switch name {
	case SettingTemperature:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > 2 {
			return "", fmt.Errorf("temperature must be a number from 0 to 2, not %q", value)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case SettingMaxTokens:
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > MaxTokensLimit {
			return "", fmt.Errorf("max tokens must be a whole number from 1 to %d, not %q", MaxTokensLimit, value)
		}
		return strconv.Itoa(n), nil
	case SettingStreaming:
		switch strings.ToLower(value) {
		case "on", "true", "yes", "1":
			return "on", nil
		case "off", "false", "no", "0":
			return "off", nil
		}
		return "", fmt.Errorf("streaming is on or off, not %q", value)
	case SettingModel, SettingSystem:
		if value == "" {
			return "", fmt.Errorf("%s must not be empty", name)
		}
		return value, nil
	}
	return "", fmt.Errorf("unknown setting %q", name)
}

// apply overlays stored user values on the defaults. A stored value that no
// longer parses (an older version's) is ignored, so bad data never blocks a
// conversation.
func (s Settings) apply(stored map[string]string) Settings {
	for name, v := range stored {
		v, err := parseSetting(name, v)
		if err != nil {
			continue
		}
		switch name {
		case SettingModel:
			s.Model = v
		case SettingTemperature:
			s.Temperature, _ = strconv.ParseFloat(v, 64)
		case SettingMaxTokens:
			s.MaxTokens, _ = strconv.Atoi(v)
		case SettingSystem:
			s.SystemPrompt = v
		case SettingStreaming:
			s.Streaming = v == "on"
		}
	}
	return s
}

// value renders one setting for display.
func (s Settings) value(name string) string {
	switch name {
	case SettingModel:
		return s.Model
	case SettingTemperature:
		return strconv.FormatFloat(s.Temperature, 'f', -1, 64)
	case SettingMaxTokens:
		return strconv.Itoa(s.MaxTokens)
	case SettingSystem:
		return s.SystemPrompt
	case SettingStreaming:
		if s.Streaming {
			return "on"
		}
		return "off"
	}
	return ""
}

// settings loads the effective settings of key and the stored user values.
func (e *Engine) settings(ctx context.Context, key ConversationKey) (Settings, map[string]string, error) {
	stored, err := e.store.Settings(ctx, key)
	if err != nil {
		return Settings{}, nil, fmt.Errorf("load settings: %w", err)
	}
	return e.opts.Defaults.apply(stored), stored, nil
}
