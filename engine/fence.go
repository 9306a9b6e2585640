package engine

import "strings"

// This file finds fenced code blocks the way CommonMark does at the top
// level of a document: a fence line is up to three spaces of indentation and
// a run of three or more backticks or tildes. An opener may carry an info
// string ("```go"), which for backtick fences may not contain a backtick; a
// closer uses the opener's character, is at least as long, and has nothing
// after it but spaces or tabs. A block that is never closed runs to the end
// of the text. Lines end at '\n'; a '\r' before it belongs to the line end.
//
// Fences inside block quotes ("> ```") and list items indented four or more
// columns are container content in CommonMark; they are not followed here.

// fence is one fenced code block of a text, as byte offsets into it.
type fence struct {
	os, oe int  // opener line text[os:oe]; oe is past its '\n'
	cs, ce int  // closer line text[cs:ce]; both len(text) when never closed
	ch     byte // '`' or '~'
	n      int  // length of the opener's run of ch

	// Set by the splitter for its limit and unit:
	openUnits int  // the opener line measured in the unit
	repair    bool // cuts inside the block close and reopen it
}

// Where a cut position lies relative to a fence (see fence.zone).
const (
	zoneOut    = iota // outside the block, or just before its opener line
	zoneOpener        // inside the opener line
	zoneBody          // after the opener line, up to the start of the closer line
	zoneCloser        // inside the closer line
)

// zone reports where the cut position p lies relative to f.
func (f *fence) zone(p int) int {
	switch {
	case p <= f.os:
		return zoneOut
	case p < f.oe:
		return zoneOpener
	case p <= f.cs:
		return zoneBody
	case p < f.ce:
		return zoneCloser
	}
	return zoneOut
}

// fenceRun parses the start of a fence line (without its line end): the fence
// character, the length of its run and what follows the run.
func fenceRun(line string) (ch byte, n int, rest string, ok bool) {
	i := 0
	for i < 3 && i < len(line) && line[i] == ' ' {
		i++
	}
	if i == len(line) || (line[i] != '`' && line[i] != '~') {
		return 0, 0, "", false
	}
	ch = line[i]
	j := i
	for j < len(line) && line[j] == ch {
		j++
	}
	if j-i < 3 {
		return 0, 0, "", false
	}
	return ch, j - i, line[j:], true
}

// fenceOpener reports whether line (without its line end) opens a fenced
// code block, and with which character and run length.
func fenceOpener(line string) (ch byte, n int, ok bool) {
	ch, n, rest, ok := fenceRun(strings.TrimSuffix(line, "\r"))
	if !ok || (ch == '`' && strings.IndexByte(rest, '`') >= 0) {
		return 0, 0, false
	}
	return ch, n, true
}

// fenceStart reports whether s begins like a fence line: up to three spaces
// and three backticks or tildes. Lines that begin so are never cut in the
// middle, and no cut leaves a part beginning so, because either half could
// read as a fence of its own.
func fenceStart(s string) bool {
	i := 0
	for i < 3 && i < len(s) && s[i] == ' ' {
		i++
	}
	return i+3 <= len(s) && (s[i] == '`' || s[i] == '~') && s[i+1] == s[i] && s[i+2] == s[i]
}

// fenceRunOnly reports whether s is nothing but three or more of one fence
// character, which is what a repair closer looks like (see JoinParts).
func fenceRunOnly(s string) bool {
	if len(s) < 3 || (s[0] != '`' && s[0] != '~') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return true
}

// fenceScanner follows fenced code blocks through a text, line by line.
type fenceScanner struct {
	open bool
	cur  fence // the block being read while open; the last closed one after
}

// line feeds the line text[ls:le], where le is past its '\n' (or len(text)
// for a last line without one). It reports whether the line closed a block;
// the block is then in sc.cur.
func (sc *fenceScanner) line(text string, ls, le int) (closed bool) {
	l := strings.TrimSuffix(strings.TrimSuffix(text[ls:le], "\n"), "\r")
	if !sc.open {
		if ch, n, ok := fenceOpener(l); ok {
			sc.open = true
			sc.cur = fence{os: ls, oe: le, ch: ch, n: n}
		}
		return false
	}
	ch, n, rest, ok := fenceRun(l)
	if !ok || ch != sc.cur.ch || n < sc.cur.n || strings.Trim(rest, " \t") != "" {
		return false
	}
	sc.open = false
	sc.cur.cs, sc.cur.ce = ls, le
	return true
}

// lineEnd returns the end of the line starting at ls: past its '\n', or
// len(text).
func lineEnd(text string, ls int) int {
	if i := strings.IndexByte(text[ls:], '\n'); i >= 0 {
		return ls + i + 1
	}
	return len(text)
}

// scanFences returns the fenced code blocks of text in order. A block never
// closed has cs == ce == len(text).
func scanFences(text string) []fence {
	// Each block has at least one fence run in its opener line and one in
	// its closer (or is the last), so this sizes the slice once.
	runs := strings.Count(text, "```") + strings.Count(text, "~~~")
	if runs == 0 {
		return nil
	}
	fs := make([]fence, 0, runs/2+1)
	var sc fenceScanner
	for ls := 0; ls < len(text); {
		le := lineEnd(text, ls)
		if sc.line(text, ls, le) {
			fs = append(fs, sc.cur)
		}
		ls = le
	}
	if sc.open {
		sc.cur.cs, sc.cur.ce = len(text), len(text)
		fs = append(fs, sc.cur)
	}
	return fs
}

// FencesBalanced reports whether every fenced code block opened in s (``` or
// ~~~ fences, per CommonMark) is closed again in s. The parts Split returns
// are balanced, but for the exceptions its documentation lists.
func FencesBalanced(s string) bool {
	var sc fenceScanner
	for ls := 0; ls < len(s); {
		le := lineEnd(s, ls)
		sc.line(s, ls, le)
		ls = le
	}
	return !sc.open
}

// JoinParts undoes Split: it concatenates the parts, in order, after
// removing the fence closer and opener line that Split added where it cut
// inside a code block, so that JoinParts(Split(text, limit, u)) == text
// exactly, for every text, limit and unit.
//
// It recognises a repair at the boundary between two parts by its shape:
// the next part's first line is a complete fence opener line with a run of n
// characters and more text after it, and the part before ends with a line of
// exactly n of those characters (Split's closer after a line break; the line
// break stays) or n+1 of them (Split's "\n" and closer after a partial line;
// both go). Split never cuts a text so that it shows this shape by itself.
// On parts Split did not make, JoinParts may remove such lines too.
func JoinParts(parts []string) string {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	var b strings.Builder
	b.Grow(n)
	front := 0 // bytes of reopened opener line to drop from parts[i]
	for i, p := range parts {
		body := p[front:]
		front = 0
		if i+1 < len(parts) {
			if keep, opener := repairAt(body, parts[i+1]); opener > 0 {
				body, front = body[:keep], opener
			}
		}
		b.WriteString(body)
	}
	return b.String()
}

// repairAt reports whether the boundary between a part (body, its reopened
// opener already dropped) and the next one is a Split repair: then it
// returns how much of body to keep and the length of next's opener line.
func repairAt(body, next string) (keep, opener int) {
	nl := strings.IndexByte(next, '\n')
	if nl < 0 || nl+1 == len(next) {
		return 0, 0
	}
	ch, n, ok := fenceOpener(next[:nl])
	if !ok {
		return 0, 0
	}
	last := strings.LastIndexByte(body, '\n')
	if last < 0 {
		return 0, 0
	}
	closer := body[last+1:]
	if !fenceRunOnly(closer) || closer[0] != ch {
		return 0, 0
	}
	switch {
	case len(closer) == n:
		return last + 1, nl + 1
	case len(closer) == n+1 && last > 0:
		return last, nl + 1
	}
	return 0, 0
}

// openFence returns a closer for the fenced code block that s leaves open,
// or "" when every block is closed.
func openFence(s string) string {
	var sc fenceScanner
	for ls := 0; ls < len(s); {
		le := lineEnd(s, ls)
		sc.line(s, ls, le)
		ls = le
	}
	if !sc.open {
		return ""
	}
	return strings.Repeat(string(sc.cur.ch), sc.cur.n)
}

// closeFence returns s with the code block it leaves open (if any) closed
// by a matching fence, so text appended after it is not shown as code.
func closeFence(s string) string {
	closer := openFence(s)
	if closer == "" {
		return s
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s + closer
}
