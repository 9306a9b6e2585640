// Package gfm parses GitHub-flavoured Markdown (CommonMark with tables,
// strikethrough, task lists and bare links) for the bridges' renderers,
// which walk the tree into their platform's dialect.
package gfm

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// shared is the one parser every Parse uses. A goldmark parser keeps no
// state between Parse calls (each call has its own parse context, and its
// tables are set up once under a sync.Once), and building one per render
// cost about a fifth of each render (BENCHMARKS.md, issue 9).
var shared = sync.OnceValue(NewParser)

// Parse parses source into a goldmark tree. Safe for concurrent use; the
// tree's segments point into source, which the caller must keep.
func Parse(source []byte) ast.Node {
	return shared().Parse(text.NewReader(source))
}

// NewParser returns a fresh goldmark parser with the GFM extensions, for
// tests that compare against a parser of their own.
func NewParser() parser.Parser {
	return parser.NewParser(
		parser.WithBlockParsers(parser.DefaultBlockParsers()...),
		parser.WithInlineParsers(append(parser.DefaultInlineParsers(),
			util.Prioritized(extension.NewLinkifyParser(), 999),
			util.Prioritized(extension.NewStrikethroughParser(), 500),
			util.Prioritized(extension.NewTaskCheckBoxParser(), 0),
		)...),
		parser.WithParagraphTransformers(append(parser.DefaultParagraphTransformers(),
			util.Prioritized(extension.NewTableParagraphTransformer(), 200),
		)...),
		parser.WithASTTransformers(util.Prioritized(extension.NewTableASTTransformer(), 0)),
	)
}

// Normalize makes a model's text fit to parse and to send: valid UTF-8
// (U+FFFD for bad bytes), '\n' line ends, and no NUL bytes. Valid UTF-8
// never holds the bytes 0xF8-0xFF, which leaves them free for a renderer's
// sentinels.
func Normalize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return s
}

// TaskBox returns the checkbox that starts a task list item, or nil.
func TaskBox(item ast.Node) *east.TaskCheckBox {
	if fc := item.FirstChild(); fc != nil {
		if box, ok := fc.FirstChild().(*east.TaskCheckBox); ok {
			return box
		}
	}
	return nil
}
