package telegram

// This file renders the blocks that become <pre>: code blocks, and tables,
// which Telegram does not have, as text with aligned columns.

import (
	"strings"
	"unicode"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
)

// codeBlock renders a code block as <pre>, with the language on an inner
// <code> as Telegram wants it. Without a language a bare <pre> is sent:
// tdlib would otherwise make a pre and a code entity over the same text
// and have to drop one. An empty block renders nothing (Telegram drops
// empty entities anyway, and a reply that is only "```" stays empty).
func (r *htmlRenderer) codeBlock(n ast.Node, lang string) {
	mark := len(r.buf)
	if lang != "" {
		r.buf = append(r.buf, `<pre><code class="language-`...)
		r.buf = append(r.buf, lang...)
		r.buf = append(r.buf, `">`...)
	} else {
		r.buf = append(r.buf, "<pre>"...)
	}
	start := len(r.buf)
	lines := n.Lines()
	for i := range lines.Len() {
		line := lines.At(i)
		r.buf = htmlAppendEscaped(r.buf, line.Value(r.src))
	}
	// The last line's '\n' would show as an empty line in the block.
	if len(r.buf) > start && r.buf[len(r.buf)-1] == '\n' {
		r.buf = r.buf[:len(r.buf)-1]
	}
	if len(r.buf) == start {
		r.buf = r.buf[:mark]
		return
	}
	if lang != "" {
		r.buf = append(r.buf, "</code></pre>"...)
	} else {
		r.buf = append(r.buf, "</pre>"...)
	}
}

// htmlLanguage turns a fence's info word into a class name Telegram and
// clients understand: only [A-Za-z0-9_+-] are kept, '#' becomes "sharp"
// ("c#" is "csharp" in highlighters), and it is cut at 32 bytes.
func htmlLanguage(info []byte) string {
	var b []byte
	for _, c := range info {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '+', c == '-':
			b = append(b, c)
		case c == '#':
			b = append(b, "sharp"...)
		}
		if len(b) >= 32 {
			return string(b[:32])
		}
	}
	return string(b)
}

// htmlMaxColumn caps the width a table column is padded to, in display
// columns. A wider cell overflows its column instead; without the cap one
// long cell would pad every other row of a long table to its width.
const htmlMaxColumn = 40

// table renders a GFM table as a <pre> block of pipe-separated rows with
// the columns padded to a common width, aligned as the delimiter row says,
// and a dashed rule under the header. Inline markup in cells is dropped
// (a <pre> cannot hold tags); link targets follow their text in
// parentheses.
func (r *htmlRenderer) table(t *east.Table) {
	var rows [][]string
	ncol := 0
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		var cells []string
		for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
			// A cell is one line of the table, whatever raw HTML it held.
			cells = append(cells, strings.ReplaceAll(string(r.plain(nil, cell)), "\n", " "))
		}
		ncol = max(ncol, len(cells))
		rows = append(rows, cells)
	}
	if ncol == 0 {
		return
	}
	widths := make([]int, ncol)
	for _, cells := range rows {
		for i, c := range cells {
			widths[i] = max(widths[i], min(htmlMaxColumn, htmlTextWidth(c)))
		}
	}
	r.buf = append(r.buf, "<pre>"...)
	for i, cells := range rows {
		if i > 0 {
			r.buf = append(r.buf, '\n')
		}
		r.buf = append(r.buf, '|')
		for j := range ncol {
			var cell string
			if j < len(cells) {
				cell = cells[j]
			}
			align := east.AlignNone
			if j < len(t.Alignments) {
				align = t.Alignments[j]
			}
			pad := max(0, widths[j]-htmlTextWidth(cell))
			left := 0
			switch align {
			case east.AlignRight:
				left = pad
			case east.AlignCenter:
				left = pad / 2
			}
			r.buf = append(r.buf, ' ')
			r.buf = htmlAppendSpaces(r.buf, left)
			r.buf = htmlAppendEscaped(r.buf, cell)
			r.buf = htmlAppendSpaces(r.buf, pad-left)
			r.buf = append(r.buf, " |"...)
		}
		if _, ok := t.FirstChild().(*east.TableHeader); ok && i == 0 {
			r.buf = append(r.buf, "\n|"...)
			for _, w := range widths {
				r.buf = append(r.buf, strings.Repeat("-", w+2)...)
				r.buf = append(r.buf, '|')
			}
		}
	}
	r.buf = append(r.buf, "</pre>"...)
}

// htmlAppendSpaces appends n spaces.
func htmlAppendSpaces(b []byte, n int) []byte {
	for range n {
		b = append(b, ' ')
	}
	return b
}

// plain appends the text of n's inline content to dst, unescaped and
// without markup: the form a table cell takes inside <pre>.
func (r *htmlRenderer) plain(dst []byte, n ast.Node) []byte {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			v := c.Segment.Value(r.src)
			if c.IsRaw() {
				dst = append(dst, v...)
			} else {
				dst = htmlAppendMarkdownText(dst, v, false)
			}
			if c.SoftLineBreak() || c.HardLineBreak() {
				dst = append(dst, ' ')
			}
		case *ast.String:
			if c.IsCode() || c.IsRaw() {
				dst = append(dst, c.Value...)
			} else {
				dst = htmlAppendMarkdownText(dst, c.Value, false)
			}
		case *ast.CodeSpan:
			for t := c.FirstChild(); t != nil; t = t.NextSibling() {
				if t, ok := t.(*ast.Text); ok {
					dst = append(dst, strings.TrimSuffix(string(t.Segment.Value(r.src)), "\n")...)
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
			dst = r.plain(dst, c)
			dest := htmlDestination(raw)
			if dest != "" && dest != string(dst[mark:]) && !strings.HasPrefix(strings.ToLower(dest), "data:") {
				dst = append(dst, " ("...)
				dst = append(dst, dest...)
				dst = append(dst, ')')
			}
		case *ast.AutoLink:
			dst = append(dst, c.Label(r.src)...)
		case *ast.RawHTML:
			for i := range c.Segments.Len() {
				seg := c.Segments.At(i)
				dst = append(dst, seg.Value(r.src)...)
			}
		case *east.TaskCheckBox:
			if c.IsChecked {
				dst = append(dst, "☑ "...)
			} else {
				dst = append(dst, "☐ "...)
			}
		default:
			dst = r.plain(dst, c)
		}
	}
	return dst
}

// htmlTextWidth estimates how many columns s takes in a monospace font:
// East Asian wide characters and emoji take two, combining marks,
// variation selectors, skin tones and characters after a zero-width
// joiner take none. Telegram's fonts make this approximate anyway.
func htmlTextWidth(s string) int {
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
		case htmlWide(c):
			w += 2
		default:
			w++
		}
	}
	return w
}

// htmlWide reports whether c is an East Asian wide or fullwidth character
// or an emoji, by the main blocks (a full table is not worth it here).
func htmlWide(c rune) bool {
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
