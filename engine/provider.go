package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Role is the author of a message in a conversation.
type Role string

// The roles of the chat completions API.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// ChatMessage is one message sent to the provider.
type ChatMessage struct {
	Role    Role
	Content string
}

// Request is one chat completion request. The provider does not retain it.
type Request struct {
	Model          string
	FallbackModels []string // sent as OpenRouter's "models"; may be empty
	Messages       []ChatMessage
	Temperature    *float64 // nil: the provider's default
	MaxTokens      int      // 0: the provider's default
}

// Delta is one piece of streamed output.
type Delta struct {
	Content   string
	Reasoning string
}

// Usage is what a completion cost.
type Usage struct {
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	TotalTokens      int     `json:"total_tokens"`
	ReasoningTokens  int     `json:"reasoning_tokens,omitempty"`
	Cost             float64 `json:"cost"` // USD
}

// Add returns the sum of u and v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		PromptTokens:     u.PromptTokens + v.PromptTokens,
		CompletionTokens: u.CompletionTokens + v.CompletionTokens,
		TotalTokens:      u.TotalTokens + v.TotalTokens,
		ReasoningTokens:  u.ReasoningTokens + v.ReasoningTokens,
		Cost:             u.Cost + v.Cost,
	}
}

// Completion is the result of a finished stream.
type Completion struct {
	ID           string // the provider's generation id
	Model        string // the model that answered
	Text         string // the whole content
	Reasoning    string
	FinishReason string // "stop", "length", ...
	Usage        Usage
}

// ModelInfo is one entry of the provider's model catalogue.
type ModelInfo struct {
	ID            string
	Name          string
	ContextLength int
	// Prices in USD per token.
	PromptPrice     float64
	CompletionPrice float64
}

// KeyInfo is what the provider reports about its API key.
type KeyInfo struct {
	Label          string
	Limit          *float64 // nil: unlimited
	LimitRemaining *float64
	Usage          float64
	IsFreeTier     bool
}

// Provider streams chat completions. Safe for concurrent use.
type Provider interface {
	// Stream sends req and calls onDelta, from the calling goroutine, for
	// each piece of output. It blocks until the stream ends, fails or ctx
	// is cancelled. An error from onDelta stops the stream and is returned.
	// On failure the returned Completion, when not nil, holds the partial
	// text. Stream never retries by itself.
	Stream(ctx context.Context, req *Request, onDelta func(Delta) error) (*Completion, error)
	// Models returns the model catalogue, possibly cached. It may block.
	Models(ctx context.Context) ([]ModelInfo, error)
}

// ErrorKind classifies provider failures.
type ErrorKind int

// The provider error classes (DESIGN.md "Errors").
const (
	ErrUnknownKind    ErrorKind = iota
	ErrKeyRejected              // 401, 403 auth: no retry
	ErrNoCredits                // 402: no retry
	ErrForbidden                // 403 moderation / permission: no retry
	ErrUnknownModel             // no such model
	ErrContextTooLong           // trim history and retry once
	ErrBadRequest               // 400 other: no retry
	ErrTimeout                  // 408, 504: retry
	ErrRateLimited              // 429: retry after Retry-After
	ErrUnavailable              // 5xx: retry
	ErrStreamCut                // connection cut before the end: retry
	ErrMidStream                // error chunk inside the stream: retry
)

var kindNames = map[ErrorKind]string{
	ErrUnknownKind: "unknown", ErrKeyRejected: "key rejected", ErrNoCredits: "out of credits",
	ErrForbidden: "forbidden", ErrUnknownModel: "unknown model", ErrContextTooLong: "context too long",
	ErrBadRequest: "bad request", ErrTimeout: "timeout", ErrRateLimited: "rate limited",
	ErrUnavailable: "unavailable", ErrStreamCut: "stream cut", ErrMidStream: "mid-stream error",
}

func (k ErrorKind) String() string { return kindNames[k] }

// ProviderError is a classified provider failure.
type ProviderError struct {
	Kind       ErrorKind
	Status     int           // HTTP status, or the in-band error code; 0 if none
	Message    string        // the provider's message, for the log
	RetryAfter time.Duration // from Retry-After; 0 if absent
	Err        error         // underlying cause, if any
}

func (e *ProviderError) Error() string {
	s := "provider: " + e.Kind.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (%d)", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProviderError) Unwrap() error { return e.Err }

// Retryable reports whether trying again later may succeed.
func (e *ProviderError) Retryable() bool {
	switch e.Kind {
	case ErrTimeout, ErrRateLimited, ErrUnavailable, ErrStreamCut, ErrMidStream, ErrUnknownKind:
		return true
	}
	return false
}

// Safe is the message for the user.
func (e *ProviderError) Safe() string {
	switch e.Kind {
	case ErrKeyRejected:
		return "The model provider rejected the API key. The owner needs to set a new OpenRouter API key."
	case ErrNoCredits:
		return "The OpenRouter account is out of credits. Add credits and try again."
	case ErrForbidden:
		return "The model provider refused this request (moderation or permissions)."
	case ErrUnknownModel:
		return "That model is not available. See /models and pick another with /model."
	case ErrContextTooLong:
		return "This conversation is too long for the model. Start a fresh one with /new."
	case ErrBadRequest:
		return "The model provider refused the request as invalid."
	case ErrTimeout:
		return "The model took too long to answer."
	case ErrRateLimited:
		return "The model provider is rate limiting us."
	case ErrUnavailable:
		return "The model provider is unavailable right now."
	case ErrStreamCut:
		return "The connection to the model was cut."
	case ErrMidStream:
		return "The model failed while answering."
	}
	return "The model provider failed."
}

// AsProviderError returns err as a *ProviderError, if it is one.
func AsProviderError(err error) (*ProviderError, bool) {
	var pe *ProviderError
	ok := errors.As(err, &pe)
	return pe, ok
}
