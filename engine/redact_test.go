package engine_test

import (
	"errors"
	"io"
	"regexp"
	"testing"

	"github.com/chatbridge/chatbridge/engine"
)

func TestRedact_HidesTheSecretKeepsTheChain(t *testing.T) {
	re := regexp.MustCompile(`(/interactions/\d+/)[^/?\s"]+`)
	cause := &engine.RateLimitError{Err: io.ErrUnexpectedEOF}
	err := engine.Redact(errWithText{"POST https://x/api/interactions/123/aW50ZXJhY3Rpb24tdG9rZW4/callback: EOF", cause}, re, "${1}[redacted]")
	if got := err.Error(); got != "POST https://x/api/interactions/123/[redacted]/callback: EOF" {
		t.Errorf("Error() = %q", got)
	}
	var rl *engine.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Error("the redacted error lost its chain")
	}
	plain := errors.New("nothing secret")
	if engine.Redact(plain, re, "x") != plain {
		t.Error("an error without a match was wrapped")
	}
}

type errWithText struct {
	text string
	err  error
}

func (e errWithText) Error() string { return e.text }
func (e errWithText) Unwrap() error { return e.err }
