// Package console is the terminal bridge: the owner chats with the engine
// on standard input and output, with the same commands and storage as on
// the chat platforms.
//
// Each input line is one message, or a command when it starts with "/" and
// a letter. Replies are printed as they stream. In a pipe (Options.TTY
// false) the output reads as a transcript, one block per message:
//
//	bot> Hello! A streamed reply grows on its line
//	and the lines after it, written once.
//	bot> Checking the model list…
//	bot (edited)> 3 models match "gpt".
//
// A message starts on a line of its own with "bot> "; streamed text that
// extends what is already printed is appended, so the pipe holds each
// message once. An edit that is not an extension, or of a message with
// other output after it, prints the whole new text again after
// "bot (edited)> ". A notice from the bridge starts with "console> ". An
// uploaded file (/export) is printed between "----- name -----" and
// "----- end -----". Input is not echoed. Text is never wrapped or
// re-indented, so code can be copied as it is.
//
// On a terminal (Options.TTY true) the latest message is redrawn in place
// with ANSI cursor movement, headings and **strong** text are bold, and
// the prompt sits on a line of its own under the latest output, so it
// never lands inside a reply in progress. The terminal stays in cooked
// mode (no raw mode, no dependency), so what the user types while a reply
// streams is still read but its echo is wiped by the next redraw.
//
// Model output can never inject terminal escape sequences (see Render).
package console

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

const (
	platform = engine.Platform("console")

	// maxLineBytes is the longest input line delivered; a longer one is
	// refused with a notice, never truncated.
	maxLineBytes = 1 << 20
	// maxLenRunes is Caps.MaxLen: far beyond any reply, so replies are in
	// effect never split, yet a real limit.
	maxLenRunes  = 1 << 20
	readBufBytes = 64 << 10
	defaultWidth = 80
)

// Options configure a Bridge. The zero value of each field but In and Out
// means its default.
type Options struct {
	// In is read line by line. The bridge reads it from its own goroutine
	// and never closes it. Run fails when it is nil.
	In io.Reader
	// Out receives all output; the bridge never closes it. Nil discards.
	Out io.Writer
	// User is the one user: "owner" by default.
	User engine.UserID
	// Chat is the one chat: "console" by default.
	Chat engine.ChatID
	// TTY says Out is a terminal (see IsTerminal): ANSI redraw and styles.
	TTY bool
	// Width is the terminal's width in columns, for counting the rows a
	// redrawn message takes: 80 by default. Unused when TTY is false.
	Width int
	// Prompt is shown under the latest output when TTY is true: "> " by
	// default.
	Prompt string
}

// Bridge is the console bridge. Create it with New; Run it once at a time.
// Its methods are safe for concurrent use.
type Bridge struct {
	in      io.Reader
	user    engine.UserID
	chat    engine.ChatID
	term    *terminal
	running atomic.Bool
}

var _ engine.Bridge = (*Bridge)(nil)

// New returns a console bridge reading opts.In and writing opts.Out.
func New(opts Options) *Bridge {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.User == "" {
		opts.User = "owner"
	}
	if opts.Chat == "" {
		opts.Chat = "console"
	}
	if opts.Width <= 0 {
		opts.Width = defaultWidth
	}
	if opts.Prompt == "" {
		opts.Prompt = "> "
	}
	return &Bridge{
		in:   opts.In,
		user: opts.User,
		chat: opts.Chat,
		term: &terminal{
			w:           opts.Out,
			tty:         opts.TTY,
			width:       opts.Width,
			prompt:      sanitize(opts.Prompt),
			prefix:      newPrefix(),
			atLineStart: true,
		},
	}
}

// IsTerminal reports whether f is a character device, as a terminal is.
// (So is /dev/null, where the ANSI output does no harm.) It does not block.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Name returns "console".
func (b *Bridge) Name() engine.Platform { return platform }

// Caps describes the terminal: no practical length limit, cheap edits, no
// rate limits, no typing indicator, Markdown shown as it is.
func (b *Bridge) Caps() engine.Caps {
	return engine.Caps{
		MaxLen:  maxLenRunes,
		LenUnit: engine.Runes,
		CanEdit: true,
		// Fast enough to look live, slow enough that redrawing a long
		// reply does not flicker; the same in a pipe, where it bounds
		// the number of writes.
		MinEditInterval: 50 * time.Millisecond,
		Dialect:         engine.DialectMarkdown,
	}
}

// Run reads lines from In and hands each non-blank one to h as an event
// of the owner in the private chat, with a fresh ID ("console-<run>-<n>",
// the run part random, so deduplication never matches across runs) and a
// replier of its own. It blocks until In ends, returning nil (replies may
// still be streaming: the caller waits for them, then calls Close), until
// ctx ends, returning ctx.Err(), or until reading fails. A line over
// 1 MiB is refused with a notice and not delivered.
//
// Reading a real stdin cannot be interrupted, so the reading goroutine
// may stay blocked in Read after Run has returned on ctx; it ends at the
// next line or at EOF, dropping that line, without touching the bridge.
// (So Run again on the same In may lose one line; the daemon runs it
// once.) A second Run while one runs returns an error.
func (b *Bridge) Run(ctx context.Context, h engine.Handler) error {
	if b.in == nil {
		return errors.New("console: no input reader")
	}
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("console: already running")
	}
	defer b.running.Store(false)
	if err := ctx.Err(); err != nil {
		return err
	}

	lines := make(chan input)
	done := make(chan struct{})
	defer close(done)
	go readInput(bufio.NewReaderSize(b.in, readBufBytes), lines, done)

	if err := b.term.showPrompt(); err != nil {
		return err
	}
	run := newPrefix()
	var seq uint64
	for {
		var in input
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case in, ok = <-lines:
		}
		switch {
		case !ok:
			return nil
		case in.err != nil:
			return readError(in.err)
		}
		b.term.inputLine()
		if in.tooLong {
			msg := fmt.Sprintf("input line longer than %d bytes refused; nothing was sent", maxLineBytes)
			if err := b.term.notice(msg); err != nil {
				return err
			}
			continue
		}
		ev, ok := eventFromLine(in.text, b.chat, b.user, time.Now())
		if !ok {
			if err := b.term.showPrompt(); err != nil {
				return err
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		seq++
		ev.ID = engine.EventID(fmt.Sprintf("console-%s-%d", run, seq))
		h.HandleEvent(ctx, newReplier(b.term, maxLenRunes), ev)
	}
}

// Close ends the output: it clears the prompt line on a terminal, or
// finishes an open last line with a newline, so a shell prompt or the
// next program's output starts on a line of its own. Call it after the
// last reply has finished; output after it still works. It closes neither
// In nor Out, which the caller owns. Safe for concurrent use.
func (b *Bridge) Close() error {
	return b.term.close()
}

// input is one result of the reading goroutine.
type input struct {
	text    string
	tooLong bool
	err     error // a read error other than io.EOF
}

// readInput reads lines from r and sends them on out until EOF, a read
// error (sent), or done closing. It closes out when it ends.
func readInput(r *bufio.Reader, out chan<- input, done <-chan struct{}) {
	defer close(out)
	for {
		text, tooLong, err := readLine(r, maxLineBytes)
		if errors.Is(err, io.EOF) {
			return
		}
		select {
		case out <- input{text: text, tooLong: tooLong, err: err}:
		case <-done:
			return
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line from r and returns it without "\n" or "\r\n".
// A line longer than max bytes is read to its end but not kept, so memory
// stays bounded: it comes back as tooLong with no text. A last line without
// a newline is returned with a nil error; err is io.EOF only once nothing
// is left. Other read errors are returned as they are.
func readLine(r *bufio.Reader, max int) (line string, tooLong bool, err error) {
	var acc []byte
	read := false
	for {
		frag, rerr := r.ReadSlice('\n')
		read = read || len(frag) > 0
		if !tooLong {
			// max+2 leaves room for the "\r\n" that is stripped below.
			if len(acc)+len(frag) > max+2 {
				tooLong, acc = true, nil
			} else {
				acc = append(acc, frag...)
			}
		}
		if errors.Is(rerr, bufio.ErrBufferFull) {
			continue
		}
		if rerr != nil && (!errors.Is(rerr, io.EOF) || !read) {
			return "", false, rerr
		}
		break
	}
	if tooLong {
		return "", true, nil
	}
	s := strings.TrimSuffix(string(acc), "\n")
	s = strings.TrimSuffix(s, "\r")
	if len(s) > max {
		return "", true, nil
	}
	return s, false, nil
}

// newPrefix returns a short random hex string that makes IDs unique per
// run and per bridge.
func newPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}
