package slack

// This file renders code: code spans, code blocks, and tables, which
// mrkdwn does not have, as code blocks with aligned columns.

import (
	"bytes"
	"strings"
	"unicode"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
)

// codeSpan renders `code`, escaped but otherwise verbatim. mrkdwn code
// cannot hold a backtick, and a link's text is plain, so code with a
// backtick, code of spaces only and code in a link are shown as text.
func (r *mrkdwnRenderer) codeSpan(n *ast.CodeSpan) {
	var code []byte
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		var v []byte
		switch c := c.(type) {
		case *ast.Text:
			v = c.Segment.Value(r.src)
		case *ast.String:
			v = c.Value
		}
		// A line end inside a code span is a space (CommonMark).
		if len(v) > 0 && v[len(v)-1] == '\n' {
			code = append(append(code, v[:len(v)-1]...), ' ')
			continue
		}
		code = append(code, v...)
	}
	if r.link > 0 || bytes.IndexByte(code, '`') >= 0 || len(bytes.Trim(code, " ")) == 0 {
		r.buf = mrkdwnAppendEscaped(r.buf, code)
		return
	}
	r.buf = append(r.buf, mrkdwnOpenMark, '`', mrkdwnVerbatimMark)
	r.buf = mrkdwnAppendEscaped(r.buf, code)
	r.buf = append(r.buf, mrkdwnTextMark, mrkdwnCloseMark, '`')
}

// codeBlock renders a fenced or indented code block as a ``` block on
// lines of its own. mrkdwn has no syntax highlighting, so the language is
// dropped. The code is verbatim but for the escapes of & < > and a zero
// width space in any run of three backticks, which would end the block.
// An empty block renders nothing, so a reply that is only "```go" stays
// empty rather than showing a bare fence.
func (r *mrkdwnRenderer) codeBlock(n ast.Node) {
	lines := n.Lines()
	var code []byte
	for i := range lines.Len() {
		line := lines.At(i)
		code = append(code, line.Value(r.src)...)
	}
	// The last line's '\n' would show as an empty line in the block.
	code = []byte(strings.TrimSuffix(string(code), "\n"))
	if len(code) == 0 {
		return
	}
	r.fence(strings.Split(string(code), "\n"))
}

// fence writes lines as a ``` block, each line after the quote bar when
// inside a quote. The block starts a line of its own, without list
// indentation: after a list item's bullet it starts on the next line.
func (r *mrkdwnRenderer) fence(lines []string) {
	lineStart := bytes.LastIndexByte(r.buf, '\n') + 1
	if len(bytes.Trim(r.buf[lineStart:], "> ")) > 0 {
		r.codeLineBreak()
	} else {
		r.buf = r.buf[:lineStart]
		if r.quote > 0 {
			r.buf = append(r.buf, "> "...)
		}
	}
	r.buf = append(r.buf, mrkdwnVerbatimMark)
	r.buf = append(r.buf, "```"...)
	r.buf = append(r.buf, mrkdwnTextMark)
	for _, line := range lines {
		r.codeLineBreak()
		r.buf = append(r.buf, mrkdwnVerbatimMark)
		r.buf = mrkdwnAppendCode(r.buf, line)
		r.buf = append(r.buf, mrkdwnTextMark)
	}
	r.codeLineBreak()
	r.buf = append(r.buf, mrkdwnVerbatimMark)
	r.buf = append(r.buf, "```"...)
	r.buf = append(r.buf, mrkdwnTextMark)
}

// codeLineBreak starts a line of a ``` block: no list indentation, which
// would become part of the code, but the quote bar if any.
func (r *mrkdwnRenderer) codeLineBreak() {
	r.buf = append(r.buf, '\n')
	if r.quote > 0 {
		r.buf = append(r.buf, "> "...)
	}
}

// mrkdwnMaxColumn caps the width a table column is padded to, in display
// columns. A wider cell overflows its column instead; without the cap one
// long cell would pad every other row of a long table to its width.
const mrkdwnMaxColumn = 40

// table renders a GFM table as a ``` block of pipe-separated rows with the
// columns padded to a common width, aligned as the delimiter row says, and
// a dashed rule under the header. Inline markup in cells is dropped (a
// code block cannot hold it); link targets follow their text in
// parentheses.
func (r *mrkdwnRenderer) table(t *east.Table) {
	var rows [][]string
	ncol := 0
	for row := t.FirstChild(); row != nil; row = row.NextSibling() {
		var cells []string
		for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
			// A cell is one line of the table, whatever raw HTML it held.
			cells = append(cells, strings.NewReplacer("\n", " ", "\r", " ").Replace(string(r.plain(nil, cell))))
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
			widths[i] = max(widths[i], min(mrkdwnMaxColumn, mrkdwnTextWidth(c)))
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
			pad := max(0, widths[j]-mrkdwnTextWidth(cell))
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
	r.fence(lines)
}

// plain appends the text of n's inline content to dst, unescaped and
// without markup: the form a table cell takes inside a code block.
func (r *mrkdwnRenderer) plain(dst []byte, n ast.Node) []byte {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			v := c.Segment.Value(r.src)
			if c.IsRaw() {
				dst = append(dst, v...)
			} else {
				dst = mrkdwnAppendText(dst, v, false)
			}
			if c.SoftLineBreak() || c.HardLineBreak() {
				dst = append(dst, ' ')
			}
		case *ast.String:
			if c.IsCode() || c.IsRaw() {
				dst = append(dst, c.Value...)
			} else {
				dst = mrkdwnAppendText(dst, c.Value, false)
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
			dest := mrkdwnDestination(raw)
			if dest != "" && dest != string(dst[mark:]) && !mrkdwnHasPrefixFold(dest, "data:") {
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

// mrkdwnTextWidth estimates how many columns s takes in a monospace font:
// East Asian wide characters and emoji take two, combining marks,
// variation selectors, skin tones and characters after a zero-width
// joiner take none. Slack's fonts make this approximate anyway.
func mrkdwnTextWidth(s string) int {
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
		case mrkdwnWide(c):
			w += 2
		default:
			w++
		}
	}
	return w
}

// mrkdwnWide reports whether c is an East Asian wide or fullwidth
// character or an emoji, by the main blocks (a full table is not worth it
// here).
func mrkdwnWide(c rune) bool {
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
