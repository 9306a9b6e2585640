package telegram

import (
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/engine"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

// renderCases are Markdown constructs with the exact HTML expected.
func renderCases() []struct{ name, md, want string } {
	return []struct{ name, md, want string }{
		{"empty", "", ""},
		{"paragraphs", "one\n\ntwo", "one\n\ntwo"},
		{"soft break", "one\ntwo", "one\ntwo"},
		{"hard break spaces", "one  \ntwo", "one\ntwo"},
		{"hard break backslash", "one\\\ntwo", "one\ntwo"},
		{"bold stars", "**b**", "<b>b</b>"},
		{"bold underscores", "__b__", "<b>b</b>"},
		{"italic star", "*i*", "<i>i</i>"},
		{"italic underscore", "_i_", "<i>i</i>"},
		{"bold italic", "***x***", "<i><b>x</b></i>"},
		{"bold in bold merged", "**a **b** c**", "<b>a b c</b>"},
		{"strike", "~~s~~", "<s>s</s>"},
		{"code span escaped", "`a<b && c>d`", "<code>a&lt;b &amp;&amp; c&gt;d</code>"},
		{"code span keeps entities literal", "`&amp;`", "<code>&amp;amp;</code>"},
		{"code span with backtick", "``a ` b``", "<code>a ` b</code>"},
		{"code span in bold", "**a `c` b**", "<b>a <code>c</code> b</b>"},
		{"fence with language", "```go\nx := 1\n```", `<pre><code class="language-go">x := 1</code></pre>`},
		{"fence without language", "```\nx\n\ny\n```", "<pre>x\n\ny</pre>"},
		{"fence language sanitized", "```c#\nx\n```", `<pre><code class="language-csharp">x</code></pre>`},
		{"fence language quotes dropped", "```\"a<b>\"{.x}\nx\n```", `<pre><code class="language-abx">x</code></pre>`},
		{"fence keeps markup literal", "```\n**b** <i> &amp;\n```", "<pre>**b** &lt;i&gt; &amp;amp;</pre>"},
		{"tilde fence holds backtick fence", "~~~~\n```\nin\n```\n~~~~", "<pre>```\nin\n```</pre>"},
		{"four backtick fence", "````md\n```\nx\n```\n````", "<pre><code class=\"language-md\">```\nx\n```</code></pre>"},
		{"indented code", "    code()\n      more", "<pre>code()\n  more</pre>"},
		{"unclosed fence", "```go\nfunc", `<pre><code class="language-go">func</code></pre>`},
		{"empty fence", "```go\n", ""},
		{"bare fence", "```", ""},
		{"quote", "> q", "<blockquote>q</blockquote>"},
		{"quote lines", "> a\n> b\n>\n> c", "<blockquote>a\nb\n\nc</blockquote>"},
		{"nested quote flattened", "> a\n>\n> > b", "<blockquote>a\n\nb</blockquote>"},
		{"quote with code", "> x\n> ```\n> y\n> ```", "<blockquote>x\n\n<pre>y</pre></blockquote>"},
		{"link", "[t](https://e.com)", `<a href="https://e.com">t</a>`},
		{"link escaped href", `[t](https://e.com/?a=1&b="x")`, `<a href="https://e.com/?a=1&amp;b=%22x%22">t</a>`},
		{"link parens", "[t](https://e.com/a_(b))", `<a href="https://e.com/a_(b)">t</a>`},
		{"link angle destination", "[t](<https://e.com/a b>)", `<a href="https://e.com/a%20b">t</a>`},
		{"link unicode kept", "[t](https://例え.jp/パス)", `<a href="https://例え.jp/パス">t</a>`},
		{"link percent", "[t](https://e.com/a%20b%zz|)", `<a href="https://e.com/a%20b%25zz%7C">t</a>`},
		{"link title dropped", `[t](https://e.com "T")`, `<a href="https://e.com">t</a>`},
		{"link tg", "[me](tg://user?id=1)", `<a href="tg://user?id=1">me</a>`},
		{"link mailto", "[m](mailto:a@b.co)", "m (a@b.co)"},
		{"link mailto same text", "[a@b.co](mailto:a@b.co)", "a@b.co"},
		{"link host without dot", "[dash](http://localhost:3000/x)", "dash (http://localhost:3000/x)"},
		{"link ipv6 host", "[v6](http://[::1]:80/)", `<a href="http://[::1]:80/">v6</a>`},
		{"link userinfo", "[u](https://me@e.com:8443/)", `<a href="https://me@e.com:8443/">u</a>`},
		{"link formatted text", "[**b** _i_](https://e.com)", `<a href="https://e.com"><b>b</b> <i>i</i></a>`},
		{"link code text is plain", "[`f()`](https://e.com)", `<a href="https://e.com">f()</a>`},
		{"link empty text", "[](https://e.com)", `<a href="https://e.com">https://e.com</a>`},
		{"link javascript", "[t](javascript:alert(1))", "t (javascript:alert(1))"},
		{"link relative", "[t](/docs)", "t (/docs)"},
		{"link same text", "[ftp://x](ftp://x)", "ftp://x"},
		{"link reference", "[t][r]\n\n[r]: https://e.com", `<a href="https://e.com">t</a>`},
		{"image", "![alt](https://e.com/i.png)", `<a href="https://e.com/i.png">alt</a>`},
		{"image no alt", "![](https://e.com/i.png)", `<a href="https://e.com/i.png">https://e.com/i.png</a>`},
		{"image relative", "![alt](i.png)", "alt (i.png)"},
		{"image data url", "![alt](data:image/png;base64,AAAA)", "alt"},
		{"image in link", "[![ci](https://img.example/b.svg)](https://ci.example)", `<a href="https://ci.example">ci</a>`},
		{"autolink", "<https://e.com>", `<a href="https://e.com">https://e.com</a>`},
		{"autolink email", "<a@b.co>", "a@b.co"},
		{"autolink mailto", "<mailto:a@b.co>", "mailto:a@b.co"},
		{"bare email", "mail a@b.co now", "mail a@b.co now"},
		{"autolink other scheme", "<irc://x>", "irc://x"},
		{"bare www", "see www.e.com now", `see <a href="http://www.e.com">www.e.com</a> now`},
		{"bare url", "at https://e.com/x.", `at <a href="https://e.com/x">https://e.com/x</a>.`},
		{"heading", "# H", "<b>H</b>"},
		{"heading with markup", "## H *i* **b**", "<b>H <i>i</i> b</b>"},
		{"setext heading", "H\n===", "<b>H</b>"},
		{"heading then text", "# H\ntext", "<b>H</b>\n\ntext"},
		{"empty heading", "#", ""},
		{"bullets", "- a\n- b", "• a\n• b"},
		{"bullet markers split lists", "- a\n* b", "• a\n\n• b"},
		{"nested bullets", "- a\n  - b\n    - c\n- d", "• a\n  • b\n    • c\n• d"},
		{"ordered", "1. a\n2. b", "1. a\n2. b"},
		{"ordered start and paren", "3) a\n4) b", "3) a\n4) b"},
		{"ordered nested in bullet", "- a\n  1. b\n  2. c", "• a\n  1. b\n  2. c"},
		{"loose list", "- a\n\n- b", "• a\n\n• b"},
		{"item continuation", "- a\n  b", "• a\n  b"},
		{"item paragraphs", "- a\n\n  b", "• a\n\n  b"},
		{"item code block", "- a\n  ```\n  x\n  ```", "• a\n<pre>x</pre>"},
		{"nested item code block", "- a\n  - b\n\n        c", "• a\n  • b\n\n<pre>c</pre>"},
		{"item empty code block", "- a\n\n  ```\n  ```\n- b", "• a\n\n• b"},
		{"item quote", "1. a\n   > q", "1. a\n<blockquote>q</blockquote>"},
		{"empty item", "-", "• "},
		{"tasks", "- [ ] a\n- [x] b", "☐ a\n☑ b"},
		{"ordered task", "1. [x] a", "1. ☑ a"},
		{"table", "| a | b |\n|:--|--:|\n| long | 1 |",
			"<pre>| a    | b |\n|------|---|\n| long | 1 |</pre>"},
		{"table center", "| c |\n|:-:|\n| x |\n| xyz |", "<pre>|  c  |\n|-----|\n|  x  |\n| xyz |</pre>"},
		{"table markup stripped", "| **b** | `a\\|b` | [t](https://e.com) |\n|-|-|-|\n| <i> | & | 1 |",
			"<pre>| b   | a|b | t (https://e.com) |\n|-----|-----|-------------------|\n| &lt;i&gt; | &amp;   | 1                 |</pre>"},
		{"table wide characters", "| 漢字 | x |\n|-|-|\n| ab | y |", "<pre>| 漢字 | x |\n|------|---|\n| ab   | y |</pre>"},
		{"table short row", "| a | b |\n|-|-|\n| 1 |", "<pre>| a | b |\n|---|---|\n| 1 |   |</pre>"},
		{"thematic break", "a\n\n***\n\nb", "a\n\n———\n\nb"},
		{"inline raw html", "a <b>x</b>", "a &lt;b&gt;x&lt;/b&gt;"},
		{"html block", "<div>\nx & y\n</div>", "&lt;div&gt;\nx &amp; y\n&lt;/div&gt;"},
		{"script block", "<script>\nalert(1)\n</script>", "&lt;script&gt;\nalert(1)\n&lt;/script&gt;"},
		{"comment", "a <!-- c --> b", "a &lt;!-- c --&gt; b"},
		{"entities decoded", "&amp; &lt; &copy; &#x27; &#65; &#0; &nbsp;", "&amp; &lt; © ' A \uFFFD \u00a0"},
		{"unknown entity literal", "&bogus; &#xZZ;", "&amp;bogus; &amp;#xZZ;"},
		{"text escaped", `a & b < c > d "q" 'r'`, `a &amp; b &lt; c &gt; d "q" 'r'`},
		{"backslash escapes", `\*not\* \_em\_ \<b\> \\ \a`, `*not* _em_ &lt;b&gt; \ \a`},
		{"unclosed bold", "**bold", "**bold"},
		{"unclosed italic", "_it", "_it"},
		{"unclosed code", "`code", "`code"},
		{"unclosed link", "[t](/x", "[t](/x"},
		{"crlf", "a\r\nb\r\n\r\nc", "a\nb\n\nc"},
		{"invalid utf8", "a\xffb", "a\uFFFDb"},
		{"nul", "a\x00b", "a\uFFFDb"},
		{"emoji and rtl", "👨‍👩‍👧 🇩🇪 👍🏽 שלום مرحبا", "👨‍👩‍👧 🇩🇪 👍🏽 שלום مرحبا"},
	}
}

func TestRenderHTML_Constructs(t *testing.T) {
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := RenderHTML(tc.md)
			if got != tc.want {
				t.Errorf("RenderHTML(%q)\n got %q\nwant %q", tc.md, got, tc.want)
			}
			if err := ValidateHTML(got); err != nil {
				t.Errorf("RenderHTML(%q) = %q: %v", tc.md, got, err)
			}
		})
	}
}

func TestRenderHTML_ListIndentIsCapped(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		b.WriteString(strings.Repeat("  ", i) + "- x\n")
	}
	got := RenderHTML(b.String())
	for line := range strings.SplitSeq(got, "\n") {
		if ind := len(line) - len(strings.TrimLeft(line, " ")); ind > htmlMaxIndent {
			t.Fatalf("line %q indented %d spaces, want at most %d", line, ind, htmlMaxIndent)
		}
	}
}

func TestRenderHTML_ConcurrentCallsAgree(t *testing.T) {
	md := rendertest.SampleReply()
	want := RenderHTML(md)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if got := RenderHTML(md); got != want {
					t.Errorf("concurrent RenderHTML differs")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestFormatPlainText_KeepsEveryCharacter(t *testing.T) {
	for _, md := range []string{"", "**b** <i> &amp;", "```go\nx\n", "a\r\nb"} {
		if got := PlainText(md); got != md {
			t.Errorf("PlainText(%q) = %q, want it unchanged", md, got)
		}
	}
	if got := PlainText("a\xffb"); got != "a\uFFFDb" {
		t.Errorf("PlainText(invalid UTF-8) = %q", got)
	}
}

func TestVisibleLen(t *testing.T) {
	for _, tc := range []struct {
		html string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"<b>a</b><i>b</i>", 2},
		{`<a href="https://e.com/?a=1&amp;b=2">t</a>`, 1},
		{"&lt;&gt;&amp;&quot;", 4},
		{"é", 1},
		{"😀", 2},
		{"&#x1F600;&#128512;", 4},
		{"👨‍👩‍👧", 8},
		{`<pre><code class="language-go">x</code></pre>`, 1},
		{"a\nb", 3},
	} {
		if got := VisibleLen(tc.html); got != tc.want {
			t.Errorf("VisibleLen(%q) = %d, want %d", tc.html, got, tc.want)
		}
	}
}

func TestValidateHTML_Accepts(t *testing.T) {
	for _, s := range []string{
		"",
		"plain \"text\" 'quoted'",
		"<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s><strike>k</strike><del>d</del>",
		"<b>a <i>b <s>c <u>d</u></s></i></b>",
		"<tg-spoiler>x</tg-spoiler> <span class=\"tg-spoiler\">y</span>",
		`<pre><code class="language-c++">x</code></pre>`,
		"<pre>x</pre><code>y</code>",
		`<a href="https://e.com/?a=1&amp;b=&quot;2&quot;">t <b>b</b></a>`,
		`<a href="tg://user?id=1">u</a> <a href="http://[::1]/">v6</a>`,
		"<blockquote>q <b>b</b>\n<pre>x</pre></blockquote>",
		"<blockquote expandable>long</blockquote>",
		"&lt;&gt;&amp;&quot;&#65;&#x1F600;&#X41;",
	} {
		if err := ValidateHTML(s); err != nil {
			t.Errorf("ValidateHTML(%q) = %v, want nil", s, err)
		}
	}
}

func TestValidateHTML_Rejects(t *testing.T) {
	for _, s := range []string{
		"<p>x</p>",
		"<B>x</B>",
		"<b>x",
		"x</b>",
		"<b><i>x</b></i>",
		"a > b",
		"a & b",
		"&nbsp;",
		"&lt",
		"&#xD800;",
		"&#0;",
		"&#x110000;",
		"<b",
		"\xff",
		"<code><b>x</b></code>",
		"<pre><pre>x</pre></pre>",
		"<pre>x<code>y</code></pre>",
		`<pre><code class="language-go">x</code>y</pre>`,
		`<code class="language-go">x</code>`,
		`<pre><code class="language-a b">x</code></pre>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href="mailto:a@b.co">x</a>`,
		`<a href="http://localhost/">x</a>`,
		"<a>x</a>",
		`<a href="https://e.com" title="t">x</a>`,
		`<a href='https://e.com'>x</a>`,
		`<a href="https://e.com>x</a>`,
		`<a href="https://a"><a href="https://b">x</a></a>`,
		`<a href="https://a"><code>x</code></a>`,
		"<blockquote><blockquote>x</blockquote></blockquote>",
		"<b><pre>x</pre></b>",
		"<b><blockquote>x</blockquote></b>",
		"<span>x</span>",
		`<b class="x">x</b>`,
	} {
		if err := ValidateHTML(s); err == nil {
			t.Errorf("ValidateHTML(%q) = nil, want an error", s)
		}
	}
}

func TestRender_MarkupAloneFallsBackToPlainText(t *testing.T) {
	text, mode, err := render(engine.Outgoing{Text: "```"})
	if err != nil || text != "```" || mode != "" {
		t.Errorf("render(```) = %q, %q, %v; want the plain characters", text, mode, err)
	}
}
