package gfm

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

const sample = "# Title\n\nSome **bold**, ~~gone~~ and https://example.com.\n\n" +
	"| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n```go\nfmt.Println(1)\n```\n"

func toHTML(t *testing.T, source []byte, doc ast.Node) string {
	t.Helper()
	r := renderer.NewRenderer(renderer.WithNodeRenderers(
		util.Prioritized(html.NewRenderer(), 1000),
		util.Prioritized(extension.NewTableHTMLRenderer(), 500),
		util.Prioritized(extension.NewStrikethroughHTMLRenderer(), 500),
		util.Prioritized(extension.NewTaskCheckBoxHTMLRenderer(), 500),
	))
	var b bytes.Buffer
	if err := r.Render(&b, source, doc); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestParse_GFMAndSharedSafely: the shared parser knows the GFM extensions
// and gives every concurrent caller the tree a parser of its own gives.
func TestParse_GFMAndSharedSafely(t *testing.T) {
	src := []byte(sample)
	want := toHTML(t, src, NewParser().Parse(textReader(src)))
	for _, tag := range []string{"<h1>", "<strong>", "<del>", `<a href="https://example.com">`, "<table>", `type="checkbox"`, `class="language-go"`} {
		if !strings.Contains(want, tag) {
			t.Errorf("GFM render lacks %s:\n%s", tag, want)
		}
	}
	var kinds int
	_ = ast.Walk(Parse(src), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering && (n.Kind() == east.KindTable || n.Kind() == east.KindStrikethrough) {
			kinds++
		}
		return ast.WalkContinue, nil
	})
	if kinds != 2 {
		t.Errorf("the shared parser found %d of the table and the strikethrough", kinds)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				own := append([]byte(nil), src...)
				if got := toHTML(t, own, Parse(own)); got != want {
					t.Error("a concurrent parse differs from a parse alone")
					return
				}
			}
		})
	}
	wg.Wait()
}

func textReader(src []byte) text.Reader { return text.NewReader(src) }
