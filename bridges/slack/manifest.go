package slack

import (
	"encoding/json"
	"strings"

	"github.com/chatbridge/chatbridge/engine"
)

// ManifestOptions shape the app manifest.
type ManifestOptions struct {
	AppName string // default "chatbridge"
	// RequestURL, when set, is where Slack sends events, commands and
	// interactions over HTTP (the bridge's listen address as reachable
	// from the internet, e.g. "https://bot.example.com/"). Empty: Socket
	// Mode.
	RequestURL string
}

// Manifest returns the Slack app manifest (JSON) for the command table:
// the bot's scopes, the events it needs (DMs, app mentions, the assistant
// thread), one slash command per engine command, interactivity for the
// buttons, and Socket Mode unless a request URL is given. Paste it at
// api.slack.com/apps → Create New App → From an app manifest. Pure.
func Manifest(cmds []engine.CommandSpec, o ManifestOptions) ([]byte, error) {
	name := o.AppName
	if name == "" {
		name = "chatbridge"
	}
	type slash struct {
		Command      string `json:"command"`
		Description  string `json:"description"`
		UsageHint    string `json:"usage_hint,omitempty"`
		ShouldEscape bool   `json:"should_escape"`
		URL          string `json:"url,omitempty"`
	}
	var commands []slash
	for _, c := range cmds {
		commands = append(commands, slash{
			Command:     "/" + c.Name,
			Description: cut(c.Description, 100),
			UsageHint:   cut(c.Usage, 100),
			URL:         o.RequestURL,
		})
	}
	events := map[string]any{
		"bot_events": []string{"app_mention", "message.im", "assistant_thread_started"},
	}
	interactivity := map[string]any{"is_enabled": true}
	if o.RequestURL != "" {
		events["request_url"] = o.RequestURL
		interactivity["request_url"] = o.RequestURL
	}
	m := map[string]any{
		"_metadata": map[string]any{"major_version": 1, "minor_version": 1},
		"display_information": map[string]any{
			"name":        cut(name, 35),
			"description": "A personal AI assistant (chatbridge)",
		},
		"features": map[string]any{
			"app_home": map[string]any{
				"home_tab_enabled":               false,
				"messages_tab_enabled":           true,
				"messages_tab_read_only_enabled": false,
			},
			"bot_user":       map[string]any{"display_name": cut(strings.ToLower(name), 80), "always_online": true},
			"assistant_view": map[string]any{"assistant_description": "Ask me anything."},
			"slash_commands": commands,
		},
		"oauth_config": map[string]any{
			"scopes": map[string]any{
				"bot": []string{
					"app_mentions:read", "assistant:write", "chat:write", "commands",
					"files:write", "im:history", "im:read", "im:write",
				},
			},
		},
		"settings": map[string]any{
			"event_subscriptions":    events,
			"interactivity":          interactivity,
			"org_deploy_enabled":     false,
			"socket_mode_enabled":    o.RequestURL == "",
			"token_rotation_enabled": false,
		},
	}
	return json.MarshalIndent(m, "", "  ")
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
