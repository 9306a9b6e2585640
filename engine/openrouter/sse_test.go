package openrouter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// chunk builds one SSE data event holding a content delta.
func chunk(content string) string {
	return fmt.Sprintf(`data: {"id":"gen-1","model":"m/x","choices":[{"index":0,"delta":{"role":"assistant","content":%q},"finish_reason":null}]}`+"\n\n", content)
}

func reasoningChunk(r string) string {
	return fmt.Sprintf(`data: {"id":"gen-1","choices":[{"index":0,"delta":{"content":"","reasoning":%q}}]}`+"\n\n", r)
}

const (
	finishChunk = `data: {"id":"gen-1","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}]}` + "\n\n"
	usageChunk  = `data: {"id":"gen-1","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":3,"total_tokens":13,"cost":0.0042,"completion_tokens_details":{"reasoning_tokens":2}}}` + "\n\n"
	doneEvent   = "data: [DONE]\n\n"
	keepAlive   = ": OPENROUTER PROCESSING\n\n"
)

type parsed struct {
	comp   *engine.Completion
	deltas []engine.Delta
	err    error
}

func parse(t *testing.T, r io.Reader) parsed {
	t.Helper()
	var p parsed
	p.comp, p.err = parseStream(context.Background(), r, func(d engine.Delta) error {
		p.deltas = append(p.deltas, d)
		return nil
	})
	if p.comp == nil {
		t.Fatal("parseStream returned a nil Completion")
	}
	return p
}

func TestParseStream_Success(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		text      string
		reasoning string
		finish    string
		deltas    int
		usage     engine.Usage
	}{
		{
			name:   "comments skipped",
			in:     keepAlive + chunk("Hel") + keepAlive + chunk("lo") + finishChunk + doneEvent,
			text:   "Hello",
			finish: "stop",
			deltas: 2,
		},
		{
			name:   "many keep-alives before the first token",
			in:     strings.Repeat(keepAlive, 500) + chunk("hi") + finishChunk + doneEvent,
			text:   "hi",
			finish: "stop",
			deltas: 1,
		},
		{
			name:   "comment without a space and comment lines inside an event",
			in:     ":x\n" + "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n:inner\n\n" + finishChunk + doneEvent,
			text:   "a",
			finish: "stop",
			deltas: 1,
		},
		{
			name:      "reasoning then content in order",
			in:        reasoningChunk("think ") + reasoningChunk("more") + chunk("answer") + finishChunk + doneEvent,
			text:      "answer",
			reasoning: "think more",
			finish:    "stop",
			deltas:    3,
		},
		{
			name: "reasoning_details text and summary",
			in: `data: {"choices":[{"delta":{"reasoning_details":[{"type":"reasoning.text","text":"a"},{"type":"reasoning.summary","summary":"b"},{"type":"reasoning.encrypted","data":"zz"}]}}]}` + "\n\n" +
				finishChunk + doneEvent,
			reasoning: "ab",
			finish:    "stop",
			deltas:    1,
		},
		{
			name: "reasoning and the same reasoning_details are not doubled",
			in: `data: {"choices":[{"delta":{"reasoning":"r1","reasoning_details":[{"type":"reasoning.text","text":"r1"}]}}]}` + "\n\n" +
				finishChunk + doneEvent,
			reasoning: "r1",
			finish:    "stop",
			deltas:    1,
		},
		{
			name:   "usage from the last chunk with empty choices",
			in:     chunk("x") + finishChunk + usageChunk + doneEvent,
			text:   "x",
			finish: "stop",
			deltas: 1,
			usage:  engine.Usage{PromptTokens: 10, CompletionTokens: 3, TotalTokens: 13, ReasoningTokens: 2, Cost: 0.0042},
		},
		{
			name:   "DONE ends the stream and later data is ignored",
			in:     chunk("x") + finishChunk + doneEvent + chunk("ignored") + "garbage",
			text:   "x",
			finish: "stop",
			deltas: 1,
		},
		{
			name:   "finish without DONE is a success",
			in:     chunk("x") + finishChunk + usageChunk,
			text:   "x",
			finish: "stop",
			deltas: 1,
			usage:  engine.Usage{PromptTokens: 10, CompletionTokens: 3, TotalTokens: 13, ReasoningTokens: 2, Cost: 0.0042},
		},
		{
			name:   "DONE without the final blank line",
			in:     chunk("x") + "data: [DONE]",
			text:   "x",
			deltas: 1,
		},
		{
			name:   "CRLF line endings",
			in:     strings.ReplaceAll(keepAlive+chunk("a")+chunk("b")+finishChunk+doneEvent, "\n", "\r\n"),
			text:   "ab",
			finish: "stop",
			deltas: 2,
		},
		{
			name:   "lone CR line endings",
			in:     strings.ReplaceAll(keepAlive+chunk("a")+chunk("b")+finishChunk+doneEvent, "\n", "\r"),
			text:   "ab",
			finish: "stop",
			deltas: 2,
		},
		{
			name:   "multi-line data joined with LF",
			in:     "data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"m\"}}]}\n\n" + finishChunk + doneEvent,
			text:   "m",
			finish: "stop",
			deltas: 1,
		},
		{
			name:   "no space after the colon, id and retry fields ignored",
			in:     "id: 7\nretry: 100\nevent: message\ndata:{\"choices\":[{\"delta\":{\"content\":\"n\"}}]}\n\n" + finishChunk + doneEvent,
			text:   "n",
			finish: "stop",
			deltas: 1,
		},
		{
			name:   "error null is no error",
			in:     `data: {"error":null,"choices":[{"delta":{"content":"ok"},"finish_reason":"stop"}]}` + "\n\n" + doneEvent,
			text:   "ok",
			finish: "stop",
			deltas: 1,
		},
		{
			name:   "several choices are concatenated",
			in:     `data: {"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}` + "\n\n" + finishChunk + doneEvent,
			text:   "ab",
			finish: "stop",
			deltas: 1,
		},
		{
			name:   "empty deltas are not reported",
			in:     `data: {"choices":[{"delta":{"role":"assistant","content":null}}]}` + "\n\n" + chunk("") + chunk("z") + finishChunk + doneEvent,
			text:   "z",
			finish: "stop",
			deltas: 1,
		},
		{
			name:   "length finish",
			in:     chunk("cut") + `data: {"choices":[{"delta":{},"finish_reason":"length"}]}` + "\n\n" + doneEvent,
			text:   "cut",
			finish: "length",
			deltas: 1,
		},
		{
			name:   "a field of the wrong type is tolerated",
			in:     `data: {"id":7,"choices":[{"delta":{"content":"t"},"finish_reason":"stop"}]}` + "\n\n" + doneEvent,
			text:   "t",
			finish: "stop",
			deltas: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tt.in)
				if split {
					r = iotest.OneByteReader(r) // lines split across reads
				}
				p := parse(t, r)
				if p.err != nil {
					t.Fatalf("split=%v: err = %v", split, p.err)
				}
				if p.comp.Text != tt.text || p.comp.Reasoning != tt.reasoning || p.comp.FinishReason != tt.finish {
					t.Errorf("split=%v: got text %q reasoning %q finish %q; want %q %q %q", split,
						p.comp.Text, p.comp.Reasoning, p.comp.FinishReason, tt.text, tt.reasoning, tt.finish)
				}
				if len(p.deltas) != tt.deltas {
					t.Errorf("split=%v: %d deltas %+v, want %d", split, len(p.deltas), p.deltas, tt.deltas)
				}
				if p.comp.Usage != tt.usage {
					t.Errorf("split=%v: usage %+v, want %+v", split, p.comp.Usage, tt.usage)
				}
				var joined strings.Builder
				for _, d := range p.deltas {
					joined.WriteString(d.Content)
				}
				if joined.String() != p.comp.Text {
					t.Errorf("split=%v: deltas joined %q != text %q", split, joined.String(), p.comp.Text)
				}
			}
		})
	}
}

func TestParseStream_IDAndModel(t *testing.T) {
	p := parse(t, strings.NewReader(chunk("x")+finishChunk+doneEvent))
	if p.comp.ID != "gen-1" || p.comp.Model != "m/x" {
		t.Errorf("id %q model %q", p.comp.ID, p.comp.Model)
	}
}

func TestParseStream_Failure(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		kind    engine.ErrorKind
		status  int
		text    string // partial text kept
		wrapped error  // errors.Is target, if any
		msg     string // part of the error text
	}{
		{
			name:   "finish_reason error shape with int code",
			in:     chunk("part") + `data: {"id":"gen-1","error":{"code":502,"message":"Upstream died","metadata":{"error_type":"provider_unavailable"}},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}` + "\n\n" + doneEvent,
			kind:   engine.ErrMidStream,
			status: 502,
			text:   "part",
			msg:    "Upstream died",
		},
		{
			name:   "empty choices shape with int code",
			in:     chunk("part") + `data: {"id":"gen-1","error":{"code":500,"message":"boom"},"choices":[]}` + "\n\n",
			kind:   engine.ErrMidStream,
			status: 500,
			text:   "part",
			msg:    "boom",
		},
		{
			name: "string code",
			in:   chunk("p") + `data: {"error":{"code":"server_error","message":"oops"},"choices":[]}` + "\n\n",
			kind: engine.ErrMidStream,
			text: "p",
			msg:  "server_error",
		},
		{
			name:   "mid-stream rate limit is retryable rate limited",
			in:     chunk("p") + `data: {"error":{"code":429,"message":"Rate limit exceeded","metadata":{"error_type":"rate_limit_exceeded"}},"choices":[{"delta":{"content":""},"finish_reason":"error"}]}` + "\n\n",
			kind:   engine.ErrRateLimited,
			status: 429,
			text:   "p",
		},
		{
			name: "string rate limit code",
			in:   `data: {"error":{"code":"rate_limit_exceeded","message":"slow down"}}` + "\n\n",
			kind: engine.ErrRateLimited,
		},
		{
			name:   "mid-stream out of credits",
			in:     chunk("p") + `data: {"error":{"code":402,"message":"Insufficient credits"},"choices":[]}` + "\n\n",
			kind:   engine.ErrNoCredits,
			status: 402,
			text:   "p",
		},
		{
			name: "mid-stream context length",
			in:   `data: {"error":{"code":400,"message":"too long","metadata":{"error_type":"context_length_exceeded"}},"choices":[]}` + "\n\n",
			kind: engine.ErrContextTooLong, status: 400,
		},
		{
			name: "mid-stream content filter",
			in:   `data: {"error":{"code":400,"message":"flagged","metadata":{"error_type":"content_policy_violation"}},"choices":[]}` + "\n\n",
			kind: engine.ErrForbidden, status: 400,
		},
		{
			name: "mid-stream timeout",
			in:   `data: {"error":{"code":504,"message":"slow","metadata":{"error_type":"timeout"}},"choices":[]}` + "\n\n",
			kind: engine.ErrTimeout, status: 504,
		},
		{
			name: "numeric string code",
			in:   `data: {"error":{"code":"503","message":"down"}}` + "\n\n",
			kind: engine.ErrMidStream, status: 503,
		},
		{
			name: "error inside a choice",
			in:   chunk("p") + `data: {"choices":[{"delta":{},"finish_reason":"error","error":{"code":502,"message":"choice err"}}]}` + "\n\n",
			kind: engine.ErrMidStream, status: 502, text: "p", msg: "choice err",
		},
		{
			name: "finish_reason error without an error object",
			in:   chunk("p") + `data: {"choices":[{"delta":{},"finish_reason":"error"}]}` + "\n\n" + doneEvent,
			kind: engine.ErrMidStream, text: "p",
		},
		{
			name: "error object that is a string",
			in:   `data: {"error":"something broke"}` + "\n\n",
			kind: engine.ErrMidStream, msg: "something broke",
		},
		{
			name: "event error without error object",
			in:   "event: error\ndata: {\"message\":\"bad\"}\n\n",
			kind: engine.ErrMidStream, msg: "bad",
		},
		{
			name: "content in the error chunk is kept",
			in:   `data: {"error":{"code":502,"message":"x"},"choices":[{"delta":{"content":"last"},"finish_reason":"error"}]}` + "\n\n",
			kind: engine.ErrMidStream, status: 502, text: "last",
		},
		{
			name: "malformed JSON",
			in:   chunk("p") + "data: {not json}\n\n",
			kind: engine.ErrMidStream, text: "p", msg: "malformed chunk",
		},
		{
			name:    "EOF before any finish",
			in:      keepAlive + chunk("half"),
			kind:    engine.ErrStreamCut,
			text:    "half",
			wrapped: io.ErrUnexpectedEOF,
		},
		{
			name:    "EOF inside a line",
			in:      chunk("half") + `data: {"choices":[{"delta":{"content":"tru`,
			kind:    engine.ErrStreamCut,
			text:    "half",
			wrapped: io.ErrUnexpectedEOF,
		},
		{
			name:    "empty body",
			in:      "",
			kind:    engine.ErrStreamCut,
			wrapped: io.ErrUnexpectedEOF,
		},
		{
			name:    "only keep-alives",
			in:      strings.Repeat(keepAlive, 10),
			kind:    engine.ErrStreamCut,
			wrapped: io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parse(t, strings.NewReader(tt.in))
			pe, ok := engine.AsProviderError(p.err)
			if !ok {
				t.Fatalf("err = %v (%T), want a ProviderError", p.err, p.err)
			}
			if pe.Kind != tt.kind || pe.Status != tt.status {
				t.Errorf("kind %v status %d, want %v %d (%v)", pe.Kind, pe.Status, tt.kind, tt.status, pe)
			}
			if p.comp.Text != tt.text {
				t.Errorf("partial text %q, want %q", p.comp.Text, tt.text)
			}
			if tt.wrapped != nil && !errors.Is(p.err, tt.wrapped) {
				t.Errorf("err %v does not wrap %v", p.err, tt.wrapped)
			}
			if !strings.Contains(p.err.Error(), tt.msg) {
				t.Errorf("err %q does not mention %q", p.err, tt.msg)
			}
		})
	}
}

func TestParseStream_ReadError(t *testing.T) {
	boom := errors.New("connection reset")
	t.Run("before finish is a cut", func(t *testing.T) {
		p := parse(t, io.MultiReader(strings.NewReader(chunk("a")), iotest.ErrReader(boom)))
		pe, ok := engine.AsProviderError(p.err)
		if !ok || pe.Kind != engine.ErrStreamCut || !errors.Is(p.err, boom) || p.comp.Text != "a" {
			t.Fatalf("got %v, text %q", p.err, p.comp.Text)
		}
	})
	t.Run("after finish is a success", func(t *testing.T) {
		p := parse(t, io.MultiReader(strings.NewReader(chunk("a")+finishChunk), iotest.ErrReader(boom)))
		if p.err != nil || p.comp.Text != "a" {
			t.Fatalf("got %v, text %q", p.err, p.comp.Text)
		}
	})
}

func TestParseStream_OnDeltaError(t *testing.T) {
	stop := errors.New("stop here")
	var got []string
	comp, err := parseStream(context.Background(), strings.NewReader(chunk("a")+chunk("b")+chunk("c")+finishChunk+doneEvent),
		func(d engine.Delta) error {
			got = append(got, d.Content)
			if len(got) == 2 {
				return stop
			}
			return nil
		})
	if err != stop {
		t.Fatalf("err = %v, want the onDelta error itself", err)
	}
	if comp.Text != "ab" || len(got) != 2 {
		t.Fatalf("text %q deltas %q", comp.Text, got)
	}
}

func TestParseStream_ContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	comp, err := parseStream(ctx, strings.NewReader(strings.Repeat(chunk("x"), 100)+finishChunk+doneEvent),
		func(engine.Delta) error {
			n++
			if n == 3 {
				cancel()
			}
			return nil
		})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, ok := engine.AsProviderError(err); ok {
		t.Fatalf("a cancel must not be a ProviderError: %v", err)
	}
	if comp.Text != "xxx" {
		t.Fatalf("text %q", comp.Text)
	}
}

func TestParseStream_LongLine(t *testing.T) {
	long := strings.Repeat("é", 1<<20) // 2 MB of content in one line
	p := parse(t, strings.NewReader(keepAlive+chunk(long)+finishChunk+doneEvent))
	if p.err != nil || p.comp.Text != long {
		t.Fatalf("err %v, text length %d", p.err, len(p.comp.Text))
	}
}

func TestParseStream_LineTooLong(t *testing.T) {
	in := chunk("kept") + "data: " + strings.Repeat("x", maxLineBytes+10) + "\n\n" + finishChunk + doneEvent
	p := parse(t, strings.NewReader(in))
	pe, ok := engine.AsProviderError(p.err)
	if !ok || pe.Kind != engine.ErrMidStream || p.comp.Text != "kept" {
		t.Fatalf("err = %v, text %q; want ErrMidStream with the text so far", p.err, p.comp.Text)
	}
}

func TestLineReader_Lines(t *testing.T) {
	in := "a\nb\r\nc\rd\r\n\r\n\ne"
	want := []string{"a", "b", "c", "d", "", "", "e"}
	for _, split := range []bool{false, true} {
		var r io.Reader = strings.NewReader(in)
		if split {
			r = iotest.OneByteReader(r)
		}
		lr := newLineReader(r, 64)
		var got []string
		for {
			line, err := lr.next()
			if err != nil {
				if len(line) > 0 {
					got = append(got, string(line))
				}
				if err != io.EOF {
					t.Fatalf("err = %v", err)
				}
				break
			}
			got = append(got, string(line))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("split=%v: lines %q, want %q", split, got, want)
		}
	}
}

func TestLineReader_TooLong(t *testing.T) {
	lr := newLineReader(strings.NewReader(strings.Repeat("x", 100)+"\nshort\n"), 50)
	if _, err := lr.next(); !errors.Is(err, lineTooLongError{}) {
		t.Fatalf("err = %v, want lineTooLongError", err)
	}
}

// zeroReader returns (0, nil) forever, which io.Reader discourages.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestLineReader_NoProgress(t *testing.T) {
	p := parse(t, zeroReader{})
	if !errors.Is(p.err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", p.err)
	}
}

func TestParseRetryAfter_Values(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{" 60 ", time.Minute},
		{"1.5", 1500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{"NaN", 0},
		{"soon", 0},
		{"1e12", maxRetryAfter},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := parseRetryAfter(tt.in, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSnippet_HTML(t *testing.T) {
	page := "<!DOCTYPE html>\n<html><head><title>openrouter.ai | 502: Bad gateway</title><style>body{}</style></head>" +
		"<body>" + strings.Repeat("<div>filler</div>", 1000) + "</body></html>"
	if got := snippet([]byte(page)); got != "openrouter.ai | 502: Bad gateway" {
		t.Errorf("snippet = %q", got)
	}
	if got := snippet([]byte("<html><body><h1>Bad\n gateway</h1></body></html>")); got != "Bad gateway" {
		t.Errorf("snippet without title = %q", got)
	}
	if got := snippet([]byte(strings.Repeat("x", 1000))); len([]rune(got)) != maxSnippetRunes+1 {
		t.Errorf("long snippet has %d runes", len([]rune(got)))
	}
}

// sseSample is a typical stream: keep-alives, reasoning, content, finish,
// usage and [DONE]. It has reasoning+content+3 data events.
func sseSample(reasoning, content int) []byte {
	var b bytes.Buffer
	b.WriteString(keepAlive + keepAlive)
	for i := range reasoning {
		b.WriteString(reasoningChunk(fmt.Sprintf("step %d ", i)))
	}
	for i := range content {
		b.WriteString(fmt.Sprintf(`data: {"id":"gen-1739458867-kUKFaaaaaaaaaaaa","provider":"OpenAI","model":"openai/gpt-4o-mini","object":"chat.completion.chunk","created":1739458867,"choices":[{"index":0,"delta":{"role":"assistant","content":"word%d "},"finish_reason":null,"native_finish_reason":null,"logprobs":null}],"system_fingerprint":"fp_72ed7ab54c"}`+"\n\n", i))
	}
	b.WriteString(finishChunk + usageChunk + doneEvent)
	return b.Bytes()
}

// BenchmarkSSEParse measures the parser (framing and JSON decoding) on an
// in-memory stream; ns/chunk is the cost of one data event.
func BenchmarkSSEParse(b *testing.B) {
	const reasoning, content = 20, 176
	data := sseSample(reasoning, content)
	ctx := context.Background()
	noop := func(engine.Delta) error { return nil }
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseStream(ctx, bytes.NewReader(data), noop); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(reasoning+content+3)), "ns/chunk")
}

func FuzzSSE(f *testing.F) {
	f.Add(sseSample(1, 2))
	f.Add([]byte(keepAlive + chunk("a") + finishChunk + doneEvent))
	f.Add([]byte(strings.ReplaceAll(chunk("a")+doneEvent, "\n", "\r")))
	f.Add([]byte(`data: {"error":{"code":"x","message":"m"},"choices":[]}` + "\n\n"))
	f.Add([]byte("data: {\"choices\":\ndata: [{}]}\n\nevent: error\ndata: {}\n\n"))
	f.Add([]byte("\r\n\r\r\n:\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var text strings.Builder
		comp, err := parseStream(context.Background(), bytes.NewReader(data), func(d engine.Delta) error {
			text.WriteString(d.Content)
			return nil
		})
		if comp == nil {
			t.Fatal("nil completion")
		}
		if comp.Text != text.String() {
			t.Fatalf("text %q != deltas %q", comp.Text, text.String())
		}
		if err != nil {
			if _, ok := engine.AsProviderError(err); !ok {
				t.Fatalf("error %v is not a ProviderError", err)
			}
		}
	})
}
