package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/engine"
)

// safeBuffer is an io.Writer that fails the test when two writes overlap,
// so a test with concurrent repliers proves output is serialised.
type safeBuffer struct {
	t    *testing.T
	busy sync.Mutex
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	if !b.busy.TryLock() {
		b.t.Error("concurrent Write on Out")
		b.busy.Lock()
	}
	defer b.busy.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testBridge returns a bridge writing to a fresh buffer.
func testBridge(t *testing.T, tty bool, width int) (*Bridge, *safeBuffer) {
	out := &safeBuffer{t: t}
	return New(Options{Out: out, TTY: tty, Width: width}), out
}

func send(t *testing.T, r engine.Replier, text string) engine.MessageID {
	t.Helper()
	id, err := r.Send(context.Background(), engine.Outgoing{Text: text})
	if err != nil {
		t.Fatalf("Send(%q): %v", text, err)
	}
	return id
}

func edit(t *testing.T, r engine.Replier, id engine.MessageID, text string) {
	t.Helper()
	if err := r.Edit(context.Background(), id, engine.Outgoing{Text: text}); err != nil {
		t.Fatalf("Edit(%q): %v", text, err)
	}
}

func TestReplier_Pipe(t *testing.T) {
	t.Run("streaming appends only the new text", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "Hel")
		edit(t, r, id, "Hello")
		edit(t, r, id, "Hello world")
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := out.String(), "bot> Hello world\n"; got != want {
			t.Fatalf("Out = %q, want %q", got, want)
		}
	})
	t.Run("multi-line streaming and a footer", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "line one\n")
		edit(t, r, id, "line one\nline two")
		edit(t, r, id, "line one\nline two\n\n_stopped_")
		b.Close()
		if got, want := out.String(), "bot> line one\nline two\n\n_stopped_\n"; got != want {
			t.Fatalf("Out = %q, want %q", got, want)
		}
	})
	t.Run("an edit that is not an extension prints the whole text again", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "Thinking…")
		edit(t, r, id, "The answer")
		edit(t, r, id, "The answer is 42")
		b.Close()
		want := "bot> Thinking…\nbot (edited)> The answer is 42\n"
		if got := out.String(); got != "bot> Thinking…\nbot (edited)> The answer is 42\n" {
			t.Fatalf("Out = %q, want %q", got, want)
		}
	})
	t.Run("each message starts on its own line", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		send(t, r, "one")
		send(t, r, "two\n")
		send(t, r, "three")
		b.Close()
		if got, want := out.String(), "bot> one\nbot> two\nbot> three\n"; got != want {
			t.Fatalf("Out = %q, want %q", got, want)
		}
	})
	t.Run("an older message edited is printed again, marked", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		first := send(t, r, "part one")
		send(t, r, "part two")
		edit(t, r, first, "part one, fixed")
		edit(t, r, first, "part one, fixed!") // now the tail: appended
		b.Close()
		want := "bot> part one\nbot> part two\nbot (edited)> part one, fixed!\n"
		if got := out.String(); got != want {
			t.Fatalf("Out = %q, want %q", got, want)
		}
	})
	t.Run("unchanged text is not modified and prints nothing", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "same")
		before := out.String()
		err := r.Edit(context.Background(), id, engine.Outgoing{Text: "same"})
		if !errors.Is(err, engine.ErrNotModified) {
			t.Fatalf("Edit with the same text: err = %v, want ErrNotModified", err)
		}
		if out.String() != before {
			t.Fatalf("Out changed: %q → %q", before, out.String())
		}
	})
	t.Run("too long", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		long := strings.Repeat("é", b.Caps().MaxLen+1)
		if _, err := r.Send(context.Background(), engine.Outgoing{Text: long}); !errors.Is(err, engine.ErrTooLong) {
			t.Fatalf("Send: err = %v, want ErrTooLong", err)
		}
		id := send(t, r, "x")
		if err := r.Edit(context.Background(), id, engine.Outgoing{Text: long}); !errors.Is(err, engine.ErrTooLong) {
			t.Fatalf("Edit: err = %v, want ErrTooLong", err)
		}
		if _, err := r.Send(context.Background(), engine.Outgoing{Text: long[:len(long)-2]}); err != nil {
			t.Fatalf("Send at the limit: %v", err)
		}
		if out.Len() == 0 {
			t.Fatal("nothing written")
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := r.Send(ctx, engine.Outgoing{Text: "x"}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Send: err = %v", err)
		}
		if out.String() != "" {
			t.Fatalf("Out = %q, want nothing", out.String())
		}
	})
	t.Run("write error is wrapped", func(t *testing.T) {
		boom := errors.New("broken pipe")
		b := New(Options{Out: failWriter{boom}})
		_, err := newReplier(b.term, maxLenRunes).Send(context.Background(), engine.Outgoing{Text: "x"})
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "console: write: ") {
			t.Fatalf("err = %v, want a wrapped %v", err, boom)
		}
	})
	t.Run("after a failed write the edit is tried again in full", func(t *testing.T) {
		out := &flakyWriter{}
		b := New(Options{Out: out})
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "a")
		out.fail = true
		if err := r.Edit(context.Background(), id, engine.Outgoing{Text: "ab"}); err == nil {
			t.Fatal("Edit succeeded on a failing writer")
		}
		out.fail = false
		edit(t, r, id, "ab") // not ErrNotModified: it was never shown
		b.Close()
		if got, want := out.buf.String(), "bot> a\nbot (edited)> ab\n"; got != want {
			t.Fatalf("Out = %q, want %q", got, want)
		}
	})
	t.Run("model escapes are neutralised", func(t *testing.T) {
		b, out := testBridge(t, false, 0)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "ok \x1b[2J")
		edit(t, r, id, "ok \x1b[2J then \x1b]0;title\x07")
		if got := out.String(); strings.ContainsAny(got, "\x1b\x07") {
			t.Fatalf("Out = %q has escapes", got)
		}
	})
}

func (b *safeBuffer) Len() int { return len(b.String()) }

type failWriter struct{ err error }

// flakyWriter fails while fail is set. Not safe for concurrent use.
type flakyWriter struct {
	fail bool
	buf  bytes.Buffer
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.fail {
		return 0, errors.New("flaky")
	}
	return w.buf.Write(p)
}

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestReplier_Upload(t *testing.T) {
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			b, out := testBridge(t, tty, 0)
			r := newReplier(b.term, maxLenRunes)
			send(t, r, "exporting")
			err := r.Upload(context.Background(), "chat.md", []byte("# Chat\n\x1b[2Jhi"), "Your export")
			if err != nil {
				t.Fatal(err)
			}
			want := "----- chat.md -----\nYour export\n# Chat\n␛[2Jhi\n----- end -----\n"
			if tty {
				v := newVT(t, 80)
				v.feed(out.String())
				if got := v.screen(); got != "bot> exporting\n"+want+">" {
					t.Fatalf("screen:\n%s", got)
				}
				return
			}
			if got := out.String(); got != "bot> exporting\n"+want {
				t.Fatalf("Out = %q", got)
			}
		})
	}
}

func TestReplier_Concurrent(t *testing.T) {
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			b, out := testBridge(t, tty, 200)
			const repliers, steps = 8, 30
			var wg sync.WaitGroup
			for k := range repliers {
				letter := string(rune('a' + k))
				wg.Go(func() {
					r := newReplier(b.term, maxLenRunes)
					id := send(t, r, letter)
					for i := 2; i <= steps; i++ {
						edit(t, r, id, strings.Repeat(letter, i))
					}
				})
			}
			wg.Wait()
			b.Close()
			if tty {
				v := newVT(t, 200)
				v.feed(out.String())
				screen := v.screen() + "\n"
				for k := range repliers {
					final := "> " + strings.Repeat(string(rune('a'+k)), steps) + "\n"
					if !strings.Contains(screen, final) {
						t.Errorf("screen lacks %q:\n%s", final, screen)
					}
				}
				return
			}
			// Every line is one replier's text alone: never two mixed.
			line := regexp.MustCompile(`^bot(?: \(edited\))?> (a+|b+|c+|d+|e+|f+|g+|h+)$`)
			last := map[byte]int{}
			for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				m := line.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("mixed or malformed line %q in\n%s", l, out.String())
				}
				last[m[1][0]] = len(m[1])
			}
			for k := range repliers {
				if n := last[byte('a'+k)]; n != steps {
					t.Errorf("replier %c: last shown length %d, want %d", 'a'+k, n, steps)
				}
			}
		})
	}
}

func TestReplier_Terminal(t *testing.T) {
	t.Run("streaming redraws in place", func(t *testing.T) {
		b, out := testBridge(t, true, 80)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "Hel")
		edit(t, r, id, "Hello")
		edit(t, r, id, "Hello world")
		got := out.String()
		for _, seq := range []string{"\x1b[1A", "\x1b[J"} {
			if !strings.Contains(got, seq) {
				t.Errorf("Out = %q lacks %q", got, seq)
			}
		}
		v := newVT(t, 80)
		v.feed(got)
		if s := v.screen(); s != "bot> Hello world\n>" {
			t.Fatalf("screen:\n%s", s)
		}
	})
	t.Run("after the user's line, wrapping, shrinking and growing", func(t *testing.T) {
		b, out := testBridge(t, true, 10)
		v := newVT(t, 10)
		if err := b.term.showPrompt(); err != nil {
			t.Fatal(err)
		}
		v.feed(out.String())
		v.feed("hi\n") // what the terminal echoes as the user types
		b.term.inputLine()
		start := len(out.String())
		r := newReplier(b.term, maxLenRunes)
		texts := []string{
			"a",
			strings.Repeat("x", 25), // "bot> " + 25: 3 rows
			strings.Repeat("x", 25) + "\n\n" + "日本語です", // 5 rows
			"short",
			"# Title\n**bold**\n```\ncode\n```\n" + strings.Repeat("y", 15),
		}
		id := send(t, r, texts[0])
		for _, text := range texts[1:] {
			edit(t, r, id, text)
		}
		v.feed(out.String()[start:])
		want := "> hi\nbot> # Tit\nle\n**bold**\n```\ncode\n```\n" + strings.Repeat("y", 10) + "\n" + strings.Repeat("y", 5) + "\n>"
		if s := v.screen(); s != want {
			t.Fatalf("screen:\n%s\nwant:\n%s", s, want)
		}
	})
	t.Run("a reply taller than the screen redraws only its end", func(t *testing.T) {
		b, out := testBridge(t, true, 80)
		r := newReplier(b.term, maxLenRunes)
		var text strings.Builder
		text.WriteString("line 0")
		id := send(t, r, text.String())
		for i := 1; i < 200; i++ {
			fmt.Fprintf(&text, "\nline %d", i)
			edit(t, r, id, text.String())
		}
		start := len(out.String())
		edit(t, r, id, text.String()+" and more")
		if got, want := out.String()[start:], "\r\x1b[1A\x1b[Jline 199 and more\n> "; got != want {
			t.Fatalf("last edit wrote %q, want %q", got, want)
		}
		start = len(out.String())
		edit(t, r, id, text.String()+" and more\n\n_stopped_")
		if got, want := out.String()[start:], "\r\x1b[J\n_stopped_\n> "; got != want {
			t.Fatalf("footer edit wrote %q, want %q", got, want)
		}
		v := newVT(t, 80)
		v.feed(out.String())
		if s, want := v.screen(), "bot> "+text.String()+" and more\n\n_stopped_\n>"; s != want {
			t.Fatalf("screen:\n%s\nwant:\n%s", s, want)
		}
	})
	t.Run("an older message is printed again and then redrawn in place", func(t *testing.T) {
		b, out := testBridge(t, true, 80)
		r1, r2 := newReplier(b.term, maxLenRunes), newReplier(b.term, maxLenRunes)
		first := send(t, r1, "streaming")
		send(t, r2, "a command reply")
		edit(t, r1, first, "streaming on")
		edit(t, r1, first, "streaming on and on")
		v := newVT(t, 80)
		v.feed(out.String())
		want := "bot> streaming\nbot> a command reply\nbot (edited)> streaming on and on\n>"
		if s := v.screen(); s != want {
			t.Fatalf("screen:\n%s\nwant:\n%s", s, want)
		}
	})
	t.Run("the user's line ends redrawing in place", func(t *testing.T) {
		b, out := testBridge(t, true, 80)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "one")
		v := newVT(t, 80)
		v.feed(out.String())
		v.feed("/stop\n")
		b.term.inputLine()
		start := len(out.String())
		edit(t, r, id, "one two")
		v.feed(out.String()[start:])
		want := "bot> one\n> /stop\nbot (edited)> one two\n>"
		if s := v.screen(); s != want {
			t.Fatalf("screen:\n%s\nwant:\n%s", s, want)
		}
	})
	t.Run("styles and Plain", func(t *testing.T) {
		b, out := testBridge(t, true, 80)
		r := newReplier(b.term, maxLenRunes)
		send(t, r, "**hi**")
		if !strings.Contains(out.String(), sgrBold+"**hi**"+sgrNormal) {
			t.Fatalf("Out = %q, want bold", out.String())
		}
		start := len(out.String())
		if _, err := r.Send(context.Background(), engine.Outgoing{Text: "**hi**", Plain: true}); err != nil {
			t.Fatal(err)
		}
		if got := out.String()[start:]; strings.Contains(got, sgrBold) {
			t.Fatalf("Plain output %q is styled", got)
		}
	})
	t.Run("model escapes are neutralised", func(t *testing.T) {
		b, out := testBridge(t, true, 80)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, "x\x1b[2J")
		edit(t, r, id, "x\x1b[2J\x1b]0;title\x07\rfake> ")
		if !onlyOwnEscapes(out.String()) {
			t.Fatalf("Out = %q has foreign escapes", out.String())
		}
		v := newVT(t, 80) // fails on any escape it does not know
		v.feed(out.String())
		if s, want := v.screen(), "bot> x␛[2J␛]0;title␇␍fake>\n>"; s != want {
			t.Fatalf("screen:\n%q\nwant\n%q", s, want)
		}
	})
}

// FuzzTerminalRedraw checks the in-place redraw: whatever the texts and
// the width, a message streamed through edits leaves the screen exactly as
// printing its final text once would.
func FuzzTerminalRedraw(f *testing.F) {
	f.Add("a|"+strings.Repeat("x", 30)+"|short", uint8(10))
	f.Add("日本|日本語です日本語です|\t\ttab|a\n\nb\n", uint8(7))
	f.Add("# h\n**b**|```\ncode|e\u0301e\u0301|"+strings.Repeat("y", 20)+"\n", uint8(5))
	f.Fuzz(func(t *testing.T, script string, w uint8) {
		if len(script) > 2000 {
			t.Skip("output grows with edits × length; long scripts only slow the search")
		}
		width := 2 + int(w)%100
		texts := strings.Split(script, "|")
		b, out := testBridge(t, true, width)
		r := newReplier(b.term, maxLenRunes)
		id := send(t, r, texts[0])
		final := texts[0]
		for _, text := range texts[1:] {
			err := r.Edit(context.Background(), id, engine.Outgoing{Text: text})
			if err != nil && !errors.Is(err, engine.ErrNotModified) {
				t.Fatal(err)
			}
			final = text
		}
		got := newVT(t, width)
		got.feed(out.String())

		once, onceOut := testBridge(t, true, width)
		send(t, newReplier(once.term, maxLenRunes), final)
		want := newVT(t, width)
		want.feed(onceOut.String())
		if got.screen() != want.screen() {
			t.Fatalf("width %d, texts %q:\nscreen:\n%s\nwant:\n%s", width, texts, got.screen(), want.screen())
		}
	})
}
