package openrouter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// chatRequest is the body of POST /chat/completions.
type chatRequest struct {
	Model       string        `json:"model"`
	Models      []string      `json:"models,omitempty"`
	Messages    []chatMessage `json:"messages"`
	Stream      bool          `json:"stream"`
	Temperature *float64      `json:"temperature,omitempty"`
	MaxTokens   int           `json:"max_tokens,omitempty"`
	Usage       *usageOption  `json:"usage,omitempty"`
}

type chatMessage struct {
	Role    engine.Role `json:"role"`
	Content string      `json:"content"`
}

// usageOption asks for usage accounting. OpenRouter now always includes
// usage; the option is deprecated there and harmless.
type usageOption struct {
	Include bool `json:"include"`
}

func newChatRequest(req *engine.Request) *chatRequest {
	body := &chatRequest{
		Model:       req.Model,
		Models:      req.FallbackModels,
		Messages:    make([]chatMessage, len(req.Messages)),
		Stream:      true,
		Temperature: req.Temperature,
		Usage:       &usageOption{Include: true},
	}
	if req.MaxTokens > 0 {
		body.MaxTokens = req.MaxTokens
	}
	for i, m := range req.Messages {
		body.Messages[i] = chatMessage{Role: m.Role, Content: m.Content}
	}
	return body
}

// Stream sends req to POST {base}/chat/completions with stream:true and
// calls onDelta, from the calling goroutine, for each chunk that carries
// content or reasoning. It blocks until the stream ends, fails or ctx ends.
// Safe for concurrent use; it does not retain req.
//
// Failures are *engine.ProviderError (see ClassifyStatus for HTTP errors;
// an in-band error chunk is classified by its code, by default
// ErrMidStream; a stream cut before its finish is ErrStreamCut wrapping
// io.ErrUnexpectedEOF), except that when ctx ends Stream returns ctx.Err()
// wrapped, and an error from onDelta is returned as it is. Once the
// response has begun, the returned Completion is non-nil even on failure
// and holds the partial text. Stream never retries.
func (c *Client) Stream(ctx context.Context, req *engine.Request, onDelta func(engine.Delta) error) (*engine.Completion, error) {
	switch {
	case req == nil:
		return nil, &engine.ProviderError{Kind: engine.ErrBadRequest, Message: "nil request"}
	case req.Model == "":
		return nil, &engine.ProviderError{Kind: engine.ErrBadRequest, Message: "no model"}
	case len(req.Messages) == 0:
		return nil, &engine.ProviderError{Kind: engine.ErrBadRequest, Message: "no messages"}
	}
	if onDelta == nil {
		onDelta = func(engine.Delta) error { return nil }
	}
	body, err := json.Marshal(newChatRequest(req))
	if err != nil {
		return nil, fmt.Errorf("openrouter: encode request: %w", err)
	}
	hreq, key, err := c.newRequest(ctx, http.MethodPost, "/chat/completions", body, "text/event-stream")
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := c.do(ctx, hreq, key, "post chat completion")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		pe := c.statusError(resp, key)
		c.log.Debug("openrouter: request failed", "model", req.Model, "status", resp.StatusCode, "err", pe)
		return nil, pe
	}

	var comp *engine.Completion
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mediaType {
	case "application/json":
		comp, err = readJSONCompletion(ctx, resp.Body, onDelta)
	case "text/html":
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		comp, err = &engine.Completion{}, &engine.ProviderError{Kind: engine.ErrUnavailable,
			Status: resp.StatusCode, Message: "unexpected html response: " + snippet(data)}
	default: // text/event-stream, or a server that does not say
		comp, err = parseStream(ctx, resp.Body, onDelta)
	}
	if comp.ID == "" {
		comp.ID = resp.Header.Get("X-Generation-Id")
	}
	if pe, ok := err.(*engine.ProviderError); ok {
		pe.Message = redact(pe.Message, key)
	}
	c.log.Debug("openrouter: stream ended", "model", req.Model, "id", comp.ID,
		"finish", comp.FinishReason, "chars", len(comp.Text), "elapsed", time.Since(start), "err", err)
	return comp, err
}

// readJSONCompletion handles a 200 that is JSON instead of a stream: an
// error object, or a whole (non-streamed) completion.
func readJSONCompletion(ctx context.Context, r io.Reader, onDelta func(engine.Delta) error) (*engine.Completion, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxJSONBody))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return &engine.Completion{}, fmt.Errorf("openrouter: stream: %w", ctxErr)
		}
		return &engine.Completion{}, &engine.ProviderError{Kind: engine.ErrStreamCut,
			Message: "read json response", Err: err}
	}
	s := &streamState{onDelta: onDelta}
	if err := s.event("", data); err != nil {
		return s.completion(), err
	}
	comp := s.completion()
	if comp.FinishReason == "" && comp.Text == "" {
		return comp, &engine.ProviderError{Kind: engine.ErrUnavailable, Status: http.StatusOK,
			Message: "unexpected json response: " + snippet(data)}
	}
	return comp, nil
}
