package openrouter

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/engine"
)

const (
	maxMessageRunes = 300 // a provider message kept for the log
	maxSnippetRunes = 160 // a non-JSON body kept for the log
	maxRetryAfter   = 24 * time.Hour
)

// ClassifyStatus turns a failed HTTP response (status other than 200) into
// a classified error. body is the response body, or a bounded prefix of it;
// it may be an OpenRouter JSON error ({"error":{"code","message","metadata"}})
// or anything else, such as a proxy's HTML page, of which only a short
// snippet is kept. header supplies Retry-After and may be nil. The result's
// Message may contain whatever the server echoed: callers redact secrets.
// ClassifyStatus is pure and safe for concurrent use.
func ClassifyStatus(status int, body []byte, header http.Header) *engine.ProviderError {
	info, ok := parseErrorBody(body)
	msg := info.describe()
	if !ok || msg == "" {
		msg = snippet(body)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	pe := &engine.ProviderError{
		Kind:       statusKind(status, info),
		Status:     status,
		Message:    msg,
		RetryAfter: parseRetryAfter(header.Get("Retry-After"), time.Now()),
	}
	if pe.RetryAfter == 0 {
		pe.RetryAfter = info.retryAfter
	}
	return pe
}

// streamError classifies an error object found inside a 200 response: an
// in-band SSE error chunk (mid-stream) or a JSON body.
func streamError(raw json.RawMessage) *engine.ProviderError {
	info := parseErrorObject(raw)
	msg := info.describe()
	if msg == "" {
		msg = "error chunk"
		if s := snippet(raw); s != "" {
			msg += ": " + s
		}
	}
	return &engine.ProviderError{
		Kind:       inBandKind(info),
		Status:     info.status,
		Message:    msg,
		RetryAfter: info.retryAfter,
	}
}

// apiError is OpenRouter's error object, decoded leniently: code may be a
// number or a string, error_type may sit in metadata or beside the message.
type apiError struct {
	status     int    // numeric code, or http_status
	errType    string // metadata.error_type, error_type, or a string code
	message    string
	provider   string // metadata.provider_name
	availCode  string // availability.code
	availRetry *bool  // availability.retryable
	retryAfter time.Duration
}

type wireError struct {
	Code         json.RawMessage `json:"code"`
	Message      json.RawMessage `json:"message"`
	ErrorType    string          `json:"error_type"`
	HTTPStatus   int             `json:"http_status"`
	Metadata     json.RawMessage `json:"metadata"`
	Availability *struct {
		Code       string   `json:"code"`
		Retryable  *bool    `json:"retryable"`
		RetryAfter *float64 `json:"retry_after"`
	} `json:"availability"`
}

type wireErrorMetadata struct {
	ErrorType    string `json:"error_type"`
	ProviderName string `json:"provider_name"`
}

// parseErrorBody decodes {"error":{...}} (or a bare {"message":"..."}).
// ok is false when body is not a JSON object.
func parseErrorBody(body []byte) (apiError, bool) {
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err != nil && !isTypeError(err) {
		return apiError{}, false
	}
	if len(env.Error) > 0 && !isNull(env.Error) {
		if env.Error[0] == '"' { // {"error":"text"}
			return apiError{message: jsonText(env.Error)}, true
		}
		return parseErrorObject(env.Error), true
	}
	return apiError{message: jsonText(env.Message)}, true
}

// parseErrorObject decodes the inner error object.
func parseErrorObject(raw json.RawMessage) apiError {
	var w wireError
	if err := json.Unmarshal(raw, &w); err != nil && !isTypeError(err) {
		return apiError{message: jsonText(raw)}
	}
	info := apiError{message: jsonText(w.Message), errType: w.ErrorType, status: w.HTTPStatus}
	if code := bytes.TrimSpace(w.Code); len(code) > 0 && !isNull(code) {
		if code[0] == '"' {
			text := jsonText(code)
			if n, err := strconv.Atoi(text); err == nil {
				info.status = n
			} else if info.errType == "" {
				info.errType = text
			}
		} else if f, err := strconv.ParseFloat(string(code), 64); err == nil && f >= 0 && f < 1000 {
			info.status = int(f)
		}
	}
	if len(w.Metadata) > 0 && w.Metadata[0] == '{' {
		var md wireErrorMetadata
		if err := json.Unmarshal(w.Metadata, &md); err == nil || isTypeError(err) {
			if md.ErrorType != "" {
				info.errType = md.ErrorType
			}
			info.provider = md.ProviderName
		}
	}
	if a := w.Availability; a != nil {
		info.availCode = a.Code
		info.availRetry = a.Retryable
		if a.RetryAfter != nil {
			info.retryAfter = secondsDuration(*a.RetryAfter)
		}
	}
	return info
}

// describe is the message for the log: the provider's message, its typed
// code and the upstream provider.
func (e apiError) describe() string {
	s := truncate(strings.Join(strings.Fields(e.message), " "), maxMessageRunes)
	if e.errType != "" && !strings.Contains(s, e.errType) {
		s = strings.TrimSpace(s + " [" + e.errType + "]")
	}
	if e.provider != "" {
		s += " (provider " + e.provider + ")"
	}
	return s
}

// statusKind classifies a failed HTTP response.
func statusKind(status int, e apiError) engine.ErrorKind {
	switch {
	case status == http.StatusUnauthorized:
		return engine.ErrKeyRejected
	case status == http.StatusPaymentRequired:
		return engine.ErrNoCredits
	case status == http.StatusForbidden:
		if e.isAuth() {
			return engine.ErrKeyRejected
		}
		return engine.ErrForbidden
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return engine.ErrTimeout
	case status == http.StatusTooManyRequests:
		return engine.ErrRateLimited
	case status >= 500:
		return engine.ErrUnavailable
	case status == http.StatusRequestEntityTooLarge:
		return engine.ErrContextTooLong
	case status >= 400:
		switch {
		case e.isContextLength():
			return engine.ErrContextTooLong
		case e.isUnknownModel():
			return engine.ErrUnknownModel
		case status == http.StatusNotFound && e.errType == "not_found":
			return engine.ErrUnknownModel
		case e.errType == "content_policy_violation" || e.errType == "refusal":
			return engine.ErrForbidden
		}
		return engine.ErrBadRequest
	}
	return engine.ErrUnknownKind
}

// inBandKind classifies an error that arrived after a 200. What is not
// clearly something else is ErrMidStream, which is retryable.
func inBandKind(e apiError) engine.ErrorKind {
	switch {
	case e.status == http.StatusUnauthorized || e.errType == "authentication" ||
		strings.Contains(e.errType, "api_key"):
		return engine.ErrKeyRejected
	case e.status == http.StatusPaymentRequired || e.errType == "payment_required":
		return engine.ErrNoCredits
	case e.isContextLength():
		return engine.ErrContextTooLong
	case e.isUnknownModel():
		return engine.ErrUnknownModel
	case e.status == http.StatusForbidden || e.errType == "permission_denied" ||
		e.errType == "content_policy_violation" || e.errType == "refusal":
		return engine.ErrForbidden
	case e.status == http.StatusTooManyRequests || strings.Contains(e.errType, "rate_limit"):
		return engine.ErrRateLimited
	case e.status == http.StatusRequestTimeout || e.status == http.StatusGatewayTimeout ||
		e.errType == "timeout":
		return engine.ErrTimeout
	}
	return engine.ErrMidStream
}

func (e apiError) isAuth() bool {
	if e.errType == "authentication" || strings.Contains(e.errType, "api_key") {
		return true
	}
	m := strings.ToLower(e.message)
	return containsAny(m, "authentication", "auth credentials", "unauthenticated", "invalid api key", "api key is invalid")
}

func (e apiError) isContextLength() bool {
	if e.errType == "context_length_exceeded" {
		return true
	}
	m := strings.ToLower(e.message)
	return containsAny(m, "context_length_exceeded", "maximum context length", "context length", "context window")
}

func (e apiError) isUnknownModel() bool {
	if e.availCode != "" {
		switch e.availCode {
		case "capacity_exhausted", "temporarily_unavailable", "region_restricted":
			return false
		}
		return e.availRetry == nil || !*e.availRetry
	}
	m := strings.ToLower(e.message)
	return containsAny(m, "not a valid model", "no endpoints found", "model not found",
		"model_not_found", "invalid model", "unknown model")
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// It returns 0 when the value is absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return secondsDuration(secs)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

func secondsDuration(secs float64) time.Duration {
	if math.IsNaN(secs) || secs <= 0 {
		return 0
	}
	if secs >= maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(secs * float64(time.Second))
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonText returns a JSON string's value, or the raw JSON of anything else.
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return ""
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// snippet is a short, single-line excerpt of a non-JSON body: the title of
// an HTML page, else its text without tags.
func snippet(body []byte) string {
	s := strings.ToValidUTF8(string(body), "")
	lower := strings.ToLower(s)
	if strings.Contains(lower, "<html") || strings.Contains(lower, "<!doctype") || strings.Contains(lower, "<title") {
		if t := htmlTitle(s, lower); t != "" {
			s = t
		} else {
			s = stripTags(s)
		}
	}
	return truncate(strings.Join(strings.Fields(s), " "), maxSnippetRunes)
}

func htmlTitle(s, lower string) string {
	i := strings.Index(lower, "<title")
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(lower[i:], '>')
	if j < 0 {
		return ""
	}
	start := i + j + 1
	end := strings.Index(lower[start:], "</title")
	if end < 0 {
		return ""
	}
	return strings.TrimSpace(s[start : start+end])
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>' && in:
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k] + "…"
		}
		i++
	}
	return s
}
