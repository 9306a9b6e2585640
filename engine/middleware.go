package engine

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/time/rate"
)

// Middleware wraps a Handler, like net/http middleware.
type Middleware func(Handler) Handler

// Chain returns h wrapped by mw, the first outermost.
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Recover turns a panic while handling an event into a log line with the
// stack, so a bad event never takes the daemon down.
func Recover(log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, r Replier, ev *Event) {
			defer func() {
				if p := recover(); p != nil {
					log.Error("panic handling event", "platform", ev.Platform, "panic", fmt.Sprint(p),
						"stack", string(debug.Stack()))
				}
			}()
			next.HandleEvent(ctx, r, ev)
		})
	}
}

// Log logs each event with its platform, chat, user, command and size. The
// text itself is never logged: conversations are private.
func Log(log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, r Replier, ev *Event) {
			start := time.Now()
			next.HandleEvent(ctx, r, ev)
			log.Debug("event", "platform", ev.Platform, "chat", ev.Chat, "thread", ev.Thread,
				"user", ev.User, "command", ev.Command, "chars", utf8.RuneCountInString(ev.Text),
				"took", time.Since(start))
		})
	}
}

// refusalInterval is how often a stranger is told the bot is private.
const refusalInterval = time.Hour

// allowlist drops events from users not in the platform's allowed list. A
// stranger gets at most one short refusal per hour; nothing is stored and no
// model is called.
func (e *Engine) allowlist() Middleware {
	allowed := make(map[Platform]map[UserID]bool)
	everyone := make(map[Platform]bool)
	for p, a := range e.opts.Access {
		set := make(map[UserID]bool, len(a.Allowed)+len(a.Owners))
		for _, u := range a.Allowed {
			set[u] = true
		}
		for _, u := range a.Owners {
			set[u] = true
		}
		allowed[p] = set
		everyone[p] = a.Everyone
	}
	var refused throttleSet
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, r Replier, ev *Event) {
			if everyone[ev.Platform] || allowed[ev.Platform][ev.User] {
				next.HandleEvent(ctx, r, ev)
				return
			}
			e.log.Info("refused a stranger", "platform", ev.Platform, "user", ev.User)
			if refused.allow(string(ev.Platform)+":"+string(ev.User), refusalInterval) {
				e.reply(ctx, r, ev, "Sorry, this is a private bot.")
			}
		})
	}
}

// rateLimit applies [limits] requests_per_minute per user. /stop is always
// let through: it is how a user gets out of trouble.
func (e *Engine) rateLimit() Middleware {
	rpm := e.opts.Limits.RequestsPerMinute
	var mu sync.Mutex
	limiters := make(map[string]*rate.Limiter)
	var told throttleSet
	return func(next Handler) Handler {
		if rpm <= 0 {
			return next
		}
		return HandlerFunc(func(ctx context.Context, r Replier, ev *Event) {
			if ev.Command == "stop" {
				next.HandleEvent(ctx, r, ev)
				return
			}
			who := string(ev.Platform) + ":" + string(ev.User)
			mu.Lock()
			lim, ok := limiters[who]
			if !ok && len(limiters) >= 10_000 {
				// Forget users whose bucket has refilled: they lose nothing.
				for k, l := range limiters {
					if l.Tokens() >= float64(rpm) {
						delete(limiters, k)
					}
				}
			}
			if !ok {
				lim = rate.NewLimiter(rate.Every(time.Minute/time.Duration(rpm)), rpm)
				limiters[who] = lim
			}
			res := lim.Reserve()
			delay := res.Delay()
			if delay > 0 {
				res.Cancel()
			}
			mu.Unlock()
			if delay > 0 {
				if told.allow(who, 10*time.Second) {
					e.reply(ctx, r, ev, fmt.Sprintf("You are sending messages too fast (limit: %d a minute). Try again in %s.",
						rpm, delay.Round(time.Second)+time.Second))
				}
				return
			}
			next.HandleEvent(ctx, r, ev)
		})
	}
}

// validate refuses empty input, input over max_input_chars and invalid
// UTF-8, and removes control characters (other than newline and tab).
func (e *Engine) validate() Middleware {
	maxChars := e.opts.Limits.MaxInputChars
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, r Replier, ev *Event) {
			if !utf8.ValidString(ev.Text) {
				e.reply(ctx, r, ev, "Your message is not valid UTF-8 text, so it was not sent to the model.")
				return
			}
			ev.Text = CleanText(ev.Text)
			if ev.Command == "" && !hasVisible(ev.Text) {
				e.reply(ctx, r, ev, "Your message is empty. Send some text, or /help for the commands.")
				return
			}
			if n := utf8.RuneCountInString(ev.Text); maxChars > 0 && n > maxChars {
				e.reply(ctx, r, ev, fmt.Sprintf("Your message is %d characters long; the limit is %d. Send a shorter one.", n, maxChars))
				return
			}
			next.HandleEvent(ctx, r, ev)
		})
	}
}

// hasVisible reports whether s has a character one can see: not only
// spaces and invisible format characters (zero-width spaces, joiners,
// direction marks).
func hasVisible(s string) bool {
	for _, r := range s {
		if !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			return true
		}
	}
	return false
}

// CleanText removes control characters that have no place in a chat
// message (and can drive terminals), keeping newlines and tabs, and
// normalising CRLF to LF. Format characters stay: emoji sequences and
// right-to-left text need them.
func CleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return -1
		}
		return r
	}, s)
}

// throttleSet remembers when each key last passed, to let it pass at most
// once per interval. Old entries are swept as it goes.
type throttleSet struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (t *throttleSet) allow(key string, every time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.last == nil {
		t.last = make(map[string]time.Time)
	}
	if at, ok := t.last[key]; ok && now.Sub(at) < every {
		return false
	}
	if len(t.last) > 10_000 {
		for k, at := range t.last {
			if now.Sub(at) >= every {
				delete(t.last, k)
			}
		}
	}
	t.last[key] = now
	return true
}
