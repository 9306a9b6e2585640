package telegram

// The properties every RenderHTML output must have, checked on the torture
// corpus (each file and its prefixes) and by the fuzzer.
//
// Content invariant: a rune is content when it is an ASCII letter or
// digit, or a non-ASCII letter, number, mark or symbol (so emoji, skin
// tones and variation selectors count; the other ASCII characters, where
// all Markdown markup lives, do not). Then:
//
//   - tree check (every input): the content runes of the document's text,
//     in document order, are a subsequence of the visible text of the
//     output (tags removed, entities decoded). The text is what goldmark
//     parses as text: text and code spans, code and HTML blocks, raw HTML,
//     autolink labels; not link targets, titles, reference definitions or
//     fence info strings, which are metadata. Entity references in text
//     (&copy;) stand for other characters and are left out.
//   - source check (torture files not named *.lossy.md): the content runes
//     of the source itself, minus entity references, fence lines, task
//     list markers and "mailto:" in link targets, are a subsequence of the
//     visible text with each link's (percent-decoded) href inserted after
//     its text. This does not trust the parser, so the corpus avoids what
//     Markdown legitimately hides: link titles, reference definitions,
//     images inside links, data: URLs, renumbered lists and table rows
//     with surplus cells.

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

// renderIsContent reports whether r is a content rune (see above).
func renderIsContent(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.IsSymbol(r))
}

// renderChecker checks the contract of RenderHTML; its patterns are
// compiled once per test.
type renderChecker struct {
	// entityRef matches CommonMark entity and numeric character
	// references, which the output shows decoded.
	entityRef *regexp.Regexp
	// hiddenSource matches the source text the source check leaves out:
	// fence lines (their info strings are attributes at most), task list
	// markers (shown as ☐/☑) and the mailto: of link targets (shown as
	// the bare address).
	hiddenSource *regexp.Regexp
}

func newRenderChecker() *renderChecker {
	return &renderChecker{
		entityRef: regexp.MustCompile(`&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});`),
		hiddenSource: regexp.MustCompile("(?m)^(?:[ \t]*>)*[ \t]*(?:```|~~~).*$|" +
			`(?m)^(?:[ \t]*>)*[ \t]*(?:[-*+]|[0-9]{1,9}[.)])[ \t]+\[[ xX]\]|` +
			`\]\(<?(?i:mailto):`),
	}
}

// renderAppendContent appends the content runes of s.
func renderAppendContent(dst []rune, s string) []rune {
	for _, r := range s {
		if renderIsContent(r) {
			dst = append(dst, r)
		}
	}
	return dst
}

// treeContent returns the content runes of md's text as goldmark parses
// it.
func (c *renderChecker) treeContent(md string) []rune {
	src := []byte(gfm.Normalize(md))
	doc := gfm.NewParser().Parse(text.NewReader(src))
	var out []rune
	lines := func(n ast.Node) {
		for i := range n.Lines().Len() {
			seg := n.Lines().At(i)
			out = renderAppendContent(out, string(seg.Value(src)))
		}
	}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Text:
			v := string(n.Segment.Value(src))
			if !n.IsRaw() {
				v = c.entityRef.ReplaceAllString(v, "")
			}
			out = renderAppendContent(out, v)
		case *ast.String:
			out = renderAppendContent(out, string(n.Value))
		case *ast.RawHTML:
			for i := range n.Segments.Len() {
				seg := n.Segments.At(i)
				out = renderAppendContent(out, string(seg.Value(src)))
			}
		case *ast.AutoLink:
			out = renderAppendContent(out, string(n.Label(src)))
		case *ast.CodeBlock, *ast.FencedCodeBlock:
			lines(n)
		case *ast.HTMLBlock:
			lines(n)
			if n.HasClosure() {
				out = renderAppendContent(out, string(n.ClosureLine.Value(src)))
			}
		case *ast.LinkReferenceDefinition:
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return out
}

// sourceContent returns the content runes of the Markdown source.
func (c *renderChecker) sourceContent(md string) []rune {
	md = gfm.Normalize(md)
	md = c.entityRef.ReplaceAllString(md, "")
	md = c.hiddenSource.ReplaceAllString(md, "")
	return renderAppendContent(nil, md)
}

// renderShownWithTargets returns the visible text of html with each link's
// href, percent-decoded, inserted after the link's text.
func renderShownWithTargets(html string) string {
	var b strings.Builder
	var hrefs []string
	for i := 0; i < len(html); {
		if html[i] != '<' {
			j := strings.IndexByte(html[i:], '<')
			if j < 0 {
				j = len(html) - i
			}
			b.WriteString(htmlVisibleText(html[i : i+j]))
			i += j
			continue
		}
		end := htmlTagEnd(html, i)
		if end < 0 {
			break
		}
		tag := html[i+1 : end]
		if href, ok := strings.CutPrefix(tag, `a href="`); ok {
			h := htmlVisibleText(strings.TrimSuffix(href, `"`))
			if d, err := url.PathUnescape(h); err == nil {
				h = d
			}
			hrefs = append(hrefs, h)
		} else if tag == "/a" && len(hrefs) > 0 {
			b.WriteString(" " + hrefs[len(hrefs)-1])
			hrefs = hrefs[:len(hrefs)-1]
		}
		i = end + 1
	}
	return b.String()
}

// renderSubsequence returns the index of the first rune of want that is
// missing from got, in order, or -1 when want is a subsequence of got.
func renderSubsequence(want []rune, got string) int {
	i := 0
	for _, r := range got {
		if i < len(want) && r == want[i] {
			i++
		}
	}
	if i == len(want) {
		return -1
	}
	return i
}

// renderMissing describes where want stopped matching.
func renderMissing(want []rune, i int) string {
	return fmt.Sprintf("content rune %d %q missing (context %q)", i, want[i], string(want[max(0, i-20):min(len(want), i+20)]))
}

// check checks RenderHTML's contract for md: valid HTML and the tree
// content invariant, plus the source invariant when source is set.
func (c *renderChecker) check(md string, source bool) error {
	h := RenderHTML(md)
	if err := ValidateHTML(h); err != nil {
		return fmt.Errorf("RenderHTML(%q) = %q: %v", md, h, err)
	}
	want := c.treeContent(md)
	if i := renderSubsequence(want, htmlVisibleText(h)); i >= 0 {
		return fmt.Errorf("RenderHTML(%q) = %q: tree check: %s", md, h, renderMissing(want, i))
	}
	if source {
		want := c.sourceContent(md)
		if i := renderSubsequence(want, renderShownWithTargets(h)); i >= 0 {
			return fmt.Errorf("RenderHTML(%q) = %q: source check: %s", md, h, renderMissing(want, i))
		}
	}
	return nil
}

// renderCuts returns the prefix lengths of md to check: every rune
// boundary, or for long texts (and in -short mode) every stride-th, always
// with the whole text.
func renderCuts(md string, maxCuts int) []int {
	n := utf8.RuneCountInString(md)
	stride := max(1, n/maxCuts)
	var cuts []int
	k := 0
	for i := range md {
		if k%stride == 0 {
			cuts = append(cuts, i)
		}
		k++
	}
	return append(cuts, len(md))
}

func TestRenderHTML_Torture(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "torture", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found %d torture files, want at least 20", len(files))
	}
	checker := newRenderChecker()
	maxCuts := 1500
	if testing.Short() {
		maxCuts = 150
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			md := string(data)
			source := !strings.HasSuffix(f, ".lossy.md")
			for _, c := range renderCuts(md, maxCuts) {
				if err := checker.check(md[:c], source); err != nil {
					t.Fatalf("prefix of %d/%d bytes: %v", c, len(md), err)
				}
			}
		})
	}
}

// TestRenderHTML_SampleReplyEveryPrefix streams the benchmark's reply a
// few characters at a time, as the bridge would see it.
func TestRenderHTML_SampleReplyEveryPrefix(t *testing.T) {
	checker := newRenderChecker()
	md := rendertest.SampleReply()
	maxCuts := 1000
	if testing.Short() {
		maxCuts = 200
	}
	for _, c := range renderCuts(md, maxCuts) {
		if err := checker.check(md[:c], true); err != nil {
			t.Fatalf("prefix of %d/%d bytes: %v", c, len(md), err)
		}
	}
}

// TestRenderHTML_TortureCRLF checks that the CRLF corpus file really has
// CRLF line ends (editors and git settings may strip them) and renders
// like its LF twin.
func TestRenderHTML_TortureCRLF(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "torture", "15-crlf.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)
	if !strings.Contains(md, "\r\n") {
		t.Fatal("15-crlf.md has lost its CRLF line ends")
	}
	lf := strings.ReplaceAll(strings.ReplaceAll(md, "\r\n", "\n"), "\r", "\n")
	if got, want := RenderHTML(md), RenderHTML(lf); got != want {
		t.Errorf("CRLF renders differently from LF:\n%q\n%q", got, want)
	}
}

func FuzzRenderHTML(f *testing.F) {
	for _, tc := range renderCases() {
		f.Add(tc.md)
	}
	f.Add(rendertest.SampleReply())
	files, _ := filepath.Glob(filepath.Join("testdata", "torture", "*.md"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(string(data))
		}
	}
	checker := newRenderChecker()
	f.Fuzz(func(t *testing.T, md string) {
		if err := checker.check(md, false); err != nil {
			t.Fatal(err)
		}
		if n := VisibleLen(RenderHTML(md)); n < 0 {
			t.Fatalf("VisibleLen < 0")
		}
	})
}

// FuzzValidateHTML feeds arbitrary text to the HTML helpers the bridge and
// the fake server use on any string: they must not panic, and VisibleLen
// must measure the text htmlVisibleText returns.
func FuzzValidateHTML(f *testing.F) {
	f.Add(RenderHTML(rendertest.SampleReply()))
	for _, s := range []string{"<b>x</b>", "&lt;&#x1F600;&", `<a href="https://e.com/?a&amp;b">t</a>`, "<pre><code", "a<'>'b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = ValidateHTML(s)
		n := 0
		for _, r := range htmlVisibleText(s) {
			n += len(utf16.Encode([]rune{r}))
		}
		if got := VisibleLen(s); got != n {
			t.Fatalf("VisibleLen(%q) = %d, but its visible text is %d UTF-16 units", s, got, n)
		}
	})
}
