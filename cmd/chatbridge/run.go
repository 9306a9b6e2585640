package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/chatbridge/chatbridge/bridges/console"
	"github.com/chatbridge/chatbridge/bridges/discord"
	"github.com/chatbridge/chatbridge/bridges/telegram"
	"github.com/chatbridge/chatbridge/cmd/chatbridge/internal/config"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/health"
)

// defaultMemoryLimit is run's soft memory limit unless GOMEMLIMIT is set.
const defaultMemoryLimit = 128 << 20

// sweepEvery is how often retention_days is enforced.
const sweepEvery = 6 * time.Hour

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// kills the process, since signal handling is reset after the first.
func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	return ctx, stop
}

func (c *cli) run(ctx context.Context, args []string) error {
	fs := c.flags("run")
	path := fs.String("config", defaultConfig, "config file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if _, err := os.Stat(*path); errors.Is(err, os.ErrNotExist) {
		return c.firstRun(*path)
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	if missing := cfg.MissingForRun(); len(missing) > 0 {
		msg := fmt.Sprintf("%s is not ready to run; set:", *path)
		for _, m := range missing {
			msg += "\n  - " + m
		}
		return usagef("%s\n(or chat in the terminal: chatbridge console -config %s)", msg, *path)
	}
	log := newLogger(c.stderr, slog.LevelInfo)
	if c.env("GOMEMLIMIT") == "" {
		// A soft limit keeps a personal bot small: near it the garbage
		// collector works harder instead of letting the heap double (a
		// backup of a 1 GB database otherwise holds 0.5-1 GB of garbage).
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signalContext(ctx)
	defer stop()

	tracker := health.NewTracker()
	access := map[engine.Platform]engine.Access{}
	// Platform differences are data: whether it is on, how its bridge is
	// built and who may use it.
	platforms := []struct {
		enabled bool
		open    func() (engine.Bridge, error)
		access  engine.Access
	}{
		{cfg.Telegram.Enabled, func() (engine.Bridge, error) { return asBridge(newTelegram(cfg, tracker, log)) },
			engine.Access{Allowed: int64IDs(cfg.Telegram.AllowedUsers), Owners: int64IDs(cfg.Telegram.Owners), Everyone: cfg.Telegram.AllowEveryone}},
		{cfg.Discord.Enabled, func() (engine.Bridge, error) { return asBridge(newDiscord(ctx, cfg, tracker, log)) },
			engine.Access{Allowed: stringIDs(cfg.Discord.AllowedUsers), Owners: stringIDs(cfg.Discord.Owners), Everyone: cfg.Discord.AllowEveryone}},
		{cfg.Slack.Enabled, func() (engine.Bridge, error) { return asBridge(newSlack(ctx, cfg, tracker, log)) },
			engine.Access{Allowed: stringIDs(cfg.Slack.AllowedUsers), Owners: stringIDs(cfg.Slack.Owners), Everyone: cfg.Slack.AllowEveryone}},
	}
	var bridges []engine.Bridge
	for _, p := range platforms {
		if !p.enabled {
			continue
		}
		br, err := p.open()
		if err != nil {
			return err
		}
		bridges = append(bridges, br)
		access[br.Name()] = p.access
	}
	if len(bridges) == 0 {
		return usagef("no bridge is enabled in %s", *path)
	}

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close storage", "err", err)
		}
	}()
	eng, err := newEngine(cfg, newProvider(cfg, log), st, tracker, access, log)
	if err != nil {
		return err
	}
	// Both stop before the store closes (deferred calls run in reverse).
	stopControl, err := serveControl(ctx, cfg.Storage.Dir, st, cfg, log)
	if err != nil {
		return err
	}
	defer stopControl()
	defer startBackups(ctx, cfg, st, log, func(at time.Time, err error) {
		if err == nil {
			eng.SetLastBackup(at)
		}
	})()
	log.Info("chatbridge running", "version", version, "bridges", len(bridges))
	err = serve(ctx, cfg, eng, st, tracker, log, bridges...)
	log.Info("chatbridge stopped")
	return err
}

// newTelegram connects the Telegram bridge (one getMe call).
func newTelegram(cfg *config.Config, tracker *health.Tracker, log *slog.Logger) (*telegram.Bridge, error) {
	name := string(telegram.Name)
	tracker.Set(name, health.StateStarting, "")
	br, err := telegram.New(telegram.Options{
		Token:      cfg.Telegram.Token.Reveal(),
		APIURL:     cfg.Telegram.APIURL,
		StreamMode: cfg.Telegram.StreamMode,
		Logger:     log.With("bridge", name),
		OnState:    stateReporter(tracker, name),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to telegram (check telegram.token / TELEGRAM_BOT_TOKEN and telegram.api_url): %w", err)
	}
	log.Info("telegram bridge connected", "bot", "@"+br.Username())
	return br, nil
}

// newDiscord checks the Discord token and prepares the gateway session.
func newDiscord(ctx context.Context, cfg *config.Config, tracker *health.Tracker, log *slog.Logger) (*discord.Bridge, error) {
	name := string(discord.Name)
	tracker.Set(name, health.StateStarting, "")
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	br, err := discord.New(cctx, discord.Options{
		Token:          cfg.Discord.Token.Reveal(),
		APIURL:         cfg.Discord.APIURL,
		GuildIDs:       cfg.Discord.GuildIDs,
		MessageContent: cfg.Discord.MessageContent,
		Reconnect:      true,
		Logger:         log.With("bridge", name),
		OnState:        stateReporter(tracker, name),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to discord (check discord.token / DISCORD_BOT_TOKEN and discord.api_url): %w", err)
	}
	log.Info("discord bridge connected", "bot", br.Username())
	return br, nil
}

// stateReporter turns a bridge's connection news into health states.
func stateReporter(tracker *health.Tracker, name string) func(error) {
	return func(err error) {
		if err != nil {
			tracker.Set(name, health.StateDegraded, err.Error())
			return
		}
		tracker.Set(name, health.StateOK, "")
	}
}

func stringIDs(ids []string) []engine.UserID {
	out := make([]engine.UserID, len(ids))
	for i, id := range ids {
		out[i] = engine.UserID(id)
	}
	return out
}

func int64IDs(ids []int64) []engine.UserID {
	out := make([]engine.UserID, len(ids))
	for i, id := range ids {
		out[i] = engine.UserID(strconv.FormatInt(id, 10))
	}
	return out
}

// console chats in the terminal with the same engine, commands and storage.
func (c *cli) console(ctx context.Context, args []string) error {
	fs := c.flags("console")
	path := fs.String("config", defaultConfig, "config file")
	verbose := fs.Bool("v", false, "log at info level (default: warnings only)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	if cfg.OpenRouter.APIKey == "" {
		return usagef("%s: set OPENROUTER_API_KEY in the environment or openrouter.api_key (or api_key_file) in the config", *path)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := newLogger(c.stderr, level)

	ctx, stop := signalContext(ctx)
	defer stop()

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close storage", "err", err)
		}
	}()

	tty := false
	if f, ok := c.stdout.(*os.File); ok {
		tty = console.IsTerminal(f)
	}
	user := engine.UserID(cfg.Console.User)
	br := console.New(console.Options{In: c.stdin, Out: c.stdout, User: user, TTY: tty})

	tracker := health.NewTracker()
	access := map[engine.Platform]engine.Access{
		br.Name(): {Allowed: []engine.UserID{user}, Owners: []engine.UserID{user}},
	}
	eng, err := newEngine(cfg, newProvider(cfg, log), st, tracker, access, log)
	if err != nil {
		return err
	}
	err = serve(ctx, cfg, eng, st, tracker, log, br)
	if cerr := br.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// serve runs the bridges until ctx ends or every bridge has returned, then
// shuts the engine down gracefully: replies in flight finish, or are marked
// interrupted when shutdown_timeout passes.
func serve(ctx context.Context, cfg *config.Config, eng *engine.Engine, st sweeper,
	tracker *health.Tracker, log *slog.Logger, bridges ...engine.Bridge) error {
	for _, b := range bridges {
		eng.Register(b)
	}
	if err := eng.Recover(ctx); err != nil {
		log.Warn("marking interrupted replies", "err", err)
	}
	if err := eng.RecordDefaults(ctx); err != nil {
		log.Warn("recording the config's defaults in the settings history", "err", err)
	}
	if err := eng.LoadAPIKey(ctx); err != nil {
		log.Warn("loading the API key", "err", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Storage.RetentionDays > 0 {
		go sweepLoop(runCtx, st, log)
	}
	var monitor sync.WaitGroup
	monitor.Go(func() { eng.Monitor(runCtx) })
	defer func() {
		cancel()
		monitor.Wait()
	}()
	if cfg.Health.Listen != "" {
		stopHTTP, err := serveHealth(cfg.Health.Listen, cfg.Health.Pprof, eng, log)
		if err != nil {
			return err
		}
		defer stopHTTP()
	}
	errs := make(chan error, len(bridges))
	for _, b := range bridges {
		if cr, ok := b.(engine.CommandRegistrar); ok {
			if err := cr.RegisterCommands(ctx, eng.Commands()); err != nil {
				log.Warn("registering commands", "bridge", b.Name(), "err", err)
			}
		}
		tracker.Set(string(b.Name()), health.StateOK, "")
		go func() {
			// Restarted with backoff when it fails; the others go on.
			errs <- eng.RunBridge(runCtx, b)
		}()
	}
	var firstErr error
	for range bridges {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Bot.ShutdownTimeout.Duration)
	defer scancel()
	eng.Shutdown(sctx)
	return firstErr
}

// serveHealth serves /healthz and /metrics on addr until the returned stop
// is called.
func serveHealth(addr string, profiles bool, eng *engine.Engine, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("health.listen %s: %w", addr, err)
	}
	handler := health.Handler(eng.Snapshot, eng.Metrics())
	if profiles {
		mux := http.NewServeMux()
		mux.Handle("/", handler)
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		handler = mux
	}
	// WriteTimeout stays unset: a CPU profile streams for its seconds.
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health endpoint", "err", err)
		}
	}()
	log.Info("health endpoint", "listen", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// asBridge turns a constructor's concrete bridge into an engine.Bridge,
// with no typed nil on error.
func asBridge[B engine.Bridge](br B, err error) (engine.Bridge, error) {
	if err != nil {
		return nil, err
	}
	return br, nil
}

// sweeper is the part of the store that enforces retention.
type sweeper interface {
	Sweep(ctx context.Context, now time.Time) (int, error)
}

func sweepLoop(ctx context.Context, st sweeper, log *slog.Logger) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		if n, err := st.Sweep(ctx, time.Now()); err != nil {
			log.Warn("retention sweep", "err", err)
		} else if n > 0 {
			log.Info("retention sweep", "removed", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
