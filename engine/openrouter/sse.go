package openrouter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chatbridge/chatbridge/engine"
)

const (
	// initialLineBuf fits a usual chunk (~300 bytes) many times over and
	// grows for longer lines; at 32 KiB, 1,000 streams held ~30 MB of it.
	initialLineBuf = 4 << 10
	maxLineBytes   = 8 << 20 // one SSE line, e.g. a chunk holding a huge delta
	maxEventBytes  = 8 << 20 // the data of one event, over all its data lines
	maxEmptyReads  = 100     // consecutive (0, nil) reads before giving up
)

// lineTooLongError is returned by lineReader.next for a line over its limit.
type lineTooLongError struct{}

func (lineTooLongError) Error() string { return "sse line too long" }

// lineReader splits a byte stream into lines ended by LF, CRLF or a lone CR,
// as the server-sent events format defines them. Unlike bufio.Scanner it
// has no small fixed line limit: its buffer grows up to max bytes.
type lineReader struct {
	r          io.Reader
	buf        []byte // the buffered data is buf[start:end]
	start, end int
	skipLF     bool  // the last line ended with a CR at the buffer's end
	err        error // sticky error from r
	max        int
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: r, buf: make([]byte, min(initialLineBuf, max+1)), max: max}
}

// next returns the next line without its terminator; the slice is valid
// until the next call. When the input ends it returns the error (io.EOF at
// a clean end) together with any final unterminated line.
func (lr *lineReader) next() ([]byte, error) {
	scan := lr.start
	for {
		if lr.skipLF && lr.start < lr.end {
			lr.skipLF = false
			if lr.buf[lr.start] == '\n' {
				lr.start++
				scan = lr.start
			}
		}
		if !lr.skipLF {
			if i := indexEOL(lr.buf[scan:lr.end]); i >= 0 {
				i += scan
				line := lr.buf[lr.start:i]
				lr.start = i + 1
				if lr.buf[i] == '\r' {
					if lr.start < lr.end {
						if lr.buf[lr.start] == '\n' {
							lr.start++
						}
					} else {
						lr.skipLF = true
					}
				}
				return line, nil
			}
			scan = lr.end
		}
		if lr.err != nil {
			line := lr.buf[lr.start:lr.end]
			lr.start = lr.end
			return line, lr.err
		}
		if lr.end-lr.start > lr.max {
			return nil, lineTooLongError{}
		}
		scanned := scan - lr.start // fill moves the data to the front
		if err := lr.fill(); err != nil {
			lr.err = err
		}
		scan = lr.start + scanned
	}
}

// fill reads more input, making room first.
func (lr *lineReader) fill() error {
	if lr.start > 0 {
		n := copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.start, lr.end = 0, n
	}
	if lr.end == len(lr.buf) {
		grown := make([]byte, min(2*len(lr.buf), lr.max+1))
		if len(grown) <= len(lr.buf) {
			return lineTooLongError{}
		}
		copy(grown, lr.buf[:lr.end])
		lr.buf = grown
	}
	for range maxEmptyReads {
		n, err := lr.r.Read(lr.buf[lr.end:])
		lr.end += n
		if n > 0 || err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

func indexEOL(b []byte) int {
	for i, c := range b {
		if c == '\n' || c == '\r' {
			return i
		}
	}
	return -1
}

// streamChunk is one chat.completion.chunk, reduced to what we read.
type streamChunk struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Choices []streamChoice  `json:"choices"`
	Usage   *wireUsage      `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

type streamChoice struct {
	Delta        wireDelta       `json:"delta"`
	Message      *wireDelta      `json:"message"` // a non-streamed completion
	FinishReason string          `json:"finish_reason"`
	Error        json.RawMessage `json:"error"`
}

type wireDelta struct {
	Content          string `json:"content"`
	Reasoning        string `json:"reasoning"`
	ReasoningDetails []struct {
		Type    string `json:"type"`
		Text    string `json:"text"`
		Summary string `json:"summary"`
	} `json:"reasoning_details"`
}

// reasoning is the reasoning text of d: the plain "reasoning" field when
// present, else the text and summaries of reasoning_details in order.
// OpenRouter often sends the same text in both, so they are not added up.
func (d *wireDelta) reasoning() string {
	if d.Reasoning != "" || len(d.ReasoningDetails) == 0 {
		return d.Reasoning
	}
	var b strings.Builder
	for _, rd := range d.ReasoningDetails {
		b.WriteString(rd.Text)
		b.WriteString(rd.Summary)
	}
	return b.String()
}

type wireUsage struct {
	PromptTokens            int     `json:"prompt_tokens"`
	CompletionTokens        int     `json:"completion_tokens"`
	TotalTokens             int     `json:"total_tokens"`
	Cost                    float64 `json:"cost"`
	CompletionTokensDetails *struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *wireUsage) usage() engine.Usage {
	out := engine.Usage{
		PromptTokens:     u.PromptTokens,
		CompletionTokens: u.CompletionTokens,
		TotalTokens:      u.TotalTokens,
		Cost:             u.Cost,
	}
	if d := u.CompletionTokensDetails; d != nil {
		out.ReasoningTokens = d.ReasoningTokens
	}
	return out
}

// streamState accumulates a completion from decoded chunks.
type streamState struct {
	onDelta   func(engine.Delta) error
	text      strings.Builder
	reasoning strings.Builder
	comp      engine.Completion
	done      bool // [DONE] seen
}

// completion returns what has been received so far.
func (s *streamState) completion() *engine.Completion {
	c := s.comp
	c.Text = s.text.String()
	c.Reasoning = s.reasoning.String()
	return &c
}

// chunk applies one decoded chunk. It returns a non-nil error for an error
// chunk, a finish_reason "error", or an error from onDelta.
func (s *streamState) chunk(ch *streamChunk) error {
	if s.comp.ID == "" {
		s.comp.ID = ch.ID
	}
	if ch.Model != "" {
		s.comp.Model = ch.Model
	}
	if ch.Usage != nil {
		s.comp.Usage = ch.Usage.usage()
	}
	var d engine.Delta
	var choiceErr json.RawMessage
	for i := range ch.Choices {
		c := &ch.Choices[i]
		delta := &c.Delta
		if c.Message != nil {
			delta = c.Message
		}
		if i == 0 {
			d.Content, d.Reasoning = delta.Content, delta.reasoning()
		} else {
			d.Content += delta.Content
			d.Reasoning += delta.reasoning()
		}
		if c.FinishReason != "" {
			s.comp.FinishReason = c.FinishReason
		}
		if len(c.Error) > 0 && !isNull(c.Error) {
			choiceErr = c.Error
		}
	}
	if d.Content != "" || d.Reasoning != "" {
		s.text.WriteString(d.Content)
		s.reasoning.WriteString(d.Reasoning)
		if err := s.onDelta(d); err != nil {
			return err
		}
	}
	switch {
	case len(ch.Error) > 0 && !isNull(ch.Error):
		return streamError(ch.Error)
	case choiceErr != nil:
		return streamError(choiceErr)
	case s.comp.FinishReason == "error":
		return &engine.ProviderError{Kind: engine.ErrMidStream, Message: `finish_reason "error"`}
	}
	return nil
}

// event handles one dispatched SSE event.
func (s *streamState) event(typ string, data []byte) error {
	if string(bytes.TrimSpace(data)) == "[DONE]" {
		s.done = true
		return nil
	}
	var ch streamChunk
	if !decodeChunkFast(data, &ch) {
		ch = streamChunk{}
		if err := json.Unmarshal(data, &ch); err != nil && !isTypeError(err) {
			return &engine.ProviderError{Kind: engine.ErrMidStream,
				Message: "malformed chunk: " + snippet(data), Err: err}
		}
	}
	if err := s.chunk(&ch); err != nil {
		return err
	}
	if typ == "error" && ch.Error == nil { // an "event: error" without an error object
		return &engine.ProviderError{Kind: engine.ErrMidStream, Message: "error event: " + snippet(data)}
	}
	return nil
}

// parseStream reads an OpenRouter chat completion SSE stream from r until
// "data: [DONE]", an error, or the end of r, calling onDelta for each chunk
// that carries content or reasoning. It always returns a non-nil
// Completion holding what arrived, with a nil error on success.
//
// Comment lines (": OPENROUTER PROCESSING") are skipped. Events follow the
// SSE framing: "data:" lines accumulate (joined by LF) until a blank line.
// A stream that ends before [DONE] is a success if a finish_reason was
// seen, else an ErrStreamCut wrapping io.ErrUnexpectedEOF (or the read
// error). When ctx ends, parseStream returns ctx.Err() wrapped.
func parseStream(ctx context.Context, r io.Reader, onDelta func(engine.Delta) error) (*engine.Completion, error) {
	s := &streamState{onDelta: onDelta}
	lr := newLineReader(r, maxLineBytes)
	var (
		data    []byte // the data buffer of the event being read
		hasData bool
		typ     string // the event type
	)
	dispatch := func() error {
		defer func() { data, hasData, typ = data[:0], false, "" }()
		if !hasData {
			return nil
		}
		return s.event(typ, data)
	}
	for {
		line, readErr := lr.next()
		if readErr != nil {
			// The input ended. An unterminated last line may be truncated,
			// so it and a pending event count only when they are whole.
			if len(line) > 0 {
				if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
					data = appendData(data, hasData, v)
					hasData = true
				}
			}
			if hasData && (string(bytes.TrimSpace(data)) == "[DONE]" || json.Valid(data)) {
				if err := dispatch(); err != nil {
					return s.completion(), err
				}
			}
			return s.completion(), s.endError(ctx, readErr)
		}
		switch {
		case len(line) == 0:
			if err := dispatch(); err != nil {
				return s.completion(), err
			}
			if s.done {
				return s.completion(), nil
			}
			if err := ctx.Err(); err != nil {
				return s.completion(), fmt.Errorf("openrouter: stream: %w", err)
			}
		case line[0] == ':': // a comment, e.g. ": OPENROUTER PROCESSING"
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			switch string(field) {
			case "data":
				if len(data)+len(value)+1 > maxEventBytes {
					return s.completion(), &engine.ProviderError{Kind: engine.ErrMidStream,
						Message: fmt.Sprintf("sse event over %d bytes", maxEventBytes)}
				}
				data = appendData(data, hasData, value)
				hasData = true
			case "event":
				typ = string(trimSpace1(value))
			}
		}
	}
}

// appendData adds one data line's value to an event's data buffer.
func appendData(data []byte, more bool, value []byte) []byte {
	if more {
		data = append(data, '\n')
	}
	return append(data, trimSpace1(value)...)
}

// trimSpace1 removes the single space the SSE format allows after a colon.
func trimSpace1(v []byte) []byte {
	if len(v) > 0 && v[0] == ' ' {
		return v[1:]
	}
	return v
}

// endError decides how a stream that stopped without [DONE] ends.
func (s *streamState) endError(ctx context.Context, readErr error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("openrouter: stream: %w", err)
	}
	if s.done {
		return nil
	}
	if errors.Is(readErr, lineTooLongError{}) {
		return &engine.ProviderError{Kind: engine.ErrMidStream,
			Message: fmt.Sprintf("sse line over %d bytes", maxLineBytes), Err: readErr}
	}
	if s.comp.FinishReason != "" {
		return nil // finished, only [DONE] (and maybe usage) is missing
	}
	if readErr == io.EOF {
		readErr = io.ErrUnexpectedEOF
	}
	return &engine.ProviderError{Kind: engine.ErrStreamCut,
		Message: "stream ended before the finish", Err: readErr}
}
