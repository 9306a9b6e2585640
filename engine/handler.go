package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/engine/health"
)

// Access says who may talk to the bot on one platform.
type Access struct {
	Allowed  []UserID
	Owners   []UserID
	Everyone bool // allow_everyone: anyone may talk (set on purpose)
}

// Limits are the [limits] of the configuration that the engine enforces.
type Limits struct {
	RequestsPerMinute int // per user; 0: unlimited
	MaxInputChars     int // 0: unlimited
	// Cost caps in USD (the provider's reported cost); 0: none. A turn is
	// refused before its request once one is reached.
	DailyCostUSD        float64
	MonthlyCostUSD      float64
	PerUserDailyCostUSD float64
}

// Options configure an Engine. Provider, Store and Defaults.Model are
// required.
type Options struct {
	Provider Provider
	Store    Store
	Logger   *slog.Logger
	Health   *health.Tracker // may be nil
	// Metrics is where the engine registers its Prometheus metrics; nil:
	// a registry of its own (see Engine.Metrics).
	Metrics *health.Registry

	Defaults        Settings // the config's defaults for every conversation
	FallbackModels  []string
	HistoryMessages int // how many earlier messages go with a turn; default 50
	MaxRetries      int // provider retries while nothing was shown; default 3
	// IdleTimeout cuts a provider stream that sends nothing for this long
	// (openrouter.timeout); 0: no limit.
	IdleTimeout time.Duration
	Limits      Limits
	Access      map[Platform]Access
	// ErrorDetails logs errors with their details (enable_error_logging).
	ErrorDetails bool
	// AutoTitle names a conversation by one short model call after its
	// first exchange (auto_title); off: by its first message.
	AutoTitle bool
	// QueueLength is how many events may wait per conversation; default 32.
	QueueLength int
	// BreakerThreshold is how many provider failures in a row open the
	// circuit breaker (default 8); BreakerCooldown how long it stays open
	// before a probe (default 30 s).
	BreakerThreshold int
	BreakerCooldown  time.Duration
	// DownAlertAfter is how long a bridge may be down before its owners on
	// the other bridges are told; default DefaultDownAlertAfter.
	DownAlertAfter time.Duration
	// CheckInterval is how often Monitor takes a snapshot; Thresholds
	// mark the bot degraded ([health]).
	CheckInterval time.Duration
	Thresholds    Thresholds
}

// errShutdown and errStopped are the causes a turn's context is cancelled
// with; they decide how the reply is marked.
var (
	errShutdown = errors.New("shutting down")
	errStopped  = errors.New("stopped by the user")
)

// Engine is the platform-neutral core: it takes events from bridges, runs
// commands and turns, and streams replies. Create it with New. Safe for
// concurrent use.
type Engine struct {
	opts     Options
	log      *slog.Logger
	store    Store
	prov     Provider
	health   *health.Tracker
	chain    Handler
	cmds     *commandTable
	started  time.Time
	stats    *providerStats
	breaker  *breaker
	inflight inflightSet
	registry *health.Registry
	metrics  *engineMetrics
	mon      monitorState

	keyMu      sync.Mutex // guards the key cache and lastBackup
	keyText    string
	keyAt      time.Time
	lastBackup time.Time

	root       context.Context
	cancelRoot context.CancelCauseFunc

	chatBudgets   budgets
	bridgeBudgets budgets

	mu      sync.Mutex
	caps    map[Platform]Caps
	bridges map[Platform]Bridge
	workers map[ConversationKey]*worker
	closing bool
	wg      sync.WaitGroup

	confirm confirmations
	apiKey  apiKeyState
}

// New builds an engine. It does no I/O.
func New(opts Options) (*Engine, error) {
	if opts.Provider == nil || opts.Store == nil {
		return nil, errors.New("engine: provider and store are required")
	}
	if opts.Defaults.Model == "" {
		return nil, errors.New("engine: a default model is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HistoryMessages <= 0 {
		opts.HistoryMessages = 50
	}
	if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	if opts.QueueLength <= 0 {
		opts.QueueLength = 32
	}
	root, cancel := context.WithCancelCause(context.Background())
	e := &Engine{
		opts:       opts,
		log:        opts.Logger,
		store:      opts.Store,
		prov:       opts.Provider,
		health:     opts.Health,
		started:    time.Now(),
		stats:      newProviderStats(),
		breaker:    newBreaker(opts.BreakerThreshold, opts.BreakerCooldown),
		root:       root,
		cancelRoot: cancel,
		caps:       make(map[Platform]Caps),
		bridges:    make(map[Platform]Bridge),
		workers:    make(map[ConversationKey]*worker),
	}
	e.registry = opts.Metrics
	if e.registry == nil {
		e.registry = health.NewRegistry()
	}
	e.metrics = e.newMetrics(e.registry)
	e.cmds = newCommandTable()
	e.chain = Chain(HandlerFunc(e.dispatch),
		Recover(e.log),
		Log(e.log),
		e.allowlist(),
		e.dedupe(),
		e.rateLimit(),
		e.validate(),
	)
	return e, nil
}

// Register tells the engine about a bridge: its Caps, and, for Recover,
// whether it can address a chat without an event. Events from a platform
// that was never registered are answered with conservative caps.
func (e *Engine) Register(b Bridge) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.caps[b.Name()] = b.Caps()
	e.bridges[b.Name()] = b
}

// Commands returns the command table for registration with a platform.
func (e *Engine) Commands() []CommandSpec { return e.cmds.specs() }

// HandleEvent runs the middleware chain and queues the event's work on its
// conversation's worker. It returns promptly. Safe for concurrent use.
func (e *Engine) HandleEvent(ctx context.Context, r Replier, ev *Event) {
	e.chain.HandleEvent(ctx, r, ev)
}

// capsFor returns the caps of a platform.
func (e *Engine) capsFor(p Platform) Caps {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.caps[p]; ok {
		return c
	}
	return Caps{MaxLen: 2000, LenUnit: UTF16, CanEdit: true, MinEditInterval: 3 * time.Second,
		ChatBudget: RateSpec{Every: time.Second, Burst: 1}}
}

// dispatch is the end of the middleware chain: commands and turns go to the
// conversation's worker, except /stop, which must act at once.
func (e *Engine) dispatch(ctx context.Context, r Replier, ev *Event) {
	if ev.Command == "stop" {
		e.stop(ctx, r, ev)
		return
	}
	cmd := (*command)(nil)
	if ev.Command != "" {
		cmd = e.cmds.lookup(ev.Command)
		if cmd == nil {
			e.reply(ctx, r, ev, fmt.Sprintf("Unknown command /%s. Send /help for the list.", ev.Command))
			return
		}
	}
	job := func(ctx context.Context) {
		if cmd != nil {
			e.runCommand(ctx, r, ev, cmd)
			e.handled(ctx, ev)
			return
		}
		e.runTurn(ctx, r, ev, ev.Text, false) // notes the end once the turn is stored
	}
	err := e.enqueue(ev.Key(), job)
	ev.queued = err == nil
	switch {
	case errors.Is(err, errQueueFull):
		e.reply(ctx, r, ev, "Too many messages are waiting in this conversation. Wait for the replies, or send /stop.")
	case errors.Is(err, errShutdown):
		e.reply(ctx, r, ev, "The bot is shutting down. Send your message again in a minute.")
	}
}

// reply sends a short message outside any stream, within the chat's
// budget, split if long. Errors are logged; the caller has nothing better to
// do with them. It blocks until sent.
func (e *Engine) reply(ctx context.Context, r Replier, ev *Event, text string) {
	e.replyWith(ctx, r, ev, Outgoing{Text: text})
}

func (e *Engine) replyWith(ctx context.Context, r Replier, ev *Event, m Outgoing) {
	s := e.newStream(r, ev, true)
	s.tmpl = m
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalTimeout)
	defer cancel()
	if err := s.flush(ctx, m.Text); err != nil && ctx.Err() == nil {
		e.log.Warn("reply failed", "platform", ev.Platform, "chat", ev.Chat, "err", err)
	}
}

// newStream builds a reply stream to the event's chat with its budgets.
func (e *Engine) newStream(r Replier, ev *Event, live bool) *stream {
	caps := e.capsFor(ev.Platform).ForChat(ev.Private)
	chat := e.chatBudgets.get(string(KeyFor(ev.Platform, ev.Chat, "")), caps.ChatBudget)
	bridge := e.bridgeBudgets.get(string(ev.Platform), caps.BridgeBudget)
	s := newStream(r, caps, chat, bridge, e.log, live)
	if caps.EditBudget.Every > 0 {
		s.edits = e.bridgeBudgets.get(string(ev.Platform)+"/edits", caps.EditBudget)
	}
	s.onRateLimit = func() {
		e.stats.rateLimitHit()
		e.metrics.rateLimits.Inc(string(ev.Platform))
	}
	s.onEdit = func() { e.metrics.edits.Inc(string(ev.Platform)) }
	return s
}

// Shutdown stops taking events and waits for replies in flight to finish.
// When ctx ends first, the remaining replies are cancelled and marked
// interrupted (their final edit still goes out). It blocks until every
// worker has returned.
func (e *Engine) Shutdown(ctx context.Context) {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.cancelRoot(errShutdown)
		<-done
	}
	e.cancelRoot(errShutdown)
}
