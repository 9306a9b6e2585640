package gfm

// This file holds what every renderer does the same way: Markdown text to
// characters, the three escapes chat markups share, link destinations,
// and tables laid out as aligned text.

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/util"
)

// AppendEscaped appends s with & < > escaped: text as HTML and Slack
// mrkdwn both need it (neither has other entities).
func AppendEscaped[T string | []byte](dst []byte, s T) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		default:
			continue
		}
		dst = append(dst, s[last:i]...)
		dst = append(dst, esc...)
		last = i + 1
	}
	return append(dst, s[last:]...)
}

// AppendText appends the characters Markdown text s stands for: a
// backslash before ASCII punctuation is dropped and entity
// references (&copy; &#169; &#xA9;) become their characters, as
// CommonMark says and goldmark's own renderer does at render time. With
// escape, the result is escaped by AppendEscaped, so the only entities
// in the output are &amp; &lt; and &gt;.
func AppendText(dst, s []byte, escape bool) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var chars []byte
		var utf [utf8.UTFMax]byte
		n := 0
		switch s[i] {
		case '\\':
			if i+1 < len(s) && util.IsPunct(s[i+1]) {
				chars, n = s[i+1:i+2], 2
			}
		case '&':
			var r rune
			chars, r, n = entity(s[i:])
			if chars == nil && n > 0 {
				chars = utf8.AppendRune(utf[:0], r)
			}
		}
		if n == 0 {
			continue
		}
		dst = appendMaybeEscaped(dst, s[last:i], escape)
		dst = appendMaybeEscaped(dst, chars, escape)
		i += n - 1
		last = i + 1
	}
	return appendMaybeEscaped(dst, s[last:], escape)
}

// appendMaybeEscaped appends s, escaped for HTML if escape is set.
func appendMaybeEscaped(dst, s []byte, escape bool) []byte {
	if escape {
		return AppendEscaped(dst, s)
	}
	return append(dst, s...)
}

// entity decodes a CommonMark entity reference (named, giving
// chars) or numeric character reference (giving r) at the start of s, and
// returns its length n, or n == 0 when there is none. Invalid code points
// become U+FFFD, as CommonMark says.
func entity(s []byte) (chars []byte, r rune, n int) {
	j := 1
	for j < len(s) && j <= 33 && (util.IsAlphaNumeric(s[j]) || (j == 1 && s[j] == '#')) {
		j++
	}
	if j >= len(s) || s[j] != ';' || j == 1 {
		return nil, 0, 0
	}
	name := s[1:j]
	if name[0] != '#' {
		if e, ok := util.LookUpHTML5EntityByName(string(name)); ok {
			return e.Characters, 0, j + 1
		}
		return nil, 0, 0
	}
	base, digits, maxDigits := 10, name[1:], 7
	if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
		base, digits, maxDigits = 16, digits[1:], 6
	}
	if len(digits) == 0 || len(digits) > maxDigits {
		return nil, 0, 0
	}
	v, err := strconv.ParseUint(string(digits), base, 32)
	if err != nil {
		return nil, 0, 0
	}
	return nil, util.ToValidRune(rune(v)), j + 1
}

// Destination resolves the backslash escapes and entity references of
// a link destination as written in the source.
func Destination(raw []byte) string {
	return string(util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(raw))))
}

// HasPrefixFold reports whether s starts with the ASCII prefix, in any
// case.
func HasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// TextWidth estimates how many columns s takes in a monospace font:
// East Asian wide characters and emoji take two, combining marks,
// variation selectors, skin tones and characters after a zero-width
// joiner take none. Chat apps' fonts make this approximate anyway.
func TextWidth(s string) int {
	w := 0
	joined := false
	for _, c := range s {
		switch {
		case joined:
			joined = false
		case c == '\u200d':
			joined = true
		case c < 0x300:
			w++
		case unicode.Is(unicode.Mn, c), unicode.Is(unicode.Me, c), unicode.Is(unicode.Cf, c),
			0xfe00 <= c && c <= 0xfe0f, 0x1f3fb <= c && c <= 0x1f3ff, 0xe0000 <= c && c <= 0xe007f:
		case wide(c):
			w += 2
		default:
			w++
		}
	}
	return w
}

// wide reports whether c is an East Asian wide or fullwidth character
// or an emoji, by the main blocks (a full table is not worth it here).
func wide(c rune) bool {
	switch {
	case 0x1100 <= c && c <= 0x115f, 0x2e80 <= c && c <= 0xa4cf && c != 0x303f,
		0xac00 <= c && c <= 0xd7a3, 0xf900 <= c && c <= 0xfaff, 0xfe30 <= c && c <= 0xfe4f,
		0xff00 <= c && c <= 0xff60, 0xffe0 <= c && c <= 0xffe6,
		0x1f300 <= c && c <= 0x1f64f, 0x1f680 <= c && c <= 0x1f6ff, 0x1f900 <= c && c <= 0x1faff,
		0x20000 <= c && c <= 0x3fffd:
		return true
	}
	return false
}

// Plain appends the text of n's inline content to dst, unescaped and
// without markup, link targets in parentheses after their text: the form
// a table cell takes in a code block. src is the parsed source.
func Plain(dst, src []byte, n ast.Node) []byte {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			v := c.Segment.Value(src)
			if c.IsRaw() {
				dst = append(dst, v...)
			} else {
				dst = AppendText(dst, v, false)
			}
			if c.SoftLineBreak() || c.HardLineBreak() {
				dst = append(dst, ' ')
			}
		case *ast.String:
			if c.IsCode() || c.IsRaw() {
				dst = append(dst, c.Value...)
			} else {
				dst = AppendText(dst, c.Value, false)
			}
		case *ast.CodeSpan:
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				if t, ok := t.(*ast.Text); ok {
					dst = append(dst, strings.TrimSuffix(string(t.Segment.Value(src)), "\n")...)
				}
			}
		case *ast.Link, *ast.Image:
			var raw []byte
			if l, ok := c.(*ast.Link); ok {
				raw = l.Destination
			} else {
				raw = c.(*ast.Image).Destination
			}
			mark := len(dst)
			dst = Plain(dst, src, c)
			dest := Destination(raw)
			if dest != "" && dest != string(dst[mark:]) && !strings.HasPrefix(strings.ToLower(dest), "data:") {
				dst = append(dst, " ("...)
				dst = append(dst, dest...)
				dst = append(dst, ')')
			}
		case *ast.AutoLink:
			dst = append(dst, c.Label(src)...)
		case *ast.RawHTML:
			for i := range c.Segments.Len() {
				seg := c.Segments.At(i)
				dst = append(dst, seg.Value(src)...)
			}
		case *east.TaskCheckBox:
			if c.IsChecked {
				dst = append(dst, "☑ "...)
			} else {
				dst = append(dst, "☐ "...)
			}
		default:
			dst = Plain(dst, src, c)
		}
	}
	return dst
}

// MaxColumn caps a table column's width in TableLines: one long cell would
// pad every other row of a long table to its width.
const MaxColumn = 40

// TableLines lays a GFM table out as text lines of pipe-separated cells,
// padded to a common width per column (at most MaxColumn, by TextWidth),
// aligned as the delimiter row says, with a dashed rule under the header.
// Cells are Plain text on one line; nothing is escaped. A table without
// cells has no lines.
func TableLines(src []byte, t *east.Table) []string {
	var rows [][]string
	ncol := 0
	oneLine := strings.NewReplacer("\n", " ", "\r", " ")
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		var cells []string
		for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
			// A cell is one line of the table, whatever raw HTML it held.
			cells = append(cells, oneLine.Replace(string(Plain(nil, src, cell))))
		}
		ncol = max(ncol, len(cells))
		rows = append(rows, cells)
	}
	if ncol == 0 {
		return nil
	}
	widths := make([]int, ncol)
	for _, cells := range rows {
		for i, c := range cells {
			widths[i] = max(widths[i], min(MaxColumn, TextWidth(c)))
		}
	}
	var lines []string
	var b strings.Builder
	for i, cells := range rows {
		b.Reset()
		b.WriteByte('|')
		for j := range ncol {
			var cell string
			if j < len(cells) {
				cell = cells[j]
			}
			align := east.AlignNone
			if j < len(t.Alignments) {
				align = t.Alignments[j]
			}
			pad := max(0, widths[j]-TextWidth(cell))
			left := 0
			switch align {
			case east.AlignRight:
				left = pad
			case east.AlignCenter:
				left = pad / 2
			}
			b.WriteString(" " + strings.Repeat(" ", left) + cell + strings.Repeat(" ", pad-left) + " |")
		}
		lines = append(lines, b.String())
		if _, ok := t.FirstChild().(*east.TableHeader); ok && i == 0 {
			b.Reset()
			b.WriteByte('|')
			for _, w := range widths {
				b.WriteString(strings.Repeat("-", w+2) + "|")
			}
			lines = append(lines, b.String())
		}
	}
	return lines
}
