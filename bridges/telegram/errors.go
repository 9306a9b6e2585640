package telegram

import (
	"errors"
	"fmt"
	"strings"
	"time"

	tele "gopkg.in/telebot.v3"

	"github.com/chatbridge/chatbridge/engine"
)

// mapError turns telebot's errors into the engine's: a flood wait into a
// *engine.RateLimitError, "message is not modified" into ErrNotModified,
// "can't parse entities" into ErrBadMarkup, "message is too long" into
// ErrTooLong. Telegram's descriptions are not a formal contract, so the
// untyped ones are matched by substring. The bot token, which telebot puts
// in the URL of a failed request, is never part of the result.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var flood tele.FloodError
	if errors.As(err, &flood) {
		return &engine.RateLimitError{RetryAfter: time.Duration(flood.RetryAfter) * time.Second, Err: redact(err)}
	}
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, tele.ErrSameMessageContent), errors.Is(err, tele.ErrMessageNotModified),
		strings.Contains(msg, "message is not modified"):
		return fmt.Errorf("%w: %v", engine.ErrNotModified, redact(err))
	case strings.Contains(msg, "can't parse entities"):
		return fmt.Errorf("%w: %v", engine.ErrBadMarkup, redact(err))
	case errors.Is(err, tele.ErrTooLongMessage), strings.Contains(msg, "message is too long"),
		strings.Contains(msg, "text is too long"):
		return fmt.Errorf("%w: %v", engine.ErrTooLong, redact(err))
	}
	return redact(err)
}

// redact strips anything that looks like a bot token path ("/bot123:ABC/")
// from err's text, keeping the error chain.
func redact(err error) error {
	s := err.Error()
	i := strings.Index(s, "/bot")
	if i < 0 {
		return err
	}
	j := strings.IndexByte(s[i+4:], '/')
	if j < 0 {
		return err
	}
	return &redactedError{text: s[:i] + "/bot[redacted]" + s[i+4+j:], err: err}
}

type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }
