package telegram

// This file renders the model's CommonMark as Telegram's HTML subset
// (parse_mode=HTML). The parser is goldmark with the GFM extensions; the
// renderer is our own walk over its AST, because Telegram has no
// paragraphs, lists, headings or tables and allows only a few inline tags.
//
// Every edit of a streamed reply re-renders the whole text so far, so any
// prefix of a reply must render to HTML Telegram accepts. Goldmark already
// treats an unclosed "**" or "`" as literal text and an unclosed fence as a
// code block to the end; the walk below emits every start tag together
// with its end tag, so the output is balanced whatever the tree looks like.
//
// What Telegram accepts was taken from the Bot API "Formatting options"
// and from tdlib's parse_html: any '<' starts a tag, unknown tags are an
// error, '&' starts an entity, and of the named entities only &lt; &gt;
// &amp; &quot; exist. Nesting that breaks the documented rules (code inside
// a link, a quote inside a quote) is not an error but loses formatting, so
// the renderer avoids it too; ValidateHTML checks both.

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"
)

// RenderHTML renders markdown (CommonMark with GFM strikethrough, tables,
// autolinks and task lists) as Telegram HTML for parse_mode=HTML.
//
// The output uses only tags Telegram allows (b, i, s, code, pre, a,
// blockquote), is balanced and escaped, and passes ValidateHTML for any
// input: malformed Markdown, raw HTML, invalid UTF-8, or a reply cut
// anywhere while it streams. Raw HTML in the Markdown is shown as text,
// never passed through. The text of the document (words, code, raw HTML)
// is all visible in the output, in order. Link and image targets go to
// href when they are web or tg:// links Telegram accepts (see
// htmlAllowedURL), otherwise into parentheses after the link text.
//
// Output can be empty or all whitespace (for "```" or "# "), which
// Telegram refuses as an empty message; callers decide what to send then.
// RenderHTML is pure and safe for concurrent use. It takes time roughly
// linear in len(markdown) for text as models write it, about 120 µs for a
// 4 KB reply; deeply nested quotes or lists cost goldmark more.
func RenderHTML(markdown string) (html string) {
	src := gfm.Normalize(markdown)
	defer func() {
		// A panic inside the parser must not take down a reply: plain
		// escaped text is still valid HTML and loses nothing.
		if recover() != nil {
			html = string(gfm.AppendEscaped(nil, src))
		}
	}()
	source := []byte(src)
	doc := gfm.Parse(source)
	r := htmlRenderer{src: source, buf: make([]byte, 0, len(source)+len(source)/4+16)}
	r.blocks(doc, 2)
	return string(r.buf)
}

// PlainText returns markdown as it should be sent without parse_mode, when
// Telegram refused the HTML: the same characters, nothing dropped and no
// markup interpreted, since the Markdown source reads well enough as text.
// Only invalid UTF-8 is replaced by U+FFFD, as Telegram requires UTF-8
// (and encoding/json would replace it anyway).
func PlainText(markdown string) string {
	if utf8.ValidString(markdown) {
		return markdown
	}
	return strings.ToValidUTF8(markdown, "\uFFFD")
}

// htmlMaxIndent caps list indentation: deeper levels stay at this many
// spaces, so that a pathological nesting cannot blow up the output (and a
// phone screen has no room for more anyway).
const htmlMaxIndent = 20

// htmlRenderer is the state of one RenderHTML call.
type htmlRenderer struct {
	src []byte
	buf []byte

	// indent is the number of spaces written after each line break outside
	// code: the continuation indent of the list item being rendered.
	indent int

	// Depths of the open elements. Telegram merges same-type formatting,
	// so a nested <b> is left out; a link inside a link and a quote inside
	// a quote are not allowed at all, and code may not sit inside a link.
	bold, italic, strike, link, quote int
}

// lineBreak ends the line n times (n=2 leaves a blank line) and indents the
// next one.
func (r *htmlRenderer) lineBreak(n int) {
	for range n {
		r.buf = append(r.buf, '\n')
	}
	const spaces = "                    "
	r.buf = append(r.buf, spaces[:min(r.indent, htmlMaxIndent)]...)
}

// blocks renders the block children of parent, separated by sep line
// breaks. A child that renders nothing (an empty code block) takes its
// separator back, so no stray blank lines appear.
func (r *htmlRenderer) blocks(parent ast.Node, sep int) {
	first := true
	for c := parent.FirstChild(); c != nil; c = c.NextSibling() {
		mark := len(r.buf)
		if !first {
			if r.isBox(c) {
				// Telegram shows pre and blockquote on lines of their own;
				// indentation before them would only make a line of blanks.
				r.buf = append(r.buf, "\n\n"[:sep]...)
			} else {
				r.lineBreak(sep)
			}
		}
		start := len(r.buf)
		r.block(c)
		if len(r.buf) == start {
			r.buf = r.buf[:mark]
			continue
		}
		first = false
	}
}

// isBox reports whether n renders as a box of its own: a <pre> or a
// <blockquote>.
func (r *htmlRenderer) isBox(n ast.Node) bool {
	switch n.(type) {
	case *ast.FencedCodeBlock, *ast.CodeBlock, *east.Table:
		return true
	case *ast.Blockquote:
		return r.quote == 0
	}
	return false
}

// block renders one block node.
func (r *htmlRenderer) block(n ast.Node) {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		r.inlines(n)
	case *ast.Heading:
		// Telegram has no headings; a bold line reads as one.
		r.wrap("b", &r.bold, n)
	case *ast.ThematicBreak:
		r.buf = append(r.buf, "———"...)
	case *ast.FencedCodeBlock:
		r.codeBlock(n, htmlLanguage(n.Language(r.src)))
	case *ast.CodeBlock:
		r.codeBlock(n, "")
	case *ast.HTMLBlock:
		// Raw HTML is shown as the text the model wrote.
		r.textLines(n.Lines())
		if n.HasClosure() {
			r.lineBreak(1)
			r.buf = gfm.AppendEscaped(r.buf, strings.TrimSuffix(string(n.ClosureLine.Value(r.src)), "\n"))
		}
	case *ast.Blockquote:
		r.blockquote(n)
	case *ast.List:
		r.list(n)
	case *east.Table:
		r.table(n)
	case *ast.LinkReferenceDefinition:
		// "[r]: https://…" only lends its target to the links using it.
	default:
		if n.HasChildren() {
			r.blocks(n, 2)
		} else {
			r.textLines(n.Lines())
		}
	}
}

// textLines writes the lines of a leaf block as escaped text.
func (r *htmlRenderer) textLines(lines *text.Segments) {
	for i := range lines.Len() {
		if i > 0 {
			r.lineBreak(1)
		}
		line := lines.At(i)
		r.buf = gfm.AppendEscaped(r.buf, strings.TrimRight(string(line.Value(r.src)), "\n"))
	}
}

// blockquote renders a quote. Telegram cannot nest quotes, so an inner
// quote continues the outer one.
func (r *htmlRenderer) blockquote(n *ast.Blockquote) {
	if r.quote > 0 {
		r.blocks(n, 2)
		return
	}
	mark := len(r.buf)
	r.buf = append(r.buf, "<blockquote>"...)
	start := len(r.buf)
	r.quote++
	r.blocks(n, 2)
	r.quote--
	if len(r.buf) == start {
		r.buf = r.buf[:mark]
		return
	}
	r.buf = append(r.buf, "</blockquote>"...)
}

// list renders list items as lines starting with "• ", "1. ", or a
// checkbox for task items; nested lists and continuation lines are
// indented two spaces per level.
func (r *htmlRenderer) list(l *ast.List) {
	sep := 1
	if !l.IsTight {
		sep = 2
	}
	num := l.Start
	first := true
	for item := l.FirstChild(); item != nil; item = item.NextSibling() {
		if !first {
			r.lineBreak(sep)
		}
		first = false
		switch {
		case l.IsOrdered():
			r.buf = strconv.AppendInt(r.buf, int64(num), 10)
			r.buf = append(r.buf, l.Marker, ' ')
			num++
		case gfm.TaskBox(item) == nil:
			r.buf = append(r.buf, "• "...)
		}
		// An unordered task item shows its checkbox instead of the bullet:
		// the TaskCheckBox node renders it (see inline).
		r.indent += 2
		r.blocks(item, sep)
		r.indent -= 2
	}
}

// inlines renders the inline children of n.
func (r *htmlRenderer) inlines(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.inline(c)
	}
}

// wrap renders n's children inside <tag>, unless an enclosing element of
// the same kind (depth > 0) already applies it. Empty content renders no
// tags at all.
func (r *htmlRenderer) wrap(tag string, depth *int, n ast.Node) {
	mark := len(r.buf)
	if *depth == 0 {
		r.buf = append(r.buf, '<')
		r.buf = append(r.buf, tag...)
		r.buf = append(r.buf, '>')
	}
	start := len(r.buf)
	*depth++
	r.inlines(n)
	*depth--
	if *depth > 0 {
		return
	}
	if len(r.buf) == start {
		r.buf = r.buf[:mark]
		return
	}
	r.buf = append(r.buf, "</"...)
	r.buf = append(r.buf, tag...)
	r.buf = append(r.buf, '>')
}

// inline renders one inline node.
func (r *htmlRenderer) inline(n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		v := n.Segment.Value(r.src)
		if n.IsRaw() {
			r.buf = gfm.AppendEscaped(r.buf, v)
		} else {
			r.buf = gfm.AppendText(r.buf, v, true)
		}
		if n.HardLineBreak() || n.SoftLineBreak() {
			r.lineBreak(1)
		}
	case *ast.String:
		if n.IsCode() || n.IsRaw() {
			r.buf = gfm.AppendEscaped(r.buf, n.Value)
		} else {
			r.buf = gfm.AppendText(r.buf, n.Value, true)
		}
	case *ast.CodeSpan:
		r.codeSpan(n)
	case *ast.Emphasis:
		if n.Level >= 2 {
			r.wrap("b", &r.bold, n)
		} else {
			r.wrap("i", &r.italic, n)
		}
	case *east.Strikethrough:
		r.wrap("s", &r.strike, n)
	case *ast.Link:
		r.linkTo(n, gfm.Destination(n.Destination))
	case *ast.Image:
		r.linkTo(n, gfm.Destination(n.Destination))
	case *ast.AutoLink:
		r.autoLink(n)
	case *ast.RawHTML:
		// Shown as typed: the model's "<b>" is text, not markup.
		for i := range n.Segments.Len() {
			seg := n.Segments.At(i)
			r.buf = gfm.AppendEscaped(r.buf, seg.Value(r.src))
		}
	case *east.TaskCheckBox:
		if !n.IsChecked {
			r.buf = append(r.buf, "☐ "...)
		} else {
			r.buf = append(r.buf, "☑ "...)
		}
	default:
		r.inlines(n)
	}
}

// codeSpan renders `code`. Inside a link it is plain text: Telegram
// cannot put a code entity inside a text link and would drop one of them.
func (r *htmlRenderer) codeSpan(n *ast.CodeSpan) {
	mark := len(r.buf)
	if r.link == 0 {
		r.buf = append(r.buf, "<code>"...)
	}
	start := len(r.buf)
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
			r.buf = gfm.AppendEscaped(r.buf, v[:len(v)-1])
			r.buf = append(r.buf, ' ')
			continue
		}
		r.buf = gfm.AppendEscaped(r.buf, v)
	}
	if r.link > 0 {
		return
	}
	if len(r.buf) == start {
		r.buf = r.buf[:mark]
		return
	}
	r.buf = append(r.buf, "</code>"...)
}

// linkTo renders a link or image whose children are its text (an image's
// alt text). Telegram opens only links with an allowed scheme; for others
// the target is shown in parentheses after the text so it is not lost.
// Inside a link only the text is rendered: links cannot nest, and an
// image inside a link (a badge) is just its alt text there.
func (r *htmlRenderer) linkTo(n ast.Node, dest string) {
	if r.link > 0 {
		r.inlines(n)
		return
	}
	if !htmlAllowedURL(dest) {
		mark := len(r.buf)
		r.inlines(n)
		shown := string(r.buf[mark:])
		// A data: URL is an inline image, often kilobytes of base64: no use
		// as text.
		if dest == "" || gfm.HasPrefixFold(dest, "data:") {
			return
		}
		// Telegram finds e-mail addresses in text by itself and makes them
		// tappable, which it cannot do with a mailto: link.
		if gfm.HasPrefixFold(dest, "mailto:") {
			dest = dest[len("mailto:"):]
		}
		escaped := string(gfm.AppendEscaped(nil, dest))
		if shown == escaped {
			return
		}
		if len(r.buf) > mark {
			r.buf = append(r.buf, ' ')
		}
		r.buf = append(r.buf, '(')
		r.buf = append(r.buf, escaped...)
		r.buf = append(r.buf, ')')
		return
	}
	r.buf = append(r.buf, `<a href="`...)
	r.buf = htmlAppendURL(r.buf, dest)
	r.buf = append(r.buf, `">`...)
	start := len(r.buf)
	r.link++
	r.inlines(n)
	r.link--
	if len(r.buf) == start {
		// "[](url)" or "![](url)": the link still needs something to tap.
		r.buf = gfm.AppendEscaped(r.buf, dest)
	}
	r.buf = append(r.buf, "</a>"...)
}

// autoLink renders <http://…>, <a@b.c> and GFM's bare www./http:// links.
// The label is shown as written; it is a link when htmlAllowedURL says so.
// An e-mail address stays text, which Telegram makes tappable itself.
func (r *htmlRenderer) autoLink(n *ast.AutoLink) {
	label := n.Label(r.src)
	url := string(n.URL(r.src))
	if n.AutoLinkType == ast.AutoLinkEmail && !strings.HasPrefix(strings.ToLower(url), "mailto:") {
		url = "mailto:" + url
	}
	if r.link > 0 || !htmlAllowedURL(url) {
		r.buf = gfm.AppendEscaped(r.buf, label)
		return
	}
	r.buf = append(r.buf, `<a href="`...)
	r.buf = htmlAppendURL(r.buf, url)
	r.buf = append(r.buf, `">`...)
	r.buf = gfm.AppendEscaped(r.buf, label)
	r.buf = append(r.buf, "</a>"...)
}
