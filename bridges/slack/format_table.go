package slack

// This file renders code: code spans, code blocks, and tables, which
// mrkdwn does not have, as code blocks with aligned columns.

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"
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
		r.buf = gfm.AppendEscaped(r.buf, code)
		return
	}
	r.buf = append(r.buf, mrkdwnOpenMark, '`', mrkdwnVerbatimMark)
	r.buf = gfm.AppendEscaped(r.buf, code)
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

// table renders a GFM table as a ``` block of pipe-separated rows with the
// columns padded to a common width, aligned as the delimiter row says, and
// a dashed rule under the header. Inline markup in cells is dropped (a
// code block cannot hold it); link targets follow their text in
// parentheses.
func (r *mrkdwnRenderer) table(t *east.Table) {
	if lines := gfm.TableLines(r.src, t); len(lines) > 0 {
		r.fence(lines)
	}
}
