// Package telegram is the Telegram bridge: long polling through telebot.v3,
// DMs and group mentions as engine events, replies streamed by edits (or
// drafts) in Telegram's HTML.
package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	tele "gopkg.in/telebot.v3"

	"github.com/chatbridge/chatbridge/engine"
)

// Name is the platform name of this bridge.
const Name engine.Platform = "telegram"

// Defaults for Options.
const (
	DefaultAPIURL      = "https://api.telegram.org"
	DefaultPollTimeout = 25 * time.Second
	maxBackoff         = time.Minute
)

// Options configure a Bridge.
type Options struct {
	Token  string
	APIURL string // default DefaultAPIURL; a local Bot API server or a fake can stand in
	// StreamMode is "edit" (default) or "draft": sendMessageDraft in
	// private chats, edits elsewhere.
	StreamMode string
	// PollTimeout is the long-polling timeout. Default DefaultPollTimeout.
	PollTimeout time.Duration
	// Backoff is the first wait after a failed getUpdates; it doubles up to
	// a minute while failures repeat. Default one second.
	Backoff    time.Duration
	HTTPClient *http.Client // default: one with a timeout above PollTimeout
	Logger     *slog.Logger
	// OnState, when set, is told when the connection to Telegram comes up
	// or goes down (for health); err is nil when it is up.
	OnState func(err error)
}

// Bridge is the Telegram bridge. Create it with New. Run may be called
// again after it returns (the engine restarts a failed bridge).
type Bridge struct {
	opts Options
	bot  *tele.Bot
	me   *tele.User
	log  *slog.Logger
	tr   *lifetimeTransport
}

// New connects to Telegram (getMe) to learn the bot's identity. It blocks
// for that one call.
func New(opts Options) (*Bridge, error) {
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = DefaultPollTimeout
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	client := http.Client{Timeout: opts.PollTimeout + 15*time.Second}
	if opts.HTTPClient != nil {
		client = *opts.HTTPClient
	}
	tr := &lifetimeTransport{base: client.Transport}
	if tr.base == nil {
		tr.base = http.DefaultTransport
	}
	client.Transport = tr
	bot, err := tele.NewBot(tele.Settings{
		URL:    trimSlash(opts.APIURL),
		Token:  opts.Token,
		Client: &client,
		// No poller: Run polls by itself, with backoff, and never starts
		// telebot's own loop.
		Offline: true,
	})
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	b := &Bridge{opts: opts, bot: bot, log: opts.Logger, tr: tr}
	me, err := b.getMe()
	if err != nil {
		return nil, err
	}
	b.me = me
	return b, nil
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

func (b *Bridge) getMe() (*tele.User, error) {
	data, err := b.bot.Raw("getMe", nil)
	if err != nil {
		return nil, fmt.Errorf("telegram: getMe: %w", mapError(err))
	}
	var resp struct {
		Result tele.User `json:"result"`
	}
	if err := json.Unmarshal(data, &resp); err != nil || resp.Result.ID == 0 {
		return nil, fmt.Errorf("telegram: getMe: unexpected answer")
	}
	return &resp.Result, nil
}

// Name returns "telegram".
func (b *Bridge) Name() engine.Platform { return Name }

// Username is the bot's @username, without the @.
func (b *Bridge) Username() string { return b.me.Username }

// Caps are Telegram's limits: 4096 UTF-16 units after entity parsing; about
// one message a second per private chat and 20 a minute per group; about 30
// a second overall; a typing action lasts five seconds.
func (b *Bridge) Caps() engine.Caps {
	return engine.Caps{
		MaxLen:               4096,
		LenUnit:              engine.UTF16,
		CanEdit:              true,
		MinEditInterval:      time.Second,
		GroupMinEditInterval: 3 * time.Second,
		ChatBudget:           engine.RateSpec{Every: time.Second, Burst: 3},
		GroupChatBudget:      engine.RateSpec{Every: 3 * time.Second, Burst: 3},
		BridgeBudget:         engine.RateSpec{Every: time.Second / 30, Burst: 30},
		TypingInterval:       4 * time.Second,
		Dialect:              engine.DialectTelegramHTML,
		NativeCommands:       true,
	}
}

// RegisterCommands puts the engine's command table in the bot's menu
// (setMyCommands). It blocks for one call.
func (b *Bridge) RegisterCommands(ctx context.Context, cmds []engine.CommandSpec) error {
	tc := make([]tele.Command, 0, len(cmds))
	for _, c := range cmds {
		desc := c.Description
		if c.Usage != "" {
			desc = c.Usage + " — " + desc
		}
		if len(desc) > 256 {
			desc = desc[:256]
		}
		tc = append(tc, tele.Command{Text: c.Name, Description: desc})
	}
	return call(ctx, func() error {
		if err := b.bot.SetCommands(tc); err != nil {
			return fmt.Errorf("telegram: setMyCommands: %w", mapError(err))
		}
		return nil
	})
}

// Run long-polls getUpdates and hands each update to h until ctx ends.
// Failures are retried with a doubling backoff (never a hot loop); Run
// returns nil when ctx ends.
func (b *Bridge) Run(ctx context.Context, h engine.Handler) error {
	// Every request still in flight when Run ends (the long poll above
	// all) is cancelled, so a restarted Run never meets a 409 Conflict.
	b.tr.setLifetime(ctx)
	offset := 0
	failures := 0
	for ctx.Err() == nil {
		updates, err := b.getUpdates(ctx, offset)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			wait := b.backoff(failures)
			b.log.Warn("telegram getUpdates failed", "failures", failures, "retry_in", wait, "err", err)
			if b.opts.OnState != nil {
				b.opts.OnState(err)
			}
			var rl *engine.RateLimitError
			if errors.As(err, &rl) && rl.RetryAfter > wait {
				wait = rl.RetryAfter
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			continue
		}
		if failures > 0 || offset == 0 {
			if b.opts.OnState != nil {
				b.opts.OnState(nil)
			}
		}
		failures = 0
		for _, u := range updates {
			// Confirmed at the next getUpdates; the engine's dedupe answers
			// an update Telegram delivers again (after a crash) only once.
			offset = max(offset, u.ID+1)
			b.dispatch(ctx, h, &u)
		}
	}
	return nil
}

// backoff is the wait after n consecutive failures: doubling, capped, with
// jitter.
func (b *Bridge) backoff(n int) time.Duration {
	d := b.opts.Backoff << min(n-1, 16)
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1)
}

// getUpdates makes one long-poll request. It returns early when ctx ends.
func (b *Bridge) getUpdates(ctx context.Context, offset int) ([]tele.Update, error) {
	params := map[string]any{
		"timeout":         int(b.opts.PollTimeout / time.Second),
		"allowed_updates": []string{"message", "callback_query"},
	}
	if offset > 0 {
		params["offset"] = offset
	}
	var data []byte
	err := call(ctx, func() error {
		var err error
		data, err = b.bot.Raw("getUpdates", params)
		return err
	})
	if err != nil {
		return nil, mapError(err)
	}
	var resp struct {
		Result []tele.Update `json:"result"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("telegram: getUpdates: bad answer: %w", err)
	}
	return resp.Result, nil
}

// DirectReplier writes to a user privately: a user's private chat with the
// bot has the user's id (owner alerts). The user must have started the bot.
func (b *Bridge) DirectReplier(_ context.Context, user engine.UserID) (engine.Replier, error) {
	id, err := strconv.ParseInt(string(user), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("telegram: user id %q is not numeric", user)
	}
	return b.newReplier(id, 0, false), nil
}

// ReplierFor addresses a chat without an inbound event (engine.Recover).
func (b *Bridge) ReplierFor(chat engine.ChatID, thread engine.ThreadID) engine.Replier {
	id, _ := strconv.ParseInt(string(chat), 10, 64)
	return b.newReplier(id, 0, false)
}

// call runs fn, a blocking telebot call that knows no context, and returns
// when it finishes or ctx ends. The abandoned call ends by itself within the
// HTTP client's timeout.
func call(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lifetimeTransport cancels the long poll when the lifetime context (Run's)
// ends. telebot's calls take no context, so this is how Run stops it.
type lifetimeTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	life context.Context
}

func (t *lifetimeTransport) setLifetime(ctx context.Context) {
	t.mu.Lock()
	t.life = ctx
	t.mu.Unlock()
}

// RoundTrip sends r; a long poll is also cancelled when the lifetime
// ends. Other calls are not: the engine's final edits of replies in flight
// still go out while it shuts down, after Run has returned.
func (t *lifetimeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	life := t.life
	t.mu.Unlock()
	if life == nil || !strings.HasSuffix(r.URL.Path, "/getUpdates") {
		return t.base.RoundTrip(r)
	}
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(life, cancel)
	resp, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: func() { stop(); cancel() }}
	return resp, nil
}

// releasingBody releases the request's context when the body is closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}
