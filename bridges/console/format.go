package console

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SGR sequences Render may add in TTY mode. They are the only escape
// sequences the bridge's output ever contains besides its own cursor
// movement; everything from the model is neutralised first.
const (
	sgrBold   = "\x1b[1m"
	sgrDim    = "\x1b[2m"
	sgrNormal = "\x1b[22m" // ends both bold and dim
)

// Render turns the engine's CommonMark into what the terminal shows. The
// text stays Markdown, which reads well as it is. In both modes control
// characters are neutralised, so model output can never move the cursor,
// clear the screen, set the window title or ring the bell: C0 controls
// other than "\n" and "\t" show as their Unicode pictures (ESC as "␛"),
// DEL as "␡", C1 controls and invalid UTF-8 as U+FFFD, and "\r\n" becomes
// "\n".
//
// With tty false that is all: the result equals the input for any text
// without control characters. With tty true, ATX headings and
// **strong** spans are also shown bold and code fence lines dim; every
// style ends on the line it starts, and Markdown inside fenced code and
// inline code is left alone. Render is pure and safe for concurrent use.
func Render(markdown string, tty bool) string {
	s := sanitize(markdown)
	if !tty {
		return s
	}
	lines := strings.Split(s, "\n")
	var fence string // the open fence's marker ("```", "~~~~"), or ""
	for i, line := range lines {
		if marker, rest := fenceMarker(line); marker != "" {
			switch {
			case fence == "":
				fence = marker
			case marker[0] == fence[0] && len(marker) >= len(fence) && strings.TrimSpace(rest) == "":
				fence = ""
			default:
				continue // another fence inside a code block is code
			}
			lines[i] = sgrDim + line + sgrNormal
			continue
		}
		switch {
		case fence != "":
		case isHeading(line):
			lines[i] = sgrBold + line + sgrNormal
		default:
			lines[i] = boldStrong(line)
		}
	}
	return strings.Join(lines, "\n")
}

// sanitize replaces what a terminal would interpret instead of print: C0
// controls other than "\n" and "\t" become their visible Unicode pictures
// (ESC shows as "␛", so an attempted escape sequence is visible and inert),
// DEL becomes "␡", C1 controls (U+0080–U+009F, which some terminals take as
// CSI or OSC) and invalid UTF-8 bytes become U+FFFD, and "\r\n" becomes
// "\n". Text without any of these is returned unchanged. Pure.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsReplacing(r, size) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case !needsReplacing(r, size):
			b.WriteString(s[i-size : i])
		case r == '\r' && i < len(s) && s[i] == '\n':
			// CRLF: the "\n" that follows is written next.
		case r < 0x20:
			b.WriteRune(0x2400 + r) // U+2400 CONTROL PICTURES
		case r == 0x7f:
			b.WriteRune('\u2421')
		default: // C1 control or an invalid byte
			b.WriteRune(utf8.RuneError)
		}
	}
	return b.String()
}

func needsReplacing(r rune, size int) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	default:
		return r == utf8.RuneError && size == 1
	}
}

// fenceMarker returns the fence ("```", "~~~", or longer) that opens or
// closes a code block on this line and what follows it (the info string),
// or "" when the line is not a fence.
func fenceMarker(line string) (marker, rest string) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 || len(t) < 3 || (t[0] != '`' && t[0] != '~') {
		return "", ""
	}
	n := 0
	for n < len(t) && t[n] == t[0] {
		n++
	}
	if n < 3 || (t[0] == '`' && strings.Contains(t[n:], "`")) {
		return "", ""
	}
	return t[:n], t[n:]
}

// isHeading reports whether line is an ATX heading ("# Title" to "###### Title").
func isHeading(line string) bool {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return false
	}
	n := 0
	for n < len(t) && t[n] == '#' {
		n++
	}
	return n >= 1 && n <= 6 && (n == len(t) || t[n] == ' ' || t[n] == '\t')
}

// boldStrong shows **strong** spans of one line bold, markers included.
// Pairs are matched left to right outside inline code; an unpaired "**"
// (a span still streaming) stays plain.
func boldStrong(line string) string {
	if !strings.Contains(line, "**") {
		return line
	}
	var marks []int // byte offsets of "**" outside code spans
	for i := 0; i < len(line); {
		switch {
		case line[i] == '`':
			n := 1
			for i+n < len(line) && line[i+n] == '`' {
				n++
			}
			// Skip to the closing run of the same length, if any.
			closing := strings.Index(line[i+n:], line[i:i+n])
			if closing < 0 {
				i += n
			} else {
				i += n + closing + n
			}
		case strings.HasPrefix(line[i:], "**"):
			marks = append(marks, i)
			i += 2
		default:
			i++
		}
	}
	var b strings.Builder
	last := 0
	for k := 0; k+1 < len(marks); k += 2 {
		open, close := marks[k], marks[k+1]+2
		if close-open <= 4 { // "****": nothing to bold
			continue
		}
		b.WriteString(line[last:open])
		b.WriteString(sgrBold)
		b.WriteString(line[open:close])
		b.WriteString(sgrNormal)
		last = close
	}
	b.WriteString(line[last:])
	return b.String()
}

// rows counts the terminal rows text occupies when printed from column 0 of
// a terminal width columns wide, with deferred wrap as xterm and its kin do:
// a line of exactly width columns takes one row. Each "\n"-separated line
// takes at least one row. Escape sequences (only Render's SGR can occur)
// take no room. Wide runes (CJK, emoji) count two columns and combining
// marks none; a terminal that disagrees makes an in-place redraw misplaced,
// never the text lost.
func rows(text string, width int) int {
	if width < 1 {
		width = 1
	}
	total := 0
	for _, line := range strings.Split(text, "\n") {
		n, col := 1, 0
		for i := 0; i < len(line); {
			if line[i] == 0x1b { // CSI: ESC [ params final(0x40–0x7e)
				i++
				if i < len(line) && line[i] == '[' {
					i++
					for i < len(line) && (line[i] < 0x40 || line[i] > 0x7e) {
						i++
					}
				}
				i++
				continue
			}
			r, size := utf8.DecodeRuneInString(line[i:])
			i += size
			if r == '\t' {
				col = min((col/8+1)*8, max(col, width-1))
				continue
			}
			w := runeWidth(r)
			if w > 0 && col+w > width {
				n++
				col = 0
			}
			col += w
		}
		total += n
	}
	return total
}

// runeWidth is a rune's width in terminal columns: 0 for combining marks
// and format characters, 2 for East Asian wide and emoji blocks, else 1.
func runeWidth(r rune) int {
	switch {
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return 0
	case r >= 0x1100 && r <= 0x115f, // Hangul Jamo
		r >= 0x2e80 && r <= 0xa4cf && r != 0x303f, // CJK … Yi
		r >= 0xac00 && r <= 0xd7a3,                // Hangul syllables
		r >= 0xf900 && r <= 0xfaff,                // CJK compatibility ideographs
		r >= 0xfe30 && r <= 0xfe4f,                // CJK compatibility forms
		r >= 0xff00 && r <= 0xff60,                // fullwidth forms
		r >= 0xffe0 && r <= 0xffe6,                // fullwidth signs
		r >= 0x1f300 && r <= 0x1f64f,              // pictographs, emoticons
		r >= 0x1f900 && r <= 0x1f9ff,              // supplemental pictographs
		r >= 0x20000 && r <= 0x3fffd:              // CJK extensions
		return 2
	default:
		return 1
	}
}
