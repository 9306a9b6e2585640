package telegram

// This file renders the blocks that become <pre>: code blocks, and tables,
// which Telegram does not have, as text with aligned columns.

import (
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"
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
		r.buf = gfm.AppendEscaped(r.buf, line.Value(r.src))
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

// table renders a GFM table as a <pre> block of pipe-separated rows with
// the columns padded to a common width, aligned as the delimiter row says,
// and a dashed rule under the header. Inline markup in cells is dropped
// (a <pre> cannot hold tags); link targets follow their text in
// parentheses.
func (r *htmlRenderer) table(t *east.Table) {
	lines := gfm.TableLines(r.src, t)
	if len(lines) == 0 {
		return
	}
	r.buf = append(r.buf, "<pre>"...)
	r.buf = gfm.AppendEscaped(r.buf, strings.Join(lines, "\n"))
	r.buf = append(r.buf, "</pre>"...)
}
