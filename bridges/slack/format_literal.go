package slack

// This file holds the second finishing pass, which keeps the '*', '_', '~'
// and '`' that the text shows literally from pairing up in Slack.

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// mrkdwnLiterals neutralises the '*', '_', '~' and '`' of the text that
// Slack could pair up, line by line, and drops the sentinels. By the rules
// Slack follows, a marker can open when it comes after no letter or digit
// and before no space, and can close when it comes after no space and
// before no letter or digit; pairs do not cross lines. A marker of the
// text is neutralised when it can open and a marker of the same kind
// further on the line can close, or the other way round: so "snake_case",
// "2*3*4", "2 * 3" and a lone "~40 MB" stay as written, while "\*x\*" or a
// '*' inside a bold span cannot pair. A '`' of the text is neutralised
// whenever the line has another. In text a neutralised run becomes a
// mrkdwnLiteral token; in a link's text, where no token can go, each
// character becomes a look-alike (∗ ˍ ∼ ˋ).
func mrkdwnLiterals(b []byte) []byte {
	out := make([]byte, 0, len(b)+64)
	var marks []mrkdwnMark
	var hits []bool
	for len(b) > 0 {
		end := bytes.IndexByte(b, '\n') + 1
		if end == 0 {
			end = len(b)
		}
		line := b[:end]
		b = b[end:]
		marks = mrkdwnLineMarks(marks[:0], line)
		hits = mrkdwnHits(hits[:0], marks, line)
		k := 0
		for i := 0; i < len(line); i++ {
			c := line[i]
			if k < len(marks) && marks[k].pos == i {
				m := marks[k]
				k++
				if !hits[k-1] {
					out = append(out, c)
					continue
				}
				if m.label {
					out = append(out, mrkdwnLookAlike(c)...)
					continue
				}
				out = append(out, mrkdwnLiteral...)
				out = append(out, c)
				// A run of the same character goes in one token, but no token
				// holds "```", lest it be taken for a fence.
				for n := 1; k < len(marks) && hits[k] && !marks[k].label && marks[k].pos == i+1 && line[i+1] == c && (c != '`' || n < 2); n++ {
					out = append(out, c)
					i++
					k++
				}
				out = append(out, '>')
				continue
			}
			if c < mrkdwnOpenMark {
				out = append(out, c)
			}
		}
	}
	return out
}

// mrkdwnMark is a marker character on a line, outside code.
type mrkdwnMark struct {
	pos               int  // offset in the line
	c                 byte // '*', '_', '~' or '`'
	ours, label       bool // written by the renderer; in a link's text
	canOpen, canClose bool
}

// mrkdwnLineMarks appends the marker characters of line outside verbatim
// text, with what Slack could make of each.
func mrkdwnLineMarks(marks []mrkdwnMark, line []byte) []mrkdwnMark {
	verbatim, label := false, false
	for i, c := range line {
		switch c {
		case mrkdwnVerbatimMark, mrkdwnTextMark, mrkdwnLabelMark:
			verbatim, label = c == mrkdwnVerbatimMark, c == mrkdwnLabelMark
			continue
		case '*', '_', '~', '`':
		default:
			continue
		}
		if verbatim {
			continue
		}
		prev, next := mrkdwnRuneBefore(line, i), mrkdwnRuneAfter(line, i+1)
		marks = append(marks, mrkdwnMark{
			pos: i, c: c, ours: i > 0 && line[i-1] == mrkdwnOursMark, label: label,
			canOpen:  !mrkdwnWord(prev) && !unicode.IsSpace(next),
			canClose: !unicode.IsSpace(prev) && !mrkdwnWord(next),
		})
	}
	return marks
}

// mrkdwnHits appends, for each of the marks of line, whether it is a
// marker of the text that must be neutralised (see mrkdwnLiterals). An
// opening marker of the renderer that is closed before a marker of the
// text is no partner for it: Slack has paired it already. It takes time
// linear in len(marks): the widest span a marker could make is with the
// last marker that can close after it, or the first that can open before
// it.
func mrkdwnHits(hits []bool, marks []mrkdwnMark, line []byte) []bool {
	// Per kind of marker (index mrkdwnKind) and scope (text, link text):
	var (
		lastClose [4][2]int // index+1 of the last marker that can close
		ticks     [2]int    // how many '`' there are
		firstOpen [4][2]int // index+1 of the first marker of the text that can open, so far
		oursOpen  [4]int    // index+1 of the renderer's marker open so far
	)
	scope := func(m mrkdwnMark) int {
		if m.label {
			return 1
		}
		return 0
	}
	for i, m := range marks {
		if m.canClose {
			lastClose[mrkdwnKind(m.c)][scope(m)] = i + 1
		}
		if m.c == '`' {
			ticks[scope(m)]++
		}
	}
	for i, m := range marks {
		k, sc := mrkdwnKind(m.c), scope(m)
		hit := false
		switch {
		case m.ours:
			// The renderer's markers alternate: open, close.
			if oursOpen[k] == 0 {
				oursOpen[k] = i + 1
			} else {
				oursOpen[k] = 0
			}
		case m.c == '`':
			hit = ticks[sc] > 1
		default:
			if j := lastClose[k][sc] - 1; m.canOpen && j > i && mrkdwnSpan(line, m.pos, marks[j].pos) {
				hit = true
			}
			j := firstOpen[k][sc] - 1
			if o := oursOpen[k] - 1; sc == 0 && o >= 0 && marks[o].canOpen && (j < 0 || o < j) {
				j = o
			}
			if m.canClose && j >= 0 && mrkdwnSpan(line, marks[j].pos, m.pos) {
				hit = true
			}
			if m.canOpen && firstOpen[k][sc] == 0 {
				firstOpen[k][sc] = i + 1
			}
		}
		hits = append(hits, hit)
	}
	return hits
}

// mrkdwnKind numbers the marker characters '*', '_', '~' and '`'.
func mrkdwnKind(c byte) int {
	switch c {
	case '*':
		return 0
	case '_':
		return 1
	case '~':
		return 2
	}
	return 3
}

// mrkdwnSpan reports whether markers at line[i] and line[j] enclose
// something: Slack formats no empty span.
func mrkdwnSpan(line []byte, i, j int) bool {
	for _, c := range line[i+1 : j] {
		if c < mrkdwnOpenMark {
			return true
		}
	}
	return false
}

// mrkdwnLookAlike returns the character shown for a neutralised marker in
// a link's text.
func mrkdwnLookAlike(c byte) string {
	switch c {
	case '*':
		return "\u2217" // ∗ ASTERISK OPERATOR
	case '_':
		return "\u02cd" // ˍ MODIFIER LETTER LOW MACRON
	case '~':
		return "\u223c" // ∼ TILDE OPERATOR
	}
	return "\u02cb" // ˋ MODIFIER LETTER GRAVE ACCENT
}

// mrkdwnRuneBefore returns the rune before line[i], skipping sentinels,
// or ' ' at the start of the line.
func mrkdwnRuneBefore(line []byte, i int) rune {
	for i > 0 && line[i-1] >= mrkdwnOpenMark {
		i--
	}
	return mrkdwnLastRune(line[:i])
}

// mrkdwnRuneAfter returns the rune at line[i], skipping sentinels, or ' '
// at the end of the line.
func mrkdwnRuneAfter(line []byte, i int) rune {
	for i < len(line) && line[i] >= mrkdwnOpenMark {
		i++
	}
	if i >= len(line) {
		return ' '
	}
	r, _ := utf8.DecodeRune(line[i:])
	return r
}

// mrkdwnWord reports whether Slack counts r as part of a word next to a
// marker: a letter, digit or mark in any script. Markers are not: Slack
// formats "_*x*_".
func mrkdwnWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}
