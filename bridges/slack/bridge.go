// Package slack is the Slack bridge: Socket Mode (or the HTTP Events API)
// through slack-go, DMs and app mentions as engine events in their
// threads, slash commands, replies streamed by chat.update (or Slack's
// native streaming) in mrkdwn.
package slack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/chatbridge/chatbridge/engine"
)

// Name is the platform name of this bridge.
const Name engine.Platform = "slack"

// DefaultAPIURL is the Web API's base URL.
const DefaultAPIURL = "https://slack.com/api/"

// maxMessageLen keeps a message well under Slack's 4,000-character advice
// (it truncates past 40,000 and refuses some long texts with msg_too_long).
const maxMessageLen = 3900

// Options configure a Bridge.
type Options struct {
	BotToken string // xoxb-
	AppToken string // xapp-, for Socket Mode
	APIURL   string // default DefaultAPIURL; a trailing slash is added
	// StreamMode is "edit" (default: chat.postMessage, then chat.update)
	// or "native" (chat.startStream/appendStream/stopStream).
	StreamMode string
	// Listen, when set, receives the Events API over HTTP on this
	// host:port instead of Socket Mode; SigningSecret must then be set.
	Listen        string
	SigningSecret string
	// OnListen, when set, is told the address the HTTP Events mode bound
	// (useful with port 0).
	OnListen func(addr string)
	// PingInterval is how long Socket Mode waits for Slack's ping before it
	// reconnects. Default 30 s.
	PingInterval time.Duration
	HTTPClient   *http.Client // default: one with a 30 s timeout
	Logger       *slog.Logger
	// OnState, when set, is told when the connection to Slack comes up or
	// goes down (for health); err is nil when it is up.
	OnState func(err error)
}

// Bridge is the Slack bridge. Create it with New. Run may be called again
// after it returns (the engine restarts a failed bridge).
type Bridge struct {
	opts Options
	api  *slack.Client
	http *http.Client
	log  *slog.Logger

	botUserID string
	botID     string
	teamID    string

	mu     sync.Mutex
	cmds   map[string]engine.CommandSpec
	status bool // assistant.threads.setStatus still worth trying
}

// New checks the bot token (auth.test); it blocks for that one call.
func New(ctx context.Context, opts Options) (*Bridge, error) {
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	if opts.StreamMode == "" {
		opts.StreamMode = "edit"
	}
	if opts.StreamMode != "edit" && opts.StreamMode != "native" {
		return nil, fmt.Errorf("slack: stream_mode %q is not edit or native", opts.StreamMode)
	}
	if opts.Listen != "" && opts.SigningSecret == "" {
		return nil, errors.New("slack: listen is set but signing_secret is empty; requests could not be verified")
	}
	if opts.Listen == "" && opts.AppToken == "" {
		return nil, errors.New("slack: Socket Mode needs the app token (xapp-)")
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	api := slack.New(opts.BotToken,
		slack.OptionHTTPClient(client),
		slack.OptionAPIURL(opts.APIURL),
		slack.OptionAppLevelToken(opts.AppToken),
	)
	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("slack: check the bot token (auth.test): %w", mapError(err))
	}
	b := &Bridge{opts: opts, api: api, http: client, log: opts.Logger, status: true,
		botUserID: auth.UserID, botID: auth.BotID, teamID: auth.TeamID}
	return b, nil
}

func (b *Bridge) client() *http.Client { return b.http }

// Name returns "slack".
func (b *Bridge) Name() engine.Platform { return Name }

// BotUserID is the bot's user id (U…).
func (b *Bridge) BotUserID() string { return b.botUserID }

// Caps are Slack's limits: about 3,900 characters; chat.postMessage about
// one a second per channel; chat.update (Tier 3) about 50 a minute for the
// whole workspace; an assistant status shows until the reply or 2 min.
func (b *Bridge) Caps() engine.Caps {
	return engine.Caps{
		MaxLen:          maxMessageLen,
		LenUnit:         engine.Runes,
		CanEdit:         true,
		MinEditInterval: 1200 * time.Millisecond,
		ChatBudget:      engine.RateSpec{Every: time.Second, Burst: 3},
		EditBudget:      engine.RateSpec{Every: 1200 * time.Millisecond, Burst: 5},
		TypingInterval:  90 * time.Second,
		Dialect:         engine.DialectSlackMrkdwn,
		Threads:         true,
		NativeCommands:  true,
	}
}

// RegisterCommands remembers the engine's command table: Slack's slash
// commands are declared in the app manifest (see Manifest), not by API.
func (b *Bridge) RegisterCommands(_ context.Context, cmds []engine.CommandSpec) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cmds = make(map[string]engine.CommandSpec, len(cmds))
	for _, c := range cmds {
		b.cmds[c.Name] = c
	}
	return nil
}

func (b *Bridge) command(name string) (engine.CommandSpec, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.cmds[name]
	return c, ok
}

// Run receives events until ctx ends: over Socket Mode, or over HTTP when
// Options.Listen is set. It returns nil when ctx ends, or an error when
// Slack refuses the tokens.
func (b *Bridge) Run(ctx context.Context, h engine.Handler) error {
	if b.opts.Listen != "" {
		return b.runHTTP(ctx, h)
	}
	return b.runSocket(ctx, h)
}

// runSocket runs a Socket Mode client, which reconnects by itself, and
// acks each envelope before handling it.
func (b *Bridge) runSocket(ctx context.Context, h engine.Handler) error {
	sm := socketmode.New(b.api,
		socketmode.OptionPingInterval(b.opts.PingInterval),
		socketmode.OptionLog(log.New(io.Discard, "", 0)),
	)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(runCtx) }()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			b.state(err)
			return fmt.Errorf("slack: socket mode: %w", mapError(err))
		case evt := <-sm.Events:
			b.onSocketEvent(ctx, sm, h, evt)
		}
	}
}

// onSocketEvent acks and dispatches one Socket Mode event.
func (b *Bridge) onSocketEvent(ctx context.Context, sm *socketmode.Client, h engine.Handler, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnected:
		b.state(nil)
		return
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError:
		b.state(fmt.Errorf("socket mode: %s", evt.Type))
		return
	case socketmode.EventTypeDisconnect:
		b.state(errors.New("socket mode: disconnected; reconnecting"))
		return
	}
	if evt.Request == nil || evt.Request.EnvelopeID == "" {
		return
	}
	// Ack first: Slack redelivers what is not acked within 3 s.
	if err := sm.Ack(*evt.Request); err != nil {
		b.log.Warn("slack ack failed", "envelope", evt.Request.EnvelopeID, "err", err)
	}
	envelope := evt.Request.EnvelopeID
	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		b.onEventsAPI(ctx, h, evt.Request.Payload, envelope)
	case socketmode.EventTypeSlashCommand:
		if cmd, ok := evt.Data.(slack.SlashCommand); ok {
			b.onSlashCommand(ctx, h, cmd, envelope)
		}
	case socketmode.EventTypeInteractive:
		if cb, ok := evt.Data.(slack.InteractionCallback); ok {
			b.onInteraction(ctx, h, cb, envelope)
		}
	}
}

func (b *Bridge) state(err error) {
	if b.opts.OnState != nil {
		b.opts.OnState(err)
	}
}

// DirectReplier writes to a user in the app's DM (a user id as the
// channel of chat.postMessage) for owner alerts.
func (b *Bridge) DirectReplier(_ context.Context, user engine.UserID) (engine.Replier, error) {
	return b.newReplier(string(user), "", "", string(user), true), nil
}

// ReplierFor addresses a channel and thread without an inbound event
// (engine.Recover).
func (b *Bridge) ReplierFor(chat engine.ChatID, thread engine.ThreadID) engine.Replier {
	return b.newReplier(string(chat), string(thread), "", "", strings.HasPrefix(string(chat), "D"))
}
