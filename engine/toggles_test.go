package engine_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

// syncBuffer is a bytes.Buffer safe for the engine's concurrent logging.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestErrorLogging_OffCountsButDoesNotLogDetails: with
// enable_error_logging = false a failed turn is logged with its class and
// reference only, counted in chatbridge_errors_total, and the user still
// gets the safe message with the same reference. With it on, the details
// are logged.
func TestErrorLogging_OffCountsButDoesNotLogDetails(t *testing.T) {
	const detail = "upstream said: quota for org-7731 exhausted"
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[on], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs syncBuffer
				prov := enginetest.NewProvider(enginetest.Script{Err: &engine.ProviderError{Kind: engine.ErrBadRequest, Status: 400, Message: detail}})
				h := newHarness(t, testCaps(), prov, func(o *engine.Options) {
					o.ErrorDetails = on
					o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
				})
				defer h.close()
				r := enginetest.NewReplier(4096, engine.UTF16)
				h.send(r, "c1", "hi")
				h.settle()

				shown := r.Last()
				_, ref, ok := strings.Cut(shown, "(ref ")
				if !ok || strings.Contains(shown, "org-7731") {
					t.Fatalf("the user sees %q, want the safe message with a reference", shown)
				}
				ref = strings.TrimRight(ref[:strings.Index(ref, ")")], " ")
				log := logs.String()
				if !strings.Contains(log, ref) {
					t.Errorf("the log lacks the reference %s:\n%s", ref, log)
				}
				if got := strings.Contains(log, "org-7731"); got != on {
					t.Errorf("details in the log = %v with error logging %v:\n%s", got, on, log)
				}
				var m bytes.Buffer
				h.e.Metrics().WriteText(&m)
				if !strings.Contains(m.String(), `chatbridge_errors_total{kind="bad request"} 1`) {
					t.Errorf("the error is not counted:\n%s", grepLines(m.String(), "chatbridge_errors_total"))
				}
			})
		})
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestStreaming_OffShowsTypingThenTheFinishedReply: with streaming off
// (the config default or /streaming off) the user sees the typing
// indicator while the model writes, then the finished reply, split as
// usual, and no edits.
func TestStreaming_OffShowsTypingThenTheFinishedReply(t *testing.T) {
	long := strings.Repeat("A fairly long sentence to fill the message. ", 150) // ~6,600 chars: two messages
	deltas := strings.SplitAfter(long, ". ")
	cases := map[string]func(h *harness){
		"config default": nil,
		"/streaming off": func(h *harness) { h.command("/streaming off") },
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				prov := enginetest.NewProvider(enginetest.Script{FirstDelay: 3 * time.Second, Delay: 50 * time.Millisecond, Deltas: deltas})
				h := newHarness(t, testCaps(), prov, func(o *engine.Options) { o.Defaults.Streaming = setup != nil })
				defer h.close()
				if setup != nil {
					setup(h)
				}
				r := enginetest.NewReplier(4096, engine.UTF16)
				start := time.Now()
				h.send(r, "c1", "tell me a lot")
				h.settle()

				var typing, sends, edits int
				var firstSend time.Time
				for _, c := range r.Calls() {
					switch c.Kind {
					case enginetest.CallTyping:
						typing++
					case enginetest.CallSend:
						if sends++; sends == 1 {
							firstSend = c.At
						}
					case enginetest.CallEdit:
						edits++
					}
				}
				if typing < 2 {
					t.Errorf("typing indicators = %d, want it kept up while the model writes (~10 s)", typing)
				}
				if edits != 0 {
					t.Errorf("edits = %d, want none with streaming off", edits)
				}
				if sends != 2 {
					t.Errorf("messages = %d, want the reply split in 2", sends)
				}
				if wait := firstSend.Sub(start); wait < 3*time.Second+time.Duration(len(deltas)-1)*50*time.Millisecond {
					t.Errorf("first message after %v, want it only once the reply is finished", wait)
				}
				if got := strings.Join(r.Messages(), ""); strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields(long), " ") {
					t.Errorf("the reply lost text: %d chars shown of %d", len(got), len(long))
				}
			})
		})
	}
}
