package openroutertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Script is how the fake answers one chat request. The zero Script
// streams an empty reply that finishes normally.
//
// A streamed answer is: FirstByteDelay, the headers, KeepAlives comment
// lines, one chunk per Reasoning entry, one chunk per Tokens entry (each
// after Delay), a finish chunk, a usage chunk with "choices":[] and
// "data: [DONE]". MidStreamError and Cut end it early.
type Script struct {
	// Model restricts a queued script to requests for this model.
	Model string

	// Status, when neither 0 nor 200, answers with this HTTP status before
	// any streaming: Body verbatim if set (with ContentType, default
	// application/json), else an OpenRouter JSON error made of Status,
	// Message and ErrorType.
	Status      int
	Body        string
	ContentType string
	Message     string
	ErrorType   string
	// RetryAfter is sent as the Retry-After header, when set.
	RetryAfter string
	// Header holds extra response headers.
	Header http.Header

	// FirstByteDelay is the wait before anything is written, headers
	// included.
	FirstByteDelay time.Duration
	// KeepAlives is the number of ": OPENROUTER PROCESSING" comment
	// events before the first chunk.
	KeepAlives int
	// Reasoning is streamed first, one delta.reasoning per entry (or one
	// delta.reasoning_details entry, with ReasoningDetails).
	Reasoning        []string
	ReasoningDetails bool
	// Tokens is the content, one chunk per entry, each sent after Delay.
	Tokens []string
	Delay  time.Duration
	// FinishReason is the finish chunk's reason. Default "stop".
	FinishReason string
	// Usage is the usage chunk's content. Default: counted from the
	// request and the tokens, at 1e-6 USD per token.
	Usage *Usage
	// NoUsage omits the usage chunk; NoDone omits "data: [DONE]".
	NoUsage bool
	NoDone  bool
	// CRLF ends lines with CR LF instead of LF.
	CRLF bool

	// MidStreamError ends the stream with an in-band error.
	MidStreamError *MidStreamError
	// Cut ends the stream without a finish or [DONE].
	Cut *Cut

	// Handler, when set, answers the request instead (after FirstByteDelay).
	Handler http.HandlerFunc
}

func (sc Script) isZero() bool {
	return sc.Model == "" && sc.Status == 0 && sc.Body == "" && sc.Message == "" && sc.FirstByteDelay == 0 &&
		sc.KeepAlives == 0 && len(sc.Reasoning) == 0 && len(sc.Tokens) == 0 && sc.Usage == nil &&
		sc.MidStreamError == nil && sc.Cut == nil && sc.Handler == nil && !sc.NoUsage && !sc.NoDone
}

// Usage is the usage a script reports.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
	TotalTokens      int
	ReasoningTokens  int
	Cost             float64
}

// MidStreamError is an in-band error chunk sent after After content
// tokens, after which the stream ends.
type MidStreamError struct {
	After int
	// Code is the error code, an int or a string. Default 502.
	Code      any
	Message   string // default "Provider returned error"
	ErrorType string // metadata.error_type, if set
	// EmptyChoices sends "choices":[] with the error, instead of a choice
	// with finish_reason "error".
	EmptyChoices bool
}

// Cut ends the stream after After content tokens: by closing the TCP
// connection (Hijack) or by ending the response cleanly without a finish
// chunk or [DONE].
type Cut struct {
	After  int
	Hijack bool
}

// Tokens streams text one chunk per word (see Words).
func Tokens(text string) Script { return Script{Tokens: Words(text)} }

// Words splits text into words that keep their following white space, so
// that joining them gives text back.
func Words(text string) []string {
	var out []string
	start := 0
	inSpace := false
	for i, r := range text {
		space := r == ' ' || r == '\n' || r == '\t' || r == '\r'
		if inSpace && !space {
			out = append(out, text[start:i])
			start = i
		}
		inSpace = space
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// LongText returns deterministic prose of n words in paragraphs of 60,
// for tests of long replies and splitting.
func LongText(n int) string {
	words := strings.Fields("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod " +
		"tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud")
	var b strings.Builder
	for i := range n {
		if i > 0 {
			if i%60 == 0 {
				b.WriteString(".\n\n")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(words[(i*7)%len(words)])
	}
	if n > 0 {
		b.WriteByte('.')
	}
	return b.String()
}

func echoScript(cr *ChatRequest, delay time.Duration) Script {
	last := ""
	for _, m := range cr.Messages {
		if m.Role == "user" {
			last = m.Content
		}
	}
	text := "You said: " + last
	if strings.TrimSpace(last) == "" {
		text = "You said nothing."
	}
	return Script{KeepAlives: 1, Tokens: Words(text), Delay: delay}
}

// wire types of a chat.completion.chunk

type chunkJSON struct {
	ID                string       `json:"id"`
	Provider          string       `json:"provider"`
	Model             string       `json:"model"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Choices           []choiceJSON `json:"choices"`
	Error             any          `json:"error,omitempty"`
	Usage             any          `json:"usage,omitempty"`
	SystemFingerprint string       `json:"system_fingerprint,omitempty"`
}

type choiceJSON struct {
	Index              int       `json:"index"`
	Delta              deltaJSON `json:"delta"`
	FinishReason       *string   `json:"finish_reason"`
	NativeFinishReason *string   `json:"native_finish_reason"`
	Logprobs           any       `json:"logprobs"`
}

type deltaJSON struct {
	Role             string `json:"role,omitempty"`
	Content          string `json:"content"`
	Reasoning        string `json:"reasoning,omitempty"`
	ReasoningDetails []any  `json:"reasoning_details,omitempty"`
}

// run answers a validated chat request with sc.
func (s *Server) run(w http.ResponseWriter, r *http.Request, cr *ChatRequest, sc Script) {
	ctx := r.Context()
	if !s.sleep(ctx, sc.FirstByteDelay) {
		s.noteCancel()
		return
	}
	for k, vs := range sc.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if sc.Handler != nil {
		sc.Handler(w, r)
		return
	}
	if sc.Status != 0 && sc.Status != http.StatusOK {
		if sc.Body != "" {
			ct := sc.ContentType
			if ct == "" {
				ct = "application/json"
			}
			if sc.RetryAfter != "" {
				w.Header().Set("Retry-After", sc.RetryAfter)
			}
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(sc.Status)
			_, _ = w.Write([]byte(sc.Body))
			return
		}
		msg := sc.Message
		if msg == "" {
			msg = http.StatusText(sc.Status)
		}
		writeError(w, sc.Status, sc.Status, msg, sc.ErrorType, sc.RetryAfter)
		return
	}

	s.mu.Lock()
	s.seq++
	id := fmt.Sprintf("gen-%d-fake%06d", time.Now().Unix(), s.seq)
	s.mu.Unlock()
	if !cr.Stream {
		s.writeWhole(w, cr, sc, id)
		return
	}

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Generation-Id", id)
	if sc.RetryAfter != "" {
		w.Header().Set("Retry-After", sc.RetryAfter)
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	eol := "\n"
	if sc.CRLF {
		eol = "\r\n"
	}
	ok := true
	send := func(text string) bool {
		if !ok {
			return false
		}
		if _, err := w.Write([]byte(text)); err != nil {
			ok = false
		} else if err := rc.Flush(); err != nil {
			ok = false
		}
		return ok
	}
	base := chunkJSON{ID: id, Provider: "Fake", Model: cr.Model, Object: "chat.completion.chunk",
		Created: time.Now().Unix(), SystemFingerprint: "fp_fake"}
	sendChunk := func(ch chunkJSON) bool {
		b, err := json.Marshal(ch)
		if err != nil {
			panic(err) // only our own types are marshalled
		}
		return send("data: " + string(b) + eol + eol)
	}
	// gone notes a client that went away (and not a server closing).
	gone := func() {
		if ctx.Err() != nil || !ok {
			s.noteCancel()
		}
	}

	for range sc.KeepAlives {
		send(": OPENROUTER PROCESSING" + eol + eol)
	}
	for _, rs := range sc.Reasoning {
		d := deltaJSON{Role: "assistant", Reasoning: rs}
		if sc.ReasoningDetails {
			d = deltaJSON{Role: "assistant", ReasoningDetails: []any{map[string]any{
				"type": "reasoning.text", "text": rs, "format": "unknown", "index": 0}}}
		}
		ch := base
		ch.Choices = []choiceJSON{{Delta: d}}
		if !s.sleep(ctx, sc.Delay) || !sendChunk(ch) {
			gone()
			return
		}
	}
	for i := 0; ; i++ {
		if me := sc.MidStreamError; me != nil && min(me.After, len(sc.Tokens)) == i {
			sendChunk(midStreamChunk(base, me))
			return
		}
		if c := sc.Cut; c != nil && min(c.After, len(sc.Tokens)) == i {
			if c.Hijack {
				if conn, _, err := rc.Hijack(); err == nil {
					_ = conn.Close()
				}
			}
			return
		}
		if i == len(sc.Tokens) {
			break
		}
		ch := base
		ch.Choices = []choiceJSON{{Delta: deltaJSON{Role: "assistant", Content: sc.Tokens[i]}}}
		if !s.sleep(ctx, sc.Delay) || !sendChunk(ch) {
			gone()
			return
		}
		if f := s.opts.OnContent; f != nil {
			f(cr, i, time.Now())
		}
	}
	finish := sc.FinishReason
	if finish == "" {
		finish = "stop"
	}
	ch := base
	ch.Choices = []choiceJSON{{Delta: deltaJSON{}, FinishReason: &finish, NativeFinishReason: &finish}}
	sendChunk(ch)
	if !sc.NoUsage {
		ch := base
		ch.Choices = []choiceJSON{}
		ch.Usage = usageJSON(cr, sc)
		sendChunk(ch)
	}
	if !sc.NoDone {
		send("data: [DONE]" + eol + eol)
	}
}

func midStreamChunk(base chunkJSON, me *MidStreamError) chunkJSON {
	code := me.Code
	if code == nil {
		code = 502
	}
	msg := me.Message
	if msg == "" {
		msg = "Provider returned error"
	}
	e := map[string]any{"code": code, "message": msg}
	if me.ErrorType != "" {
		e["metadata"] = map[string]any{"error_type": me.ErrorType}
	}
	ch := base
	ch.Error = e
	if me.EmptyChoices {
		ch.Choices = []choiceJSON{}
	} else {
		reason := "error"
		ch.Choices = []choiceJSON{{Delta: deltaJSON{}, FinishReason: &reason, NativeFinishReason: &reason}}
	}
	return ch
}

func usageJSON(cr *ChatRequest, sc Script) map[string]any {
	u := Usage{}
	if sc.Usage != nil {
		u = *sc.Usage
	} else {
		for _, m := range cr.Messages {
			u.PromptTokens += len(strings.Fields(m.Content)) + 4
		}
		u.ReasoningTokens = len(sc.Reasoning)
		u.CompletionTokens = len(sc.Tokens) + u.ReasoningTokens
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		u.Cost = float64(u.TotalTokens) * 1e-6
	}
	return map[string]any{
		"prompt_tokens":     u.PromptTokens,
		"completion_tokens": u.CompletionTokens,
		"total_tokens":      u.TotalTokens,
		"cost":              u.Cost,
		"is_byok":           false,
		"prompt_tokens_details": map[string]any{
			"cached_tokens": 0, "cache_write_tokens": 0, "audio_tokens": 0},
		"completion_tokens_details": map[string]any{"reasoning_tokens": u.ReasoningTokens},
		"cost_details":              map[string]any{"upstream_inference_cost": nil},
	}
}

// writeWhole answers a stream:false request with one JSON completion.
func (s *Server) writeWhole(w http.ResponseWriter, cr *ChatRequest, sc Script, id string) {
	if me := sc.MidStreamError; me != nil {
		ch := midStreamChunk(chunkJSON{ID: id, Model: cr.Model}, me)
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "error": ch.Error})
		return
	}
	finish := sc.FinishReason
	if finish == "" {
		finish = "stop"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "provider": "Fake", "model": cr.Model, "object": "chat.completion",
		"created": time.Now().Unix(),
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": strings.Join(sc.Tokens, ""), "reasoning": strings.Join(sc.Reasoning, "")},
			"finish_reason": finish,
		}},
		"usage": usageJSON(cr, sc),
	})
}
