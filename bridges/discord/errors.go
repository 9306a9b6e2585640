package discord

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/engine"
)

// mapError turns discordgo's errors into the engine's: a 429 into a
// *engine.RateLimitError (its wait already raised to what the headers say,
// see transport), a content-length refusal into ErrTooLong. Interaction
// tokens, which discordgo puts in the URL of a failed request, are never
// part of the result.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var rl *discordgo.RateLimitError
	if errors.As(err, &rl) && rl.RateLimit != nil && rl.TooManyRequests != nil {
		return &engine.RateLimitError{RetryAfter: rl.RetryAfter, Global: rl.Bucket == globalBucket, Err: redact(err)}
	}
	var rest *discordgo.RESTError
	if errors.As(err, &rest) {
		if rest.Message != nil && rest.Message.Code == discordgo.ErrCodeInvalidFormBody && tooLong(rest.ResponseBody) {
			return fmt.Errorf("%w: %v", engine.ErrTooLong, redact(err))
		}
		if rest.Response != nil && rest.Response.StatusCode == http.StatusTooManyRequests {
			return &engine.RateLimitError{RetryAfter: defaultRetry, Err: redact(err)}
		}
	}
	return redact(err)
}

// tooLong reports whether a 50035 body names a length limit.
func tooLong(body []byte) bool {
	return lengthRE.Match(body)
}

var lengthRE = regexp.MustCompile(`BASE_TYPE_MAX_LENGTH|or fewer in length`)

// secretPathRE matches the token part of webhook and interaction URLs.
var secretPathRE = regexp.MustCompile(`(/(?:webhooks|interactions)/\d+/)[^/?\s"]+`)

// redact hides interaction and webhook tokens in err's text, keeping the
// error chain.
func redact(err error) error { return engine.Redact(err, secretPathRE, "${1}[redacted]") }
