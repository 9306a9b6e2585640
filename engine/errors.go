package engine

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
)

// Sentinel errors a Replier returns so the engine can act on them.
var (
	// ErrNotModified: the edit would not change the message. Success.
	ErrNotModified = errors.New("message not modified")
	// ErrTooLong: the platform refused the message as too long, after
	// rendering. The engine splits smaller and tries again.
	ErrTooLong = errors.New("message too long")
	// ErrBadMarkup: the platform could not parse the rendered markup. The
	// engine sends the same text again as plain text.
	ErrBadMarkup = errors.New("message markup refused")
)

// SafeError carries two messages: Error() for the log and Safe() for the
// user, joined by a short reference printed in both so a user's report can
// be found in the log.
type SafeError struct {
	Ref  string // short random reference, e.g. "e7f3a1"
	User string // what the user may see; never secrets or internals
	Err  error  // the cause, for the log
}

// NewSafeError wraps err with a message fit for the user and a fresh reference.
func NewSafeError(user string, err error) *SafeError {
	return &SafeError{Ref: newRef(), User: user, Err: err}
}

func (e *SafeError) Error() string {
	return fmt.Sprintf("%v [ref %s]", e.Err, e.Ref)
}

// Safe is the message for the user, with the reference.
func (e *SafeError) Safe() string {
	return fmt.Sprintf("%s (ref %s)", e.User, e.Ref)
}

func (e *SafeError) Unwrap() error { return e.Err }

// SafeMessage returns the user-facing text of err and the reference that
// joins it to the log line: the Safe() text when err has one, else a generic
// message. The caller logs err with ref.
func SafeMessage(err error) (text, ref string) {
	var s *SafeError
	if errors.As(err, &s) {
		return s.Safe(), s.Ref
	}
	ref = newRef()
	var se interface{ Safe() string }
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (ref %s)", se.Safe(), ref), ref
	}
	return fmt.Sprintf("Something went wrong on our side (ref %s).", ref), ref
}

func newRef() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Redact returns err with every match of re in its text replaced by repl
// (which may use re's groups, as regexp.ReplaceAllString does), keeping
// err in the chain for errors.Is and errors.As; err itself when nothing
// matches. Bridges use it to hide tokens that platforms put in URLs.
func Redact(err error, re *regexp.Regexp, repl string) error {
	s := err.Error()
	r := re.ReplaceAllString(s, repl)
	if r == s {
		return err
	}
	return &redactedError{text: r, err: err}
}

type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }
