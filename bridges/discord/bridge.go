// Package discord is the Discord bridge: the gateway through discordgo,
// DMs, mentions and threads the bot started as engine events, slash
// commands with /model autocomplete, replies streamed by edits with
// allowed_mentions off.
package discord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/engine"
)

// Name is the platform name of this bridge.
const Name engine.Platform = "discord"

// DefaultAPIURL is where REST goes unless Options.APIURL says otherwise; the
// gateway address comes from its GET /gateway.
const DefaultAPIURL = "https://discord.com"

const (
	maxBackoff = 2 * time.Minute
	// maxMessageLen is Discord's content limit for bots, in characters.
	maxMessageLen = 2000
)

// Options configure a Bridge.
type Options struct {
	Token  string // the bot token, without "Bot "
	APIURL string // default DefaultAPIURL; a proxy or a fake can stand in
	// GuildIDs, when set, registers slash commands in these guilds (they
	// show at once) instead of globally.
	GuildIDs []string
	// MessageContent asks for the privileged Message Content intent, which
	// the bot needs to read messages in threads it started without being
	// mentioned.
	MessageContent bool
	// Reconnect lets discordgo reconnect (and resume) by itself after a
	// gateway error. Off, Run returns when the gateway fails; tests turn it
	// off because discordgo's heartbeat otherwise outlives Close.
	Reconnect bool
	// Backoff is the first wait after a failed connect; it doubles up to
	// two minutes while failures repeat. Default one second.
	Backoff    time.Duration
	HTTPClient *http.Client // default: one with a 20 s timeout; its Transport is wrapped, not replaced
	Logger     *slog.Logger
	// OnState, when set, is told when the gateway comes up or goes down
	// (for health); err is nil when it is up.
	OnState func(err error)
}

// Bridge is the Discord bridge. Create it with New. Run may be called
// again after it returns (the engine restarts a failed bridge).
type Bridge struct {
	opts  Options
	s     *discordgo.Session
	me    *discordgo.User
	appID string
	log   *slog.Logger

	mu      sync.Mutex
	cmds    map[string]engine.CommandSpec
	threads map[string]bool // channel id → it is a thread the bot started
}

// New checks the token (GET /users/@me and the application) and prepares a
// session; it blocks for those two calls. Nothing process-wide of
// discordgo is changed: the session gets its own HTTP client.
func New(ctx context.Context, opts Options) (*Bridge, error) {
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	target, err := url.Parse(opts.APIURL)
	if err != nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") {
		return nil, fmt.Errorf("discord: api_url %q is not an http(s) URL", opts.APIURL)
	}
	s, err := discordgo.New("Bot " + opts.Token)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	client := http.Client{Timeout: 20 * time.Second}
	if opts.HTTPClient != nil {
		client = *opts.HTTPClient
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = &transport{target: target, base: base}
	s.Client = &client
	// The engine owns waiting: a 429 comes back as an error, never a sleep
	// inside discordgo.
	s.ShouldRetryOnRateLimit = false
	s.ShouldReconnectOnError = opts.Reconnect
	s.SyncEvents = true
	s.LogLevel = -1 // discordgo logs to the standard logger; we log ourselves
	s.Identify.Intents = discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages
	if opts.MessageContent {
		s.Identify.Intents |= discordgo.IntentMessageContent
	}
	b := &Bridge{opts: opts, s: s, log: opts.Logger, threads: map[string]bool{}}
	me, err := s.User("@me", discordgo.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("discord: check the token (GET /users/@me): %w", mapError(err))
	}
	app, err := s.Application("@me") // takes no context; bounded by the client timeout
	if err != nil {
		return nil, fmt.Errorf("discord: read the application: %w", mapError(err))
	}
	b.me, b.appID = me, app.ID
	return b, nil
}

// Name returns "discord".
func (b *Bridge) Name() engine.Platform { return Name }

// Username is the bot's user name.
func (b *Bridge) Username() string { return b.me.Username }

// Caps are Discord's limits: 2000 characters; about 5 message calls per
// 5 s per channel and 50 requests a second per bot; typing lasts 10 s.
func (b *Bridge) Caps() engine.Caps {
	return engine.Caps{
		MaxLen:          maxMessageLen,
		LenUnit:         engine.Runes,
		CanEdit:         true,
		MinEditInterval: time.Second,
		ChatBudget:      engine.RateSpec{Every: time.Second, Burst: 5},
		BridgeBudget:    engine.RateSpec{Every: time.Second / 50, Burst: 50},
		TypingInterval:  8 * time.Second,
		Dialect:         engine.DialectMarkdown,
		NativeCommands:  true,
	}
}

// RegisterCommands bulk-overwrites the application commands with the
// engine's table, globally or in Options.GuildIDs, usable in DMs. It blocks
// for one call per scope.
func (b *Bridge) RegisterCommands(ctx context.Context, cmds []engine.CommandSpec) error {
	b.mu.Lock()
	b.cmds = make(map[string]engine.CommandSpec, len(cmds))
	for _, c := range cmds {
		b.cmds[c.Name] = c
	}
	b.mu.Unlock()
	app := applicationCommands(cmds)
	scopes := b.opts.GuildIDs
	if len(scopes) == 0 {
		scopes = []string{""}
	}
	for _, guild := range scopes {
		if _, err := b.s.ApplicationCommandBulkOverwrite(b.appID, guild, app, discordgo.WithContext(ctx)); err != nil {
			where := "globally"
			if guild != "" {
				where = "in guild " + guild
			}
			return fmt.Errorf("discord: register commands %s: %w", where, mapError(err))
		}
	}
	return nil
}

// command returns the spec of a registered command.
func (b *Bridge) command(name string) (engine.CommandSpec, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.cmds[name]
	return c, ok
}

// Run connects to the gateway and hands each message and interaction to h
// until ctx ends. A failed connect is retried with a doubling backoff; Run
// returns nil when ctx ends, or an error when the gateway is lost for good
// (Options.Reconnect off).
func (b *Bridge) Run(ctx context.Context, h engine.Handler) error {
	lost := make(chan struct{}, 1)
	removers := []func(){
		b.s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { b.onMessage(ctx, h, m.Message) }),
		b.s.AddHandler(func(_ *discordgo.Session, i *discordgo.InteractionCreate) { b.onInteraction(ctx, h, i.Interaction) }),
		b.s.AddHandler(func(_ *discordgo.Session, t *discordgo.ThreadCreate) { b.noteThread(t.Channel) }),
		b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Ready) { b.state(nil) }),
		b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Resumed) { b.state(nil) }),
		b.s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) {
			b.state(errors.New("gateway disconnected"))
			select {
			case lost <- struct{}{}:
			default:
			}
		}),
	}
	defer func() {
		for _, remove := range removers {
			remove()
		}
	}()
	for failures := 0; ; {
		err := b.s.Open()
		if err == nil {
			break
		}
		failures++
		b.state(err)
		wait := b.backoff(failures)
		b.log.Warn("discord gateway connect failed", "failures", failures, "retry_in", wait, "err", redact(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	defer func() {
		// Reconnecting off first: otherwise discordgo's heartbeat can wake
		// during Close's one-second wait, fail on the old connection and
		// start a reconnect loop that outlives Run.
		b.s.Lock()
		b.s.ShouldReconnectOnError = false
		b.s.Unlock()
		if err := b.s.Close(); err != nil {
			b.log.Warn("discord gateway close", "err", redact(err))
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-lost:
			if !b.opts.Reconnect {
				return errors.New("discord: gateway connection lost")
			}
		}
	}
}

func (b *Bridge) state(err error) {
	if b.opts.OnState != nil {
		b.opts.OnState(err)
	}
}

// backoff is the wait after n consecutive failures: doubling, capped, with
// jitter.
func (b *Bridge) backoff(n int) time.Duration {
	d := min(b.opts.Backoff<<min(n-1, 16), maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// DirectReplier opens (or finds) the DM channel with a user (owner alerts).
// It blocks for one call.
func (b *Bridge) DirectReplier(ctx context.Context, user engine.UserID) (engine.Replier, error) {
	ch, err := b.s.UserChannelCreate(string(user), discordgo.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("discord: open a DM: %w", mapError(err))
	}
	return &channelReplier{s: b.s, channel: ch.ID}, nil
}

// ReplierFor addresses a channel without an inbound event (engine.Recover).
func (b *Bridge) ReplierFor(chat engine.ChatID, _ engine.ThreadID) engine.Replier {
	return &channelReplier{s: b.s, channel: string(chat)}
}
