package slack

// The properties every Render output must have, checked on the torture
// corpus (each text and its prefixes), on the sample reply streamed a few
// characters at a time, and by the fuzzer.
//
// Well-formed (mrkdwnCheck): valid UTF-8; ``` only on fence lines, which
// pair up; '>' only as the quote bar at the start of a line or closing
// a link or literal token; '<' only in those, and not in code; '&' only
// in &amp; &lt; &gt;; no broadcast mention outside code.
//
// Formatting (renderCheckPairs): pairing the markers as Slack does (see
// mrkdwnLiterals) pairs exactly the markers the renderer wrote.
//
// Content: a rune is content when it is an ASCII letter or digit, or a
// non-ASCII letter, number, mark or symbol. The content runes of the
// document's text as goldmark parses it (tree check), and of the source
// minus entity references, fence lines and task markers (source check,
// for texts that do not hide link titles or reference labels), are a
// subsequence of the output's visible text, with link targets after
// their text.

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	gtext "github.com/yuin/goldmark/text"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

// renderLinkPattern matches a link or a literal token as Render writes
// them.
const renderLinkPattern = "<(?:(?i:https?://|mailto:)[^\\s<>|]+(?:\\|[^<>\n]*)?|!date\\^00000000\\^\\{_\\}\\|(?:\\*+|_+|~+|`+))>"

var (
	// renderLinkRE matches renderLinkPattern at the start of a string,
	// renderLinkAnyRE anywhere.
	renderLinkRE    = regexp.MustCompile("^" + renderLinkPattern)
	renderLinkAnyRE = regexp.MustCompile(renderLinkPattern)
	// renderCodeSpanRE matches an inline code span, where Slack makes no
	// mentions.
	renderCodeSpanRE = regexp.MustCompile("`[^`]+`")
	// renderMentionRE matches a broadcast mention Slack could act on.
	renderMentionRE = regexp.MustCompile(`(?i)(?:^|[^\pL\pN.+-])@(?:here|channel|everyone)(?:[^\pL\pN_]|$)`)
	// renderEntityRE matches CommonMark entity and numeric references.
	renderEntityRE = regexp.MustCompile(`&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});`)
	// renderHiddenRE matches the source the source check leaves out: fence
	// lines (the language is dropped) and task list markers (☐/☑).
	renderHiddenRE = regexp.MustCompile("(?m)^(?:[ \t]*>)*[ \t]*(?:```|~~~).*$|" +
		`(?m)^(?:[ \t]*>)*[ \t]*(?:[-*+]|[0-9]{1,9}[.)])[ \t]+\[[ xX]\]`)
)

// mrkdwnCheck reports why s is not well-formed mrkdwn as Render writes it.
func mrkdwnCheck(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid UTF-8")
	}
	code := false
	for n, line := range strings.Split(s, "\n") {
		if line == ">" {
			continue
		}
		line, _ = strings.CutPrefix(line, "> ")
		if line == "```" {
			code = !code
			continue
		}
		if strings.Contains(line, "```") {
			return fmt.Errorf("line %d: ``` off a fence line: %q", n+1, line)
		}
		for i := 0; i < len(line); i++ {
			rest := line[i:]
			switch line[i] {
			case '&':
				if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
					return fmt.Errorf("line %d: bare '&': %q", n+1, line)
				}
			case '<':
				m := renderLinkRE.FindString(rest)
				if code || m == "" {
					return fmt.Errorf("line %d: bare '<': %q", n+1, line)
				}
				i += len(m) - 1
			case '>':
				return fmt.Errorf("line %d: bare '>': %q", n+1, line)
			}
		}
		// Slack makes no mention in code or in a link's target.
		text := renderLinkAnyRE.ReplaceAllStringFunc(line, func(link string) string {
			target, label, _ := strings.Cut(link[1:len(link)-1], "|")
			if strings.HasPrefix(target, "!date") {
				return " " // shown as plain text: no markers
			}
			return " " + label + " "
		})
		if !code && renderMentionRE.MatchString(renderCodeSpanRE.ReplaceAllString(text, "")) {
			return fmt.Errorf("line %d: live mention: %q", n+1, line)
		}
	}
	if code {
		return fmt.Errorf("``` fences do not pair up")
	}
	return nil
}

// renderCheckPairs pairs the markers of Render's output for md as Slack
// does (per line; an opening marker takes the first closing one of its
// kind after it, with something between; a '`' needs only no letter or
// digit outside) and reports an error unless exactly the renderer's
// markers pair, properly nested.
func renderCheckPairs(md string) error {
	src := []byte(gfm.Normalize(md))
	r := mrkdwnRenderer{src: src}
	r.blocks(gfm.NewParser().Parse(gtext.NewReader(src)), 2)
	b := mrkdwnMarkers(r.buf)
	for len(b) > 0 {
		end := strings.IndexByte(string(b), '\n') + 1
		if end == 0 {
			end = len(b)
		}
		line := b[:end]
		b = b[end:]
		marks := mrkdwnLineMarks(nil, line)
		hits := mrkdwnHits(nil, marks, line)
		for i := range marks {
			if m := &marks[i]; m.c == '`' {
				m.canOpen = !mrkdwnWord(mrkdwnRuneBefore(line, m.pos))
				m.canClose = !mrkdwnWord(mrkdwnRuneAfter(line, m.pos+1))
			}
		}
		partner := make([]int, len(marks))
		for i := range partner {
			partner[i] = -1
		}
		for i, m := range marks {
			if hits[i] || m.label || partner[i] >= 0 || !m.canOpen {
				continue
			}
			for j := i + 1; j < len(marks); j++ {
				o := marks[j]
				if !hits[j] && !o.label && partner[j] < 0 && o.c == m.c && o.canClose && mrkdwnSpan(line, m.pos, o.pos) {
					partner[i], partner[j] = j, i
					break
				}
			}
		}
		for i, m := range marks {
			j := partner[i]
			switch {
			case m.ours && j < 0:
				return fmt.Errorf("marker %q at %d does not pair in %q", m.c, m.pos, line)
			case j < 0:
			case !m.ours || !marks[j].ours:
				return fmt.Errorf("a marker of the text pairs at %d in %q", m.pos, line)
			case j > i:
				for k := i + 1; k < j; k++ {
					if partner[k] >= 0 && (partner[k] < i || partner[k] > j) {
						return fmt.Errorf("markers cross at %d in %q", m.pos, line)
					}
				}
			}
		}
	}
	return nil
}

// renderIsContent reports whether r is a content rune (see above).
func renderIsContent(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) || unicode.IsSymbol(r))
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

// renderVisible returns the text Slack shows for mrkdwn, with each link's
// target (percent-decoded) after its text.
func renderVisible(mrkdwn string) string {
	unescape := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", fmtZW, "", fmtWJ, "").Replace
	var b strings.Builder
	for i := 0; i < len(mrkdwn); i++ {
		m := renderLinkRE.FindString(mrkdwn[i:])
		if m == "" {
			j := strings.IndexByte(mrkdwn[i+1:], '<')
			if j < 0 {
				j = len(mrkdwn) - i - 1
			}
			b.WriteString(unescape(mrkdwn[i : i+1+j]))
			i += j
			continue
		}
		target, label, hasLabel := strings.Cut(m[1:len(m)-1], "|")
		if strings.HasPrefix(target, "!date") {
			b.WriteString(label)
		} else {
			target = unescape(target)
			if d, err := url.PathUnescape(target); err == nil {
				target = d
			}
			if hasLabel {
				b.WriteString(unescape(label) + " ")
			}
			b.WriteString(target)
		}
		i += len(m) - 1
	}
	return b.String()
}

// renderTreeContent returns the content runes of md's text as goldmark
// parses it: text, code, raw HTML and autolink labels, but not link
// targets or fence info strings.
func renderTreeContent(md string) []rune {
	src := []byte(gfm.Normalize(md))
	doc := gfm.NewParser().Parse(gtext.NewReader(src))
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
				v = renderEntityRE.ReplaceAllString(v, "")
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

// renderSourceContent returns the content runes of the Markdown source.
func renderSourceContent(md string) []rune {
	md = gfm.Normalize(md)
	md = renderEntityRE.ReplaceAllString(md, "")
	md = renderHiddenRE.ReplaceAllString(md, "")
	return renderAppendContent(nil, md)
}

// renderMissing returns a description of the first rune of want missing
// from got, in order, or "" when want is a subsequence of got.
func renderMissing(want []rune, got string) string {
	i := 0
	for _, r := range got {
		if i < len(want) && r == want[i] {
			i++
		}
	}
	if i == len(want) {
		return ""
	}
	return fmt.Sprintf("content rune %d %q missing (context %q)", i, want[i], string(want[max(0, i-20):min(len(want), i+20)]))
}

// renderCheck checks Render's contract for md: well-formed output, the
// formatting Slack will apply, and the tree check, plus the source check
// when source is set.
func renderCheck(md string, source bool) error {
	got := Render(md)
	if err := mrkdwnCheck(got); err != nil {
		return fmt.Errorf("Render(%q) = %q: %v", md, got, err)
	}
	if err := renderCheckPairs(md); err != nil {
		return fmt.Errorf("Render(%q) = %q: %v", md, got, err)
	}
	shown := renderVisible(got)
	if miss := renderMissing(renderTreeContent(md), shown); miss != "" {
		return fmt.Errorf("Render(%q) = %q: tree check: %s", md, got, miss)
	}
	if source {
		if miss := renderMissing(renderSourceContent(md), shown); miss != "" {
			return fmt.Errorf("Render(%q) = %q: source check: %s", md, got, miss)
		}
	}
	return nil
}

// renderCuts returns the prefix lengths of md to check: every rune
// boundary, or for long texts (and in -short mode) every stride-th, always
// with the whole text.
func renderCuts(md string, maxCuts int) []int {
	stride := max(1, utf8.RuneCountInString(md)/maxCuts)
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

// renderTelegramCorpus returns the Telegram bridge's torture files, which
// test the same goldmark walk from other angles, by name; files named
// *.lossy.md hide text on purpose and get only the tree check.
func renderTelegramCorpus(t testing.TB) map[string]string {
	files, _ := filepath.Glob(filepath.Join("..", "telegram", "testdata", "torture", "*.md"))
	corpus := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus["telegram/"+filepath.Base(f)] = string(data)
	}
	return corpus
}

func TestRender_Torture(t *testing.T) {
	corpus := renderTelegramCorpus(t)
	for name, md := range renderTorture() {
		corpus[name] = md
	}
	maxCuts := 1000
	if testing.Short() {
		maxCuts = 100
	}
	for name, md := range corpus {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			source := !strings.HasSuffix(name, ".lossy.md")
			for _, c := range renderCuts(md, maxCuts) {
				if err := renderCheck(md[:c], source); err != nil {
					t.Fatalf("prefix of %d/%d bytes: %v", c, len(md), err)
				}
			}
		})
	}
}

// TestRender_SampleReplyEveryPrefix streams the benchmark's reply one
// character at a time, as the bridge would see it on its edits.
func TestRender_SampleReplyEveryPrefix(t *testing.T) {
	md := rendertest.SampleReply()
	maxCuts := len(md)
	if testing.Short() {
		maxCuts = 300
	}
	for _, c := range renderCuts(md, maxCuts) {
		if err := renderCheck(md[:c], true); err != nil {
			t.Fatalf("prefix of %d/%d bytes: %v", c, len(md), err)
		}
	}
}

// TestRender_CRLF checks that CRLF line ends render like LF ones.
func TestRender_CRLF(t *testing.T) {
	for name, md := range renderTorture() {
		if strings.Contains(md, "\r") {
			continue
		}
		crlf := strings.ReplaceAll(md, "\n", "\r\n")
		if got, want := Render(crlf), Render(md); got != want {
			t.Errorf("%s: CRLF renders differently from LF:\n%q\n%q", name, got, want)
		}
	}
}

func FuzzRender(f *testing.F) {
	for _, tc := range renderCases() {
		f.Add(tc.md)
	}
	f.Add(rendertest.SampleReply())
	for _, md := range renderTorture() {
		f.Add(md)
	}
	for _, md := range renderTelegramCorpus(f) {
		f.Add(md)
	}
	f.Fuzz(func(t *testing.T, md string) {
		if err := renderCheck(md, false); err != nil {
			t.Fatal(err)
		}
		if p := PlainText(md); !utf8.ValidString(p) || strings.ContainsAny(p, "<>") || renderMentionRE.MatchString(p) {
			t.Fatalf("PlainText(%q) = %q", md, p)
		}
	})
}
