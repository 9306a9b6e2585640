package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a configuration file. Every problem Load reports is
// an *Error, collected in an Errors value.
//
// Problem and Accepted never contain the value of a secret (api_key, tokens,
// signing_secret), whatever its source.
type Error struct {
	// File is the configuration file as given to Load; empty for Validate.
	File string
	// Line is the 1-based line the problem is on; 0 when unknown, e.g. when
	// the value came from a default or from the environment.
	Line int
	// Key is the dotted key, e.g. "limits.requests_per_minute"; empty for a
	// problem that belongs to no key, such as a syntax error.
	Key string
	// Problem says what is wrong, e.g. "0 is out of range".
	Problem string
	// Accepted says what would be accepted, e.g. "an integer from 1 to 10000";
	// empty when there is nothing useful to say.
	Accepted string

	err error // underlying cause, e.g. from os.ReadFile; see Unwrap
}

// Error renders the problem on one line as
// "file:line: key: problem; accepted: accepted", leaving out the parts that
// are empty (and ":line" when Line is 0).
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Accepted != "" {
		b.WriteString("; accepted: ")
		b.WriteString(e.Accepted)
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any (for example an
// *fs.PathError when the file cannot be read), so that
// errors.Is(err, fs.ErrNotExist) works on what Load returns.
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in one configuration, in line order (problems
// without a line come last). Load returns a non-empty Errors or nil.
type Errors []*Error

// Error renders each problem on its own line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so errors.As(err, new(*Error)) finds the first.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sorted returns es ordered by line, problems without a line last, keeping
// the discovery order among equals.
func (es Errors) sorted() Errors {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if (a.Line == 0) != (b.Line == 0) {
			return cmp.Compare(b.Line, a.Line) // the one without a line goes last
		}
		return cmp.Compare(a.Line, b.Line)
	})
	return es
}

// errOrNil returns es as an error, or nil when it is empty, so that callers
// never get a non-nil error interface holding an empty list.
func (es Errors) errOrNil() error {
	if len(es) == 0 {
		return nil
	}
	return es.sorted()
}
