package console

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// recorder is a Handler that keeps the events it was given.
type recorder struct {
	mu     sync.Mutex
	events []*engine.Event
	got    chan *engine.Event // optional: each event, as it comes
}

func (h *recorder) HandleEvent(_ context.Context, r engine.Replier, ev *engine.Event) {
	if r == nil {
		panic("nil replier")
	}
	h.mu.Lock()
	h.events = append(h.events, ev)
	h.mu.Unlock()
	if h.got != nil {
		h.got <- ev
	}
}

func (h *recorder) all() []*engine.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*engine.Event(nil), h.events...)
}

func TestBridge_Caps(t *testing.T) {
	b := New(Options{})
	if b.Name() != "console" {
		t.Errorf("Name = %q", b.Name())
	}
	want := engine.Caps{
		MaxLen: 1 << 20, LenUnit: engine.Runes, CanEdit: true,
		MinEditInterval: 50 * time.Millisecond, Dialect: engine.DialectMarkdown,
	}
	if got := b.Caps(); got != want {
		t.Errorf("Caps = %+v, want %+v", got, want)
	}
}

func TestRun_EOF(t *testing.T) {
	t.Run("lines become events and Run returns nil", func(t *testing.T) {
		in := "hello\n\n   \n/Model@bot  gpt-4o  \r\n  spaced out  \nlast"
		h := &recorder{}
		b := New(Options{In: strings.NewReader(in)})
		before := time.Now()
		if err := b.Run(context.Background(), h); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		evs := h.all()
		want := []struct{ cmd, text string }{{"", "hello"}, {"model", "gpt-4o"}, {"", "spaced out"}, {"", "last"}}
		if len(evs) != len(want) {
			t.Fatalf("got %d events, want %d", len(evs), len(want))
		}
		seen := map[engine.EventID]bool{}
		for i, ev := range evs {
			if ev.Command != want[i].cmd || ev.Text != want[i].text {
				t.Errorf("event %d = (%q, %q), want (%q, %q)", i, ev.Command, ev.Text, want[i].cmd, want[i].text)
			}
			if ev.Platform != "console" || ev.Chat != "console" || ev.User != "owner" || !ev.Private {
				t.Errorf("event %d = %+v: wrong platform, chat, user or privacy", i, ev)
			}
			if ev.Time.Before(before) {
				t.Errorf("event %d time %v is before the run", i, ev.Time)
			}
			if !strings.HasPrefix(string(ev.ID), "console-") || seen[ev.ID] {
				t.Errorf("event %d ID %q: not fresh", i, ev.ID)
			}
			seen[ev.ID] = true
		}
	})
	t.Run("IDs differ between runs", func(t *testing.T) {
		h := &recorder{}
		b := New(Options{In: strings.NewReader("a\n"), Chat: "c", User: "u"})
		if err := b.Run(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		b.in = strings.NewReader("a\n")
		if err := b.Run(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		evs := h.all()
		if len(evs) != 2 || evs[0].ID == evs[1].ID {
			t.Fatalf("events %+v: want two with different IDs", evs)
		}
		if evs[0].Chat != "c" || evs[0].User != "u" {
			t.Fatalf("options ignored: %+v", evs[0])
		}
	})
	t.Run("a 200 KB line is delivered whole", func(t *testing.T) {
		long := strings.Repeat("0123456789", 20<<10)
		h := &recorder{}
		if err := New(Options{In: strings.NewReader(long + "\n")}).Run(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		if evs := h.all(); len(evs) != 1 || evs[0].Text != long {
			t.Fatalf("got %d events; want one with the whole %d-byte line", len(evs), len(long))
		}
	})
	t.Run("a line over 1 MiB is refused with a notice", func(t *testing.T) {
		atLimit := strings.Repeat("y", maxLineBytes)
		in := strings.Repeat("x", maxLineBytes+1) + "\n" + atLimit + "\nok\n"
		h := &recorder{}
		out := &safeBuffer{t: t}
		if err := New(Options{In: strings.NewReader(in), Out: out}).Run(context.Background(), h); err != nil {
			t.Fatal(err)
		}
		evs := h.all()
		if len(evs) != 2 || evs[0].Text != atLimit || evs[1].Text != "ok" {
			t.Fatalf("got %d events; want the line at the limit and %q", len(evs), "ok")
		}
		if got, want := out.String(), "console> input line longer than 1048576 bytes refused; nothing was sent\n"; got != want {
			t.Fatalf("Out = %q, want %q", got, want)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		b := New(Options{In: io.MultiReader(strings.NewReader("a\n"), errReader{boom})})
		h := &recorder{}
		if err := b.Run(context.Background(), h); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "console: read: ") {
			t.Fatalf("Run = %v, want a wrapped %v", err, boom)
		}
		if len(h.all()) != 1 {
			t.Fatalf("the line before the error was not delivered")
		}
	})
	t.Run("no input", func(t *testing.T) {
		if err := New(Options{}).Run(context.Background(), &recorder{}); err == nil {
			t.Fatal("Run without In succeeded")
		}
	})
}

func TestRun_Cancel(t *testing.T) {
	t.Run("returns promptly while the reader is blocked", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close() // ends the reading goroutine (goleak checks)
		h := &recorder{got: make(chan *engine.Event, 1)}
		b := New(Options{In: pr})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx, h) }()

		if _, err := io.WriteString(pw, "first\n"); err != nil {
			t.Fatal(err)
		}
		if ev := <-h.got; ev.Text != "first" {
			t.Fatalf("event text %q", ev.Text)
		}
		cancel() // the reader is now blocked in Read on the pipe
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
	t.Run("reader blocked on sending", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		block := make(chan struct{})
		h := engine.HandlerFunc(func(context.Context, engine.Replier, *engine.Event) { <-block })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- New(Options{In: pr}).Run(ctx, h) }()
		// The first line blocks the handler; the second waits in the reader.
		if _, err := io.WriteString(pw, "one\ntwo\n"); err != nil {
			t.Fatal(err)
		}
		cancel()
		close(block)
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := New(Options{In: strings.NewReader("x\n")}).Run(ctx, &recorder{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
	})
	t.Run("second Run while running is refused", func(t *testing.T) {
		pr, pw := io.Pipe()
		defer pw.Close()
		h := &recorder{got: make(chan *engine.Event, 1)}
		b := New(Options{In: pr})
		done := make(chan error, 1)
		go func() { done <- b.Run(context.Background(), h) }()
		io.WriteString(pw, "x\n")
		<-h.got // the first Run is running
		if err := b.Run(context.Background(), h); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Fatalf("second Run = %v", err)
		}
		pw.Close()
		if err := <-done; err != nil {
			t.Fatalf("first Run = %v", err)
		}
	})
}

// typist plays a terminal and its user for Run in TTY mode: Out feeds a
// vt, and each Read of In waits until the prompt is shown with no reply
// in progress, then "types" the next line: echoes it into the vt and
// returns it. So the replay is what a user typing after each prompt sees.
type typist struct {
	t      *testing.T
	prompt string
	mu     sync.Mutex
	cond   *sync.Cond
	vt     *vt
	lines  []string
	busy   bool // a reply is in progress
	ready  bool // the prompt was written after the last echo
}

func newTypist(t *testing.T, prompt string, lines ...string) *typist {
	ty := &typist{t: t, prompt: prompt, vt: newVT(t, 80), lines: lines}
	ty.cond = sync.NewCond(&ty.mu)
	return ty
}

func (ty *typist) Write(p []byte) (int, error) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	ty.vt.feed(string(p))
	if !ty.busy && strings.HasSuffix(string(p), ty.prompt) {
		ty.ready = true
		ty.cond.Broadcast()
	}
	return len(p), nil
}

func (ty *typist) Read(p []byte) (int, error) {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	if len(ty.lines) == 0 {
		return 0, io.EOF
	}
	for !ty.ready {
		ty.cond.Wait()
	}
	line := ty.lines[0]
	ty.lines = ty.lines[1:]
	ty.vt.feed(line) // the terminal's echo
	ty.ready = false
	return copy(p, line), nil
}

// reply is the handler: a reply streamed in two steps.
func (ty *typist) HandleEvent(ctx context.Context, r engine.Replier, ev *engine.Event) {
	ty.mu.Lock()
	ty.busy = true
	ty.mu.Unlock()
	id, err := r.Send(ctx, engine.Outgoing{Text: "echo " + ev.Text})
	if err == nil {
		err = r.Edit(ctx, id, engine.Outgoing{Text: "echo **" + ev.Text + "**"})
	}
	if err != nil {
		ty.t.Error(err)
	}
	ty.mu.Lock()
	ty.busy, ty.ready = false, true // the last write ended with the prompt
	ty.cond.Broadcast()
	ty.mu.Unlock()
}

func TestRun_TerminalPrompt(t *testing.T) {
	ty := newTypist(t, "you: ", "hi\n", "\n", "there\n")
	b := New(Options{In: ty, Out: ty, TTY: true, Prompt: "you: "})
	if err := b.Run(context.Background(), ty); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	want := "you: hi\nbot> echo **hi**\nyou:\nyou: there\nbot> echo **there**"
	if s := ty.vt.screen(); s != want {
		t.Fatalf("screen:\n%s\nwant:\n%s", s, want)
	}
}

func TestReadLine_Cases(t *testing.T) {
	t.Run("LF, CRLF and a last line without newline", func(t *testing.T) {
		r := bufio.NewReader(strings.NewReader("one\ntwo\r\n\nthree"))
		for _, want := range []string{"one", "two", "", "three"} {
			got, tooLong, err := readLine(r, 100)
			if got != want || tooLong || err != nil {
				t.Fatalf("readLine = %q, %v, %v; want %q", got, tooLong, err, want)
			}
		}
		if _, _, err := readLine(r, 100); !errors.Is(err, io.EOF) {
			t.Fatalf("at the end err = %v, want io.EOF", err)
		}
	})
	t.Run("line longer than the buffer is whole", func(t *testing.T) {
		long := strings.Repeat("abcdefghij", 100)
		r := bufio.NewReaderSize(strings.NewReader(long+"\nnext\n"), 16)
		got, tooLong, err := readLine(r, 1000)
		if got != long || tooLong || err != nil {
			t.Fatalf("readLine = %d bytes, %v, %v; want the %d-byte line", len(got), tooLong, err, len(long))
		}
		if got, _, _ := readLine(r, 1000); got != "next" {
			t.Fatalf("next line = %q", got)
		}
	})
	t.Run("limits", func(t *testing.T) {
		tests := []struct {
			name, in    string
			wantTooLong bool
		}{
			{"exactly max", strings.Repeat("x", 10) + "\n", false},
			{"exactly max with CRLF", strings.Repeat("x", 10) + "\r\n", false},
			{"max plus one", strings.Repeat("x", 11) + "\n", true},
			{"max plus one at EOF", strings.Repeat("x", 11), true},
			{"far over max", strings.Repeat("x", 1000) + "\n", true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := bufio.NewReaderSize(strings.NewReader(tt.in+"after\n"), 16)
				got, tooLong, err := readLine(r, 10)
				if err != nil || tooLong != tt.wantTooLong {
					t.Fatalf("readLine = %q, %v, %v; want tooLong %v", got, tooLong, err, tt.wantTooLong)
				}
				if tooLong && got != "" {
					t.Fatalf("a refused line returned text %q", got)
				}
				if !strings.HasSuffix(tt.in, "\n") {
					return
				}
				if got, _, _ := readLine(r, 10); got != "after" {
					t.Fatalf("line after = %q, want %q", got, "after")
				}
			})
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		r := bufio.NewReader(io.MultiReader(strings.NewReader("part"), errReader{boom}))
		if _, _, err := readLine(r, 100); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want %v", err, boom)
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestIsTerminal_Files(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) {
		t.Error("a pipe is a terminal")
	}
	if dev, err := os.Open(os.DevNull); err == nil {
		defer dev.Close()
		if !IsTerminal(dev) {
			t.Error("a character device is not a terminal")
		}
	}
}
