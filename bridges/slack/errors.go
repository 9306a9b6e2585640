package slack

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/slack-go/slack"

	"github.com/chatbridge/chatbridge/engine"
)

// defaultRetry is the wait when a 429 does not say how long.
const defaultRetry = 30 * time.Second

// mapError turns slack-go's errors into the engine's: a 429 into a
// *engine.RateLimitError, msg_too_long into ErrTooLong. response_url
// paths, which act as credentials, are never part of the result.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = defaultRetry
		}
		return &engine.RateLimitError{RetryAfter: wait, Err: redact(err)}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code == http.StatusTooManyRequests {
		return &engine.RateLimitError{RetryAfter: defaultRetry, Err: redact(err)}
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "msg_too_long", "msg_blocks_too_long":
			return fmt.Errorf("%w: %v", engine.ErrTooLong, redact(err))
		case "ratelimited":
			return &engine.RateLimitError{RetryAfter: defaultRetry, Err: redact(err)}
		case "invalid_blocks", "invalid_blocks_format":
			return fmt.Errorf("%w: %v", engine.ErrBadMarkup, redact(err))
		}
	}
	return redact(err)
}

// notMember reports whether a post failed because the bot cannot post in
// the channel (it is not a member).
func notMember(err error) bool {
	var se slack.SlackErrorResponse
	return errors.As(err, &se) && (se.Err == "not_in_channel" || se.Err == "channel_not_found")
}

// secretURLRE matches the secret part of response URLs.
var secretURLRE = regexp.MustCompile(`(/(?:commands|actions)/[A-Z0-9]+/)[^\s"?]+`)

// redact hides the secret of response URLs in err's text, keeping the
// error chain.
func redact(err error) error { return engine.Redact(err, secretURLRE, "${1}[redacted]") }
