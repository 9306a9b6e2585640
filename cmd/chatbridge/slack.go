package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/chatbridge/chatbridge/bridges/slack"
	"github.com/chatbridge/chatbridge/cmd/chatbridge/internal/config"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/health"
)

// slackManifest prints the Slack app manifest for the command table.
func (c *cli) slackManifest(_ context.Context, args []string) error {
	fs := c.flags("slack-manifest")
	name := fs.String("name", "chatbridge", "the app's name in Slack")
	reqURL := fs.String("request-url", "", "public HTTPS URL of slack.listen for the HTTP Events mode; empty: Socket Mode")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *reqURL != "" {
		u, err := url.Parse(*reqURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return usagef("-request-url %q: Slack needs a public https:// URL", *reqURL)
		}
	}
	out, err := slack.Manifest(engine.CommandSpecs(), slack.ManifestOptions{AppName: *name, RequestURL: *reqURL})
	if err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	_, err = fmt.Fprintf(c.stdout, "%s\n", out)
	return err
}

// newSlack checks the Slack bot token (auth.test).
func newSlack(ctx context.Context, cfg *config.Config, tracker *health.Tracker, log *slog.Logger) (*slack.Bridge, error) {
	name := string(slack.Name)
	tracker.Set(name, health.StateStarting, "")
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	br, err := slack.New(cctx, slack.Options{
		BotToken:      cfg.Slack.BotToken.Reveal(),
		AppToken:      cfg.Slack.AppToken.Reveal(),
		APIURL:        cfg.Slack.APIURL,
		StreamMode:    cfg.Slack.StreamMode,
		Listen:        cfg.Slack.Listen,
		SigningSecret: cfg.Slack.SigningSecret.Reveal(),
		Logger:        log.With("bridge", name),
		OnState:       stateReporter(tracker, name),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to slack (check slack.bot_token / SLACK_BOT_TOKEN, slack.app_token / SLACK_APP_TOKEN and slack.api_url): %w", err)
	}
	log.Info("slack bridge connected", "bot_user", br.BotUserID())
	return br, nil
}
