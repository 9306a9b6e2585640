package slack

// This file renders the model's CommonMark as Slack mrkdwn, the markup of
// a message's text field. The parser is goldmark with the GFM extensions;
// the renderer is our own walk over its AST, as in the Telegram bridge.
//
// mrkdwn has *bold*, _italic_, ~strike~, `code`, ```blocks```, "> " quotes
// and <url|label> links, and nothing else: no headings, lists, tables or
// images, and no escape character (mrkdwnLiteral is the workaround).
// Only & < > are escaped, as &amp; &lt;
// &gt;, everywhere (code included), and Slack decodes only those three.
// A marker formats only at a word boundary and never across a line end,
// and those boundary rules are not documented, so the walk marks its
// markers with sentinel bytes and two finishing passes (mrkdwnFinish in
// format_escape.go) decide, with the neighbours in view, where a zero
// width space must go and which markers of the text must be neutralised.
//
// Every edit of a streamed reply re-renders the whole text so far, so any
// prefix of a reply must render well. Goldmark treats an unclosed "**" or
// "`" as text and an unclosed fence as a code block to the end, and the
// walk closes every marker it opens, on every line; the finishing passes
// keep unmatched markers in the text from pairing up in Slack.

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
	gtext "github.com/yuin/goldmark/text"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"
)

// Render renders markdown (CommonMark with GFM strikethrough, tables,
// autolinks and task lists) as Slack mrkdwn for a message's text field.
//
// Bold, italic, strikethrough and code become their mrkdwn markers; code
// blocks become ``` blocks (the language is dropped); links and images
// become <url|text> for http, https and mailto targets, other targets
// follow the text in parentheses; headings are bold lines; quotes are
// "> " lines; list items start with "• ", "1." or ☐/☑ and nest by four
// spaces; a thematic break is "———"; a table is a code block with aligned
// columns. Raw HTML is shown as text.
//
// Whatever the input (malformed Markdown, raw HTML, invalid UTF-8, or a
// reply cut anywhere while it streams) the output is valid UTF-8 with &,
// < and > escaped outside the markup Render writes, its ``` fences
// balanced, and every marker it opens closed on the same line; a marker
// touching a letter or digit ("foo**bar**baz") gets a zero width space
// (U+200B) outside it, so that Slack sees a word boundary there. Nothing
// in it can notify anyone: <!here> and <@U1> arrive escaped, and
// "@here", "@channel" and "@everyone" get a word joiner (U+2060) after
// the "@". A '*', '_', '~' or '`' that the text shows literally stays as
// written where Slack cannot pair it into formatting ("snake_case",
// "2*3*4", a lone "~40 MB", the unclosed "**" of a reply cut while it
// streams); one that Slack could pair ("\*x\*") is sent as a date token
// that Slack shows as plain text, <!date^00000000^{_}|*>, or inside a
// link's text as a look-alike character (see mrkdwnLiterals).
// The text of the document (words, code, raw HTML, link targets) is all
// visible in the output, in order; code is verbatim but for the escapes
// and a zero width space that keeps "```" inside code from ending it.
//
// Output can be empty or all whitespace (for "```" or "# "), which Slack
// refuses as no_text; callers decide what to send then. Render is pure
// and safe for concurrent use, and takes time roughly linear in the
// input for text as models write it (see BenchmarkRender).
func Render(markdown string) (mrkdwn string) {
	src := gfm.Normalize(markdown)
	defer func() {
		// A panic inside the parser must not take down a reply: escaped
		// plain text is valid mrkdwn and loses nothing.
		if recover() != nil {
			mrkdwn = PlainText(src)
		}
	}()
	source := []byte(src)
	doc := gfm.Parse(source)
	r := mrkdwnRenderer{src: source, buf: make([]byte, 0, len(source)+len(source)/4+16)}
	r.blocks(doc, 2)
	return string(mrkdwnFinish(r.buf))
}

// PlainText returns markdown as it should be sent when Slack refused the
// formatted text: the Markdown source as written, nothing dropped and no
// Markdown converted, with &, < and > escaped (so nothing becomes a link
// or a mention) and "@here", "@channel" and "@everyone" neutralised as in
// Render. Invalid UTF-8 and NUL bytes become U+FFFD and line ends become
// "\n". PlainText is pure and safe for concurrent use.
func PlainText(markdown string) string {
	s := gfm.Normalize(markdown)
	out := make([]byte, 0, len(s)+len(s)/8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&', '<', '>':
			out = gfm.AppendEscaped(out, s[i:i+1])
		case '@':
			out = append(out, c)
			prev, _ := utf8.DecodeLastRuneInString(s[:i])
			if i == 0 {
				prev = ' '
			}
			if mrkdwnMentionAt(s[i+1:], prev) {
				out = append(out, mrkdwnWordJoiner...)
			}
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

// VisibleLen returns the length of mrkdwn as Slack counts it for its text
// limits (about 4,000 characters advised, msg_too_long beyond): the number
// of Unicode code points of the text as sent, escapes, markers, literal
// tokens, zero width characters and link targets included. Slack does not document the unit; counting what is
// sent can only overestimate what it shows.
func VisibleLen(mrkdwn string) int {
	return utf8.RuneCountInString(mrkdwn)
}

// mrkdwnMaxIndent caps list indentation: deeper levels stay at this many
// spaces, so pathological nesting cannot blow up the output.
const mrkdwnMaxIndent = 20

// mrkdwnRenderer is the state of one Render call. Its buf holds mrkdwn
// with sentinels (see mrkdwnFinish): markers the walk writes are preceded
// by mrkdwnOpenMark or mrkdwnCloseMark, and code and link targets sit between mrkdwnVerbatimMark
// and mrkdwnTextMark.
type mrkdwnRenderer struct {
	src []byte
	buf []byte

	// indent is the number of spaces written after each line break outside
	// code: the continuation indent of the list item being rendered.
	indent int
	// quote is the depth of block quotes; mrkdwn has one level, so inner
	// quotes continue the outer one.
	quote int
	// open holds the markers open on the current line, innermost last: a
	// line break closes them and opens them again on the next line.
	open []byte
	// Depths of the open elements: a marker already open is not opened
	// again (Slack cannot nest *a *b* c*), and a link's text is plain.
	bold, italic, strike, link int
}

// lineBreak ends the line n times (n=2 leaves a blank line) and starts the
// next with the quote bar and, if indent, the list indentation. Open
// markers are closed before it and opened again after.
func (r *mrkdwnRenderer) lineBreak(n int, indent bool) {
	for i := len(r.open) - 1; i >= 0; i-- {
		r.buf = append(r.buf, mrkdwnCloseMark, r.open[i])
	}
	for range n - 1 {
		r.buf = append(r.buf, '\n')
		if r.quote > 0 {
			r.buf = append(r.buf, '>')
		}
	}
	r.buf = append(r.buf, '\n')
	if r.quote > 0 {
		r.buf = append(r.buf, "> "...)
	}
	if indent {
		const spaces = "                        "
		r.buf = append(r.buf, spaces[:min(r.indent, mrkdwnMaxIndent)]...)
	}
	for _, m := range r.open {
		r.buf = append(r.buf, mrkdwnOpenMark, m)
	}
}

// blocks renders the block children of parent, separated by sep line
// breaks. A child that renders nothing (an empty code block) takes its
// separator back, so no stray blank lines appear.
func (r *mrkdwnRenderer) blocks(parent ast.Node, sep int) {
	first := true
	for c := parent.FirstChild(); c != nil; c = c.NextSibling() {
		mark := len(r.buf)
		if !first {
			// Code blocks and tables start at the margin: list indentation
			// would become part of the code.
			r.lineBreak(sep, !mrkdwnIsBox(c))
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

// mrkdwnIsBox reports whether n renders as a ``` block.
func mrkdwnIsBox(n ast.Node) bool {
	switch n.(type) {
	case *ast.FencedCodeBlock, *ast.CodeBlock, *east.Table:
		return true
	}
	return false
}

// block renders one block node.
func (r *mrkdwnRenderer) block(n ast.Node) {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		r.inlines(n)
	case *ast.Heading:
		// mrkdwn has no headings; a bold line reads as one.
		r.wrap('*', &r.bold, n)
	case *ast.ThematicBreak:
		r.buf = append(r.buf, "———"...)
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		r.codeBlock(n)
	case *ast.HTMLBlock:
		// Raw HTML is shown as the text the model wrote.
		r.textLines(n.Lines())
		if n.HasClosure() {
			r.lineBreak(1, true)
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
func (r *mrkdwnRenderer) textLines(lines *gtext.Segments) {
	for i := range lines.Len() {
		if i > 0 {
			r.lineBreak(1, true)
		}
		line := lines.At(i)
		r.buf = gfm.AppendEscaped(r.buf, strings.TrimRight(string(line.Value(r.src)), "\n"))
	}
}

// blockquote renders a quote as lines starting with "> ". The bar goes at
// the very start of the line, before any list indentation, as Slack wants
// it there; a quote that starts on a list item's first line gets its bar
// from the next line on.
func (r *mrkdwnRenderer) blockquote(n *ast.Blockquote) {
	if r.quote > 0 {
		r.blocks(n, 2)
		return
	}
	mark := len(r.buf)
	lineStart := 0
	if i := bytes.LastIndexByte(r.buf, '\n'); i >= 0 {
		lineStart = i + 1
	}
	indent := string(r.buf[lineStart:])
	barred := strings.Trim(indent, " ") == ""
	if barred {
		r.buf = append(append(r.buf[:lineStart], "> "...), indent...)
	}
	start := len(r.buf)
	r.quote++
	r.blocks(n, 2)
	r.quote--
	if len(r.buf) == start {
		r.buf = r.buf[:mark]
		if barred {
			r.buf = append(r.buf[:lineStart], indent...)
		}
	}
}

// list renders list items as lines starting with "• ", "1. ", or a
// checkbox for task items; nested lists and continuation lines are
// indented four spaces per level.
func (r *mrkdwnRenderer) list(l *ast.List) {
	sep := 1
	if !l.IsTight {
		sep = 2
	}
	num := l.Start
	first := true
	for item := l.FirstChild(); item != nil; item = item.NextSibling() {
		if !first {
			r.lineBreak(sep, true)
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
		r.indent += 4
		r.blocks(item, sep)
		r.indent -= 4
	}
}

// inlines renders the inline children of n.
func (r *mrkdwnRenderer) inlines(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.inline(c)
	}
}

// wrap renders n's children between two marker bytes, unless an enclosing
// element of the same kind (depth > 0) already applies it or they are a
// link's text, which Slack shows plain.
func (r *mrkdwnRenderer) wrap(marker byte, depth *int, n ast.Node) {
	if *depth > 0 || r.link > 0 {
		r.inlines(n)
		return
	}
	*depth++
	r.buf = append(r.buf, mrkdwnOpenMark, marker)
	r.open = append(r.open, marker)
	r.inlines(n)
	r.open = r.open[:len(r.open)-1]
	r.buf = append(r.buf, mrkdwnCloseMark, marker)
	*depth--
}

// inline renders one inline node.
func (r *mrkdwnRenderer) inline(n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		r.text(n.Segment.Value(r.src), n.IsRaw())
		if n.HardLineBreak() || n.SoftLineBreak() {
			r.softBreak()
		}
	case *ast.String:
		r.text(n.Value, n.IsCode() || n.IsRaw())
	case *ast.CodeSpan:
		r.codeSpan(n)
	case *ast.Emphasis:
		if r.inWord(n) {
			// "2*3*4" is a product, not emphasis.
			r.buf = append(r.buf, '*')
			r.inlines(n)
			r.buf = append(r.buf, '*')
			return
		}
		if n.Level >= 2 {
			r.wrap('*', &r.bold, n)
		} else {
			r.wrap('_', &r.italic, n)
		}
	case *east.Strikethrough:
		r.wrap('~', &r.strike, n)
	case *ast.Link:
		r.linkTo(n, gfm.Destination(n.Destination))
	case *ast.Image:
		r.linkTo(n, gfm.Destination(n.Destination))
	case *ast.AutoLink:
		r.autoLink(n)
	case *ast.RawHTML:
		// Shown as typed: the model's "<b>" is text, not markup.
		// It may span lines: each goes through softBreak, for the quote
		// bar, the indentation and the markers.
		for i := range n.Segments.Len() {
			seg := n.Segments.At(i)
			v := seg.Value(r.src)
			for len(v) > 0 {
				line, rest, broken := bytes.Cut(v, []byte("\n"))
				r.buf = gfm.AppendEscaped(r.buf, line)
				if broken {
					r.softBreak()
				}
				v = rest
			}
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

// inWord reports whether n is a single-'*' emphasis inside a word, with
// a letter or digit right before and after it in the source, as in
// "2*3*4" or "a*b*c". CommonMark makes that emphasis; a model means the
// stars, and Slack would not format inside a word anyway.
func (r *mrkdwnRenderer) inWord(n *ast.Emphasis) bool {
	first, ok1 := n.FirstChild().(*ast.Text)
	last, ok2 := n.LastChild().(*ast.Text)
	if n.Level != 1 || !ok1 || !ok2 {
		return false
	}
	open, end := first.Segment.Start-1, last.Segment.Stop
	if open < 1 || end+1 >= len(r.src) || r.src[open] != '*' || r.src[end] != '*' {
		return false
	}
	before, _ := utf8.DecodeLastRune(r.src[:open])
	after, _ := utf8.DecodeRune(r.src[end+1:])
	return mrkdwnWord(before) && mrkdwnWord(after)
}

// text writes inline text, escaped, and unless raw with its backslash
// escapes and entity references resolved. A line end that an entity
// (&#10;) stands for ends the line as a soft break does; &#13; is a space.
func (r *mrkdwnRenderer) text(v []byte, raw bool) {
	if raw {
		r.buf = gfm.AppendEscaped(r.buf, v)
		return
	}
	start := len(r.buf)
	r.buf = gfm.AppendText(r.buf, v, true)
	if bytes.IndexAny(r.buf[start:], "\r\n") < 0 {
		return
	}
	decoded := string(r.buf[start:])
	r.buf = r.buf[:start]
	for i, line := range strings.Split(strings.ReplaceAll(decoded, "\r", " "), "\n") {
		if i > 0 {
			r.softBreak()
		}
		r.buf = append(r.buf, line...)
	}
}

// softBreak ends a line of inline text; inside a link's text, where Slack
// allows no line end, it is a space.
func (r *mrkdwnRenderer) softBreak() {
	if r.link > 0 {
		r.buf = append(r.buf, ' ')
		return
	}
	r.lineBreak(1, true)
}
