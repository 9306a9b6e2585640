package slack

// This file holds the mrkdwn side of the Slack formatting: the sentinels,
// the first finishing pass, which places the renderer's markers and
// neutralises mentions, escaping, and the decoding of Markdown text.

import (
	"unicode"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"
)

// Sentinel bytes in the renderer's buffer. Valid UTF-8 never holds them,
// and mrkdwnFinish removes them all.
const (
	mrkdwnOpenMark     = 0xF8 // the next byte is a marker the renderer opens
	mrkdwnCloseMark    = 0xF9 // the next byte is a marker the renderer closes
	mrkdwnVerbatimMark = 0xFA // what follows is code or a link target: copied as is
	mrkdwnTextMark     = 0xFB // what follows is text again
	mrkdwnLabelMark    = 0xFC // what follows is a link's text, up to mrkdwnTextMark
	mrkdwnOursMark     = 0xFD // between the passes: the next byte is a marker of ours
)

const (
	// mrkdwnZWSP (U+200B ZERO WIDTH SPACE) goes outside a marker of the
	// renderer that touches a letter or digit. Slack takes it for a non-word,
	// non-space character: a marker after it can open, one before it can
	// close (jsx-slack's "exact mode" and slackify-markdown rely on this).
	mrkdwnZWSP = "\u200b"
	// mrkdwnWordJoiner (U+2060 WORD JOINER) goes between '@' and "here",
	// "channel" or "everyone": invisible, no line break, and the word no
	// longer follows the '@'.
	mrkdwnWordJoiner = "\u2060"
	// mrkdwnLiteral starts a date token with an invalid format, which Slack
	// shows as its fallback text (after the '|', up to '>') without any
	// formatting: mrkdwn's only way to show a literal '*', '_', '~' or '`'
	// that would otherwise pair up (found and tested by jsx-slack).
	mrkdwnLiteral = "<!date^00000000^{_}|"
)

// mrkdwnFinish turns the renderer's buffer into mrkdwn: mrkdwnMarkers
// places the renderer's markers, then mrkdwnLiterals neutralises the
// markers of the text that Slack could pair up.
func mrkdwnFinish(buf []byte) []byte {
	return mrkdwnLiterals(mrkdwnMarkers(buf))
}

// mrkdwnMarkers places the renderer's markers. Outside code and link
// targets it
//
//   - puts a zero width space outside a marker that touches a letter,
//     digit, symbol or non-ASCII punctuation ("foo**bar**" becomes
//     "foo\u200b*bar*"), where Slack would see no word boundary;
//   - moves leading and trailing spaces out of a marked span and drops a
//     marked span with nothing but spaces in it, which Slack would show as
//     bare markers;
//   - puts a zero width space before "&gt;" at the start of a line, which
//     Slack would take for a quote;
//   - puts a word joiner after the '@' of @here, @channel and @everyone.
//
// The result keeps the sentinels but mrkdwnOpenMark and mrkdwnCloseMark: each marker of
// the renderer is preceded by mrkdwnOursMark.
func mrkdwnMarkers(buf []byte) []byte {
	out := make([]byte, 0, len(buf)+len(buf)/16+8)
	// opened is a marker of the renderer still open: at is where it starts
	// in out (with its zero width space), ours where its mrkdwnOursMark is.
	type opened struct{ at, ours int }
	var opens []opened
	verbatim := false
	lineStart := 0
	for i := 0; i < len(buf); {
		c := buf[i]
		if verbatim && c < mrkdwnOpenMark {
			j := i + 1
			for j < len(buf) && buf[j] < mrkdwnOpenMark {
				j++
			}
			out = append(out, buf[i:j]...)
			i = j
			continue
		}
		switch c {
		case mrkdwnVerbatimMark, mrkdwnTextMark, mrkdwnLabelMark:
			verbatim = c == mrkdwnVerbatimMark
			out = append(out, c)
			i++
		case mrkdwnOpenMark:
			at := len(out)
			if !mrkdwnBoundary(mrkdwnLastRune(out)) {
				out = append(out, mrkdwnZWSP...)
			}
			opens = append(opens, opened{at, len(out)})
			out = append(out, mrkdwnOursMark, buf[i+1])
			i += 2
		case mrkdwnCloseMark:
			m := buf[i+1]
			i += 2
			o := opens[len(opens)-1]
			opens = opens[:len(opens)-1]
			content := out[o.ours+2:]
			lead := mrkdwnBlankPrefix(content)
			if lead == len(content) {
				out = out[:o.at+copy(out[o.at:], content)]
				continue
			}
			if lead > 0 {
				opener := string(out[o.at : o.ours+2])
				copy(out[o.at:], content[:lead])
				copy(out[o.at+lead:], opener)
			}
			trail := mrkdwnBlankSuffix(out)
			tail := string(out[len(out)-trail:])
			out = append(out[:len(out)-trail], mrkdwnOursMark, m)
			if next, _ := mrkdwnNextRune(buf, i); trail == 0 && !mrkdwnBoundary(next) {
				out = append(out, mrkdwnZWSP...)
			}
			out = append(out, tail...)
		case '@':
			out = append(out, c)
			if mrkdwnMentionAt(buf[i+1:], mrkdwnLastRune(out[:len(out)-1])) {
				out = append(out, mrkdwnWordJoiner...)
			}
			i++
		case '&':
			if string(buf[i:min(len(buf), i+4)]) == "&gt;" && mrkdwnOnlyBar(out[lineStart:]) {
				out = append(out, mrkdwnZWSP...)
			}
			out = append(out, c)
			i++
		case '\n':
			out = append(out, c)
			lineStart = len(out)
			i++
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}

// mrkdwnLastRune returns the last rune of b, skipping sentinels, or ' '
// for the start of the text.
func mrkdwnLastRune(b []byte) rune {
	for len(b) > 0 && b[len(b)-1] >= mrkdwnOpenMark {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return ' '
	}
	r, _ := utf8.DecodeLastRune(b)
	return r
}

// mrkdwnNextRune returns the rune at buf[i] skipping the verbatim and
// label sentinels, or ' ' at the end. A marker of the renderer gives its
// byte and marker.
func mrkdwnNextRune(buf []byte, i int) (r rune, marker bool) {
	for i < len(buf) && (buf[i] == mrkdwnVerbatimMark || buf[i] == mrkdwnTextMark || buf[i] == mrkdwnLabelMark) {
		i++
	}
	switch {
	case i >= len(buf):
		return ' ', false
	case buf[i] == mrkdwnOpenMark || buf[i] == mrkdwnCloseMark:
		return rune(buf[i+1]), true
	}
	r, _ = utf8.DecodeRune(buf[i:])
	return r, false
}

// mrkdwnIsBlank reports whether r is a space, which may not start or end
// a marked span.
func mrkdwnIsBlank(r rune) bool {
	return unicode.IsSpace(r)
}

// mrkdwnBlankPrefix returns the length of the blank runes starting b.
func mrkdwnBlankPrefix(b []byte) int {
	n := 0
	for n < len(b) {
		r, size := utf8.DecodeRune(b[n:])
		if !mrkdwnIsBlank(r) {
			break
		}
		n += size
	}
	return n
}

// mrkdwnBlankSuffix returns the length of the blank runes ending b.
func mrkdwnBlankSuffix(b []byte) int {
	n := 0
	for n < len(b) {
		r, size := utf8.DecodeLastRune(b[:len(b)-n])
		if !mrkdwnIsBlank(r) {
			break
		}
		n += size
	}
	return n
}

// mrkdwnOnlyBar reports whether line, the start of an output line, is
// empty or only a quote bar and spaces.
func mrkdwnOnlyBar(line []byte) bool {
	if len(line) > 0 && line[0] == '>' {
		line = line[1:]
	}
	return mrkdwnBlankPrefix(line) == len(line)
}

// mrkdwnMentionAt reports whether rest, the text after an '@' that comes
// after prev, starts with a word Slack could turn into a broadcast
// mention: here, channel or everyone, in any case, as a whole word and
// not inside an address like "ops@here.example".
func mrkdwnMentionAt[T string | []byte](rest T, prev rune) bool {
	if prev == '.' || prev == '-' || prev == '+' || unicode.IsLetter(prev) || unicode.IsDigit(prev) || unicode.IsMark(prev) {
		return false
	}
	for _, word := range [...]string{"here", "channel", "everyone"} {
		if len(rest) < len(word) || !gfm.HasPrefixFold(string(rest[:len(word)]), word) {
			continue
		}
		after, _ := utf8.DecodeRuneInString(string(rest[len(word):min(len(rest), len(word)+utf8.UTFMax)]))
		if after == '_' || unicode.IsLetter(after) || unicode.IsDigit(after) {
			continue
		}
		return true
	}
	return false
}

// mrkdwnAppendCode appends a line of code escaped, with a zero width space
// after every second backtick of a longer run, so no "```" ends the block.
func mrkdwnAppendCode(dst []byte, line string) []byte {
	run := 0
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != '`' {
			run = 0
			if c == '&' || c == '<' || c == '>' {
				dst = gfm.AppendEscaped(dst, line[i:i+1])
				continue
			}
			dst = append(dst, c)
			continue
		}
		if run == 2 {
			dst = append(dst, mrkdwnZWSP...)
			run = 0
		}
		dst = append(dst, c)
		run++
	}
	return dst
}

// mrkdwnBoundary reports whether a marker next to r needs no zero width
// space to be at a word boundary: r is a space or ASCII punctuation.
// Anything else gets one, which costs nothing where it was not needed.
func mrkdwnBoundary(r rune) bool {
	if r < utf8.RuneSelf {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}
	return unicode.IsSpace(r) || r == '\u200b' || r == '\u2060'
}
