package engine

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// finalTimeout bounds the last edit of a stopped or interrupted reply,
// plus one chat budget interval per message the reply takes (see
// finalContext).
const finalTimeout = 10 * time.Second

// maxCallAttempts bounds how often one send or edit is tried again after a
// rate limit, so a chat that keeps answering 429 cannot hold a reply forever.
const maxCallAttempts = 6

// shownMsg is one platform message that shows part of a reply.
type shownMsg struct {
	id    MessageID
	text  string    // the part as last shown
	at    time.Time // when it was last sent or edited
	plain bool      // the platform refused its markup once; stay plain
}

// stream shows one reply as it is generated: a typing indicator until the
// first text, then one message that is edited at the platform's pace, split
// into more messages at the platform's limit. The provider's callback only
// calls Append, which never blocks on the platform; one flusher goroutine
// does every platform call, always with the latest text, so edits coalesce.
type stream struct {
	r      Replier
	caps   Caps
	chat   *budget
	bridge *budget
	edits  *budget // the bridge's edit budget; nil when it has none
	log    *slog.Logger
	live   bool // edit as text arrives; false: send once at the end
	// onShown is called from the flusher after the set of messages or
	// their text changed, to persist the reply's state; onShowing just
	// before the platform is asked to show text, so that a crash in
	// between leaves the newer text stored (write-ahead). Either may be
	// nil.
	onShown   func(ids []MessageID, text string)
	onShowing func(text string)
	// onRateLimit counts platform 429s for health; onEdit counts edits.
	onRateLimit func()
	onEdit      func()
	// tmpl holds the flags (Ephemeral) every message of this stream is
	// sent with.
	tmpl Outgoing

	mu      sync.Mutex
	buf     strings.Builder
	hasText bool

	dirty   chan struct{} // cap 1: text changed since the last flush
	first   chan struct{} // closed at the first visible text
	stop    chan struct{} // closed by Finish
	stopped chan struct{} // closed when the flusher has returned

	// Owned by the flusher goroutine (and by Finish after it returned).
	msgs      []shownMsg
	maxLen    int
	lastFlush time.Time
	// drafter, when set, shows the part in progress as a draft; it is
	// dropped at the first error, and the stream goes on with edits.
	drafter   Drafter
	lastDraft string
	finishing bool // the final flush: drafts become messages
}

func newStream(r Replier, caps Caps, chat, bridge *budget, log *slog.Logger, live bool) *stream {
	maxLen := caps.MaxLen
	if maxLen <= 0 {
		maxLen = 1 << 20
	}
	d, _ := r.(Drafter)
	if !live {
		d = nil
	}
	return &stream{
		r: r, caps: caps, chat: chat, bridge: bridge, log: log, live: live, drafter: d,
		dirty:   make(chan struct{}, 1),
		first:   make(chan struct{}),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		maxLen:  maxLen,
	}
}

// Append adds streamed text. It never blocks; safe for concurrent use.
func (s *stream) Append(text string) {
	if text == "" {
		return
	}
	s.mu.Lock()
	s.buf.WriteString(text)
	firstText := !s.hasText && strings.TrimSpace(s.buf.String()) != ""
	if firstText {
		s.hasText = true
	}
	s.mu.Unlock()
	if firstText {
		close(s.first)
	}
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// Text returns everything appended so far.
func (s *stream) Text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// Shown reports whether any text has been appended, i.e. whether the user
// may have seen part of the reply. Retries stop once this is true.
func (s *stream) Shown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hasText
}

// Run is the flusher. It returns when Finish is called or ctx ends.
func (s *stream) Run(ctx context.Context) {
	defer close(s.stopped)
	if !s.typeUntilFirstText(ctx) {
		return
	}
	if !s.live {
		// Streaming off: keep the indicator going until the end.
		s.typeUntil(ctx, s.stop)
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-s.dirty:
		}
		if wait := time.Until(s.lastFlush.Add(s.caps.MinEditInterval)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-s.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
		s.flush(ctx, s.Text())
	}
}

// typeUntilFirstText shows the typing indicator until text arrives. It
// reports false when the stream ended first.
func (s *stream) typeUntilFirstText(ctx context.Context) bool {
	s.typeUntil(ctx, s.first)
	select {
	case <-s.first:
		return ctx.Err() == nil
	default:
		return false
	}
}

// typeUntil renews the typing indicator until done is closed, Finish is
// called or ctx ends.
func (s *stream) typeUntil(ctx context.Context, done <-chan struct{}) {
	typer, ok := s.r.(Typer)
	for {
		if ok {
			s.typing(ctx, typer)
		}
		interval := s.caps.TypingInterval
		if !ok || interval <= 0 {
			interval = time.Hour // nothing to renew; just wait
		}
		t := time.NewTimer(interval)
		select {
		case <-done:
			t.Stop()
			return
		case <-s.stop:
			t.Stop()
			return
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// typing shows the typing indicator once, only if both budgets have a
// token to spare beyond the one the first text will need: it is
// decoration, and a short budget is better spent on the text itself (the
// next renewal tries again). A rate limit pauses the chat as for any call.
func (s *stream) typing(ctx context.Context, typer Typer) {
	if !s.bridge.TrySpare() || !s.chat.TrySpare() {
		return
	}
	err := typer.Typing(ctx)
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		if s.onRateLimit != nil {
			s.onRateLimit()
		}
		s.chat.Pause(max(rl.RetryAfter, time.Second))
		if rl.Global {
			s.bridge.Pause(max(rl.RetryAfter, time.Second))
		}
	case err != nil && ctx.Err() == nil:
		s.log.Debug("typing indicator failed", "err", err)
	}
}

// Finish stops the flusher and shows the final text with footer appended
// (a Markdown note on how the reply ended; empty when it simply finished).
// The final calls use finalContext: they wait for the budgets as long as
// the turn goes on (under load many replies queue for a bot-wide budget,
// and giving up would leave a reply cut short for good), and they still go
// out, within a bound, during /stop and shutdown. Finish blocks until the
// final text is shown or given up on. Call it once.
func (s *stream) Finish(ctx context.Context, footer string) error {
	close(s.stop)
	<-s.stopped
	s.finishing = true
	text := s.Text()
	if footer != "" {
		if strings.TrimSpace(text) == "" {
			text = footer
		} else {
			text = closeFence(text)
			// Append rather than rewrite, so the final text extends what
			// was shown (a terminal in a pipe only prints the new part).
			switch {
			case strings.HasSuffix(text, "\n\n"):
				text += footer
			case strings.HasSuffix(text, "\n"):
				text += "\n" + footer
			default:
				text += "\n\n" + footer
			}
		}
	}
	if strings.TrimSpace(text) == "" {
		return nil
	}
	// Once ctx ends, a long reply may still have many parts to send, each
	// waiting its turn in the chat's budget: allow for them.
	limit := finalTimeout + time.Duration(len(Split(text, s.maxLen, s.caps.LenUnit)))*s.caps.ChatBudget.Every
	fctx, cancel := finalContext(ctx, limit)
	defer cancel()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.flush(fctx, text); err == nil {
			return nil
		}
		if fctx.Err() != nil || sleep(fctx, time.Second<<attempt) != nil {
			break
		}
	}
	return err
}

// finalContext is free of ctx's cancellation and unbounded while ctx
// lasts; from the moment ctx ends (at once if it has: /stop, shutdown)
// it has limit left.
func finalContext(ctx context.Context, limit time.Duration) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(limit, cancel)
		context.AfterFunc(fctx, func() { t.Stop() })
	})
	return fctx, func() {
		stop()
		cancel()
	}
}

// flush makes the platform show text: it splits it at the limit, edits the
// messages whose part changed and sends the new ones. It returns the first
// error that kept part of the text from being shown.
func (s *stream) flush(ctx context.Context, text string) error {
	s.lastFlush = time.Now()
	if s.onShowing != nil && len(s.msgs) > 0 {
		s.onShowing(text)
	}
	var firstErr error
	for shrink := 0; shrink < 4; shrink++ {
		parts := Split(text, s.maxLen, s.caps.LenUnit)
		var err error
		if s.drafter != nil && !s.finishing && len(parts) > 0 {
			err = s.showDraft(ctx, parts)
		} else {
			err = s.show(ctx, parts)
		}
		if !errors.Is(err, ErrTooLong) {
			firstErr = err
			break
		}
		// The platform counts differently than we do (entities, escapes):
		// cut smaller and try again.
		s.maxLen = s.maxLen * 3 / 4
		s.log.Warn("platform refused a part as too long; splitting smaller", "max_len", s.maxLen)
		firstErr = err
	}
	if s.onShown != nil {
		ids := make([]MessageID, len(s.msgs))
		for i, m := range s.msgs {
			ids[i] = m.id
		}
		s.onShown(ids, text)
	}
	if firstErr != nil && ctx.Err() == nil {
		s.log.Warn("showing reply failed", "err", firstErr)
	}
	return firstErr
}

// showDraft sends the finished parts as messages and shows the last one,
// still growing, as a draft. A failed draft turns drafting off for good and
// shows the parts by messages and edits instead.
func (s *stream) showDraft(ctx context.Context, parts []string) error {
	n := len(parts)
	if err := s.show(ctx, parts[:n-1]); err != nil {
		return err
	}
	last := parts[n-1]
	if last == s.lastDraft {
		return nil
	}
	err := s.call(ctx, func(ctx context.Context) error { return s.drafter.Draft(ctx, s.outgoing(last, false)) })
	if err == nil {
		s.lastDraft = last
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, ErrTooLong) {
		return err
	}
	s.log.Info("draft failed; streaming by edits instead", "err", err)
	s.drafter = nil
	return s.show(ctx, parts)
}

func (s *stream) show(ctx context.Context, parts []string) error {
	for i, part := range parts {
		if i < len(s.msgs) {
			m := &s.msgs[i]
			if m.text == part {
				continue
			}
			if wait := time.Until(m.at.Add(s.caps.MinEditInterval)); wait > 0 {
				if err := sleep(ctx, wait); err != nil {
					return err
				}
			}
			err := s.callEdit(ctx, func(ctx context.Context) error {
				return s.r.Edit(ctx, m.id, s.outgoing(part, m.plain))
			})
			if errors.Is(err, ErrBadMarkup) && !m.plain {
				m.plain = true
				err = s.callEdit(ctx, func(ctx context.Context) error {
					return s.r.Edit(ctx, m.id, s.outgoing(part, true))
				})
			}
			if err != nil {
				return err
			}
			if s.onEdit != nil {
				s.onEdit()
			}
			m.text, m.at = part, time.Now()
			continue
		}
		plain := false
		var id MessageID
		err := s.call(ctx, func(ctx context.Context) error {
			var err error
			id, err = s.r.Send(ctx, s.outgoing(part, s.tmpl.Plain))
			return err
		})
		if errors.Is(err, ErrBadMarkup) {
			plain = true
			err = s.call(ctx, func(ctx context.Context) error {
				var err error
				id, err = s.r.Send(ctx, s.outgoing(part, true))
				return err
			})
		}
		if err != nil {
			return err
		}
		s.msgs = append(s.msgs, shownMsg{id: id, text: part, at: time.Now(), plain: plain})
	}
	return nil
}

func (s *stream) outgoing(text string, plain bool) Outgoing {
	m := s.tmpl
	m.Text, m.Plain = text, plain
	return m
}

// callEdit is call for an edit, which also draws on the bridge's edit
// budget (Slack's chat.update is limited workspace-wide).
func (s *stream) callEdit(ctx context.Context, fn func(context.Context) error) error {
	if s.edits == nil {
		return s.call(ctx, fn)
	}
	return s.call(ctx, func(ctx context.Context) error {
		if err := s.edits.Wait(ctx); err != nil {
			return err
		}
		err := fn(ctx)
		if rl := (*RateLimitError)(nil); errors.As(err, &rl) && rl.RetryAfter > 0 {
			s.edits.Pause(rl.RetryAfter) // the limit is the workspace's, not the chat's
		}
		return err
	})
}

// call makes one platform call within the chat's and the bridge's budgets.
// A rate limit pauses the whole chat for RetryAfter and the call is tried
// again; "not modified" is success.
func (s *stream) call(ctx context.Context, fn func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < maxCallAttempts; attempt++ {
		if err := s.chat.Wait(ctx); err != nil {
			return err
		}
		if err := s.bridge.Wait(ctx); err != nil {
			return err
		}
		err = fn(ctx)
		var rl *RateLimitError
		switch {
		case err == nil, errors.Is(err, ErrNotModified):
			return nil
		case errors.As(err, &rl):
			if s.onRateLimit != nil {
				s.onRateLimit()
			}
			pause := rl.RetryAfter
			if pause <= 0 {
				pause = time.Second // the platform did not say; be careful
			}
			s.chat.Pause(pause)
			if rl.Global {
				s.bridge.Pause(pause)
			}
			continue
		default:
			return err
		}
	}
	return err
}
