package gfm

import (
	"strings"
	"testing"

	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension/ast"
)

func firstTable(t *testing.T, src []byte) *east.Table {
	t.Helper()
	var table *east.Table
	_ = ast.Walk(Parse(src), func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if tb, ok := n.(*east.Table); ok && entering && table == nil {
			table = tb
		}
		return ast.WalkContinue, nil
	})
	if table == nil {
		t.Fatalf("no table in %q", src)
	}
	return table
}

func TestTableLines_AlignedPlainCells(t *testing.T) {
	src := []byte("| Name | Qty | Note |\n|:--|--:|:-:|\n| **apple** | 3 | see [docs](https://x.example/a) |\n" +
		"| 日本 | 12 | `a\\|b` <br> &amp; \\* |\n")
	got := strings.Join(TableLines(src, firstTable(t, src)), "\n")
	want := strings.Join([]string{
		"| Name  | Qty |              Note              |",
		"|-------|-----|--------------------------------|",
		"| apple |   3 | see docs (https://x.example/a) |",
		"| 日本  |  12 |          a|b <br> & *          |",
	}, "\n")
	if got != want {
		t.Errorf("TableLines =\n%s\nwant\n%s", got, want)
	}
}

func TestTextWidth(t *testing.T) {
	for s, want := range map[string]int{
		"abc": 3, "日本": 4, "é": 1, "e\u0301": 1, "👍": 2, "👍🏽": 2, "👩\u200d💻": 2, "": 0,
	} {
		if got := TextWidth(s); got != want {
			t.Errorf("TextWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestAppendText_EscapesAndEntities(t *testing.T) {
	for in, want := range map[string]string{
		`a \* b`:               "a * b",
		"&copy; &#169; &#xA9;": "© © ©",
		"x < y & z":            "x &lt; y &amp; z",
		"&bogus; \\q":          "&amp;bogus; \\q",
		"&#0;":                 "\uFFFD",
	} {
		if got := string(AppendText(nil, []byte(in), true)); got != want {
			t.Errorf("AppendText(%q) = %q, want %q", in, got, want)
		}
	}
}
