package slack

import (
	"strings"
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/engine"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

// Shorthands for the invisible characters in the expected outputs.
const (
	fmtZW = "\u200b" // zero width space
	fmtWJ = "\u2060" // word joiner
)

// renderCases are Markdown constructs with the exact mrkdwn expected.
func renderCases() []struct{ name, md, want string } {
	return []struct{ name, md, want string }{
		{"empty", "", ""},
		{"paragraphs", "one\n\ntwo", "one\n\ntwo"},
		{"soft break", "one\ntwo", "one\ntwo"},
		{"hard break spaces", "one  \ntwo", "one\ntwo"},
		{"hard break backslash", "one\\\ntwo", "one\ntwo"},
		{"bold stars", "**b**", "*b*"},
		{"bold underscores", "__b__", "*b*"},
		{"italic star", "*i*", "_i_"},
		{"italic underscore", "_i_", "_i_"},
		{"bold italic", "***x***", "_*x*_"},
		{"bold in bold merged", "**a **b** c**", "*a b c*"},
		{"italic in bold", "**a *b* c**", "*a _b_ c*"},
		{"strike", "~~s~~", "~s~"},
		{"strike single tilde", "~s~", "~s~"},
		{"bold punctuation inside", "**Note:** x", "*Note:* x"},
		{"bold inside word", "foo**bar**baz", "foo" + fmtZW + "*bar*" + fmtZW + "baz"},
		{"bold next to cjk", "这是**粗体**文字", "这是" + fmtZW + "*粗体*" + fmtZW + "文字"},
		{"bold across lines", "**a\nb**", "*a*\n*b*"},
		{"italic across hard break", "_a  \nb_ c", "_a_\n_b_ c"},
		{"emphasis of a space dropped", "*&#32;*", " "},
		{"space moved out of bold", "**&#32;a**", " *a*"},
		{"code span", "`a*b_c`", "`a*b_c`"},
		{"code span escaped", "`a<b && c>d`", "`a&lt;b &amp;&amp; c&gt;d`"},
		{"code span keeps entities literal", "`&amp;`", "`&amp;amp;`"},
		{"code span with backtick is text", "``a ` b``", "a ` b"},
		{"code span with backticks is text", "``a ` b ` c``", "a <!date^00000000^{_}|`> b <!date^00000000^{_}|`> c"},
		{"code span of spaces", "`  `", "  "},
		{"code span in word", "x`y`z", "x" + fmtZW + "`y`" + fmtZW + "z"},
		{"code span in bold", "**a `c` b**", "*a `c` b*"},
		{"fence with language", "```go\nx := 1\n```", "```\nx := 1\n```"},
		{"fence keeps markup literal", "```\n**b** <i> &amp; _x_ @here\n```", "```\n**b** &lt;i&gt; &amp;amp; _x_ @here\n```"},
		{"fence blank lines", "```\nx\n\ny\n```", "```\nx\n\ny\n```"},
		{"tilde fence holds backtick fence", "~~~~\n```\nin\n```\n~~~~", "```\n``" + fmtZW + "`\nin\n``" + fmtZW + "`\n```"},
		{"fence with long backtick run", "~~~\na`````b\n~~~", "```\na``" + fmtZW + "``" + fmtZW + "`b\n```"},
		{"indented code", "    code()\n      more", "```\ncode()\n  more\n```"},
		{"unclosed fence", "```go\nfunc", "```\nfunc\n```"},
		{"empty fence", "```go\n", ""},
		{"bare fence", "```", ""},
		{"text then fence", "see:\n```\nx\n```\nafter", "see:\n\n```\nx\n```\n\nafter"},
		{"quote", "> q", "> q"},
		{"quote lines", "> a\n> b\n>\n> c", "> a\n> b\n>\n> c"},
		{"nested quote flattened", "> a\n>\n> > b", "> a\n>\n> b"},
		{"quote with code", "> x\n> ```\n> y\n> ```", "> x\n>\n> ```\n> y\n> ```"},
		{"quote then text", "> q\n\nt", "> q\n\nt"},
		{"quote with bold across lines", "> **a\n> b**", "> *a*\n> *b*"},
		{"link", "[t](https://e.com)", "<https://e.com|t>"},
		{"link escaped target", `[t](https://e.com/?a=1&b="x"|y)`, "<https://e.com/?a=1&amp;b=%22x%22%7Cy|t>"},
		{"link pipe in text", "[a|b](https://e.com)", "<https://e.com|a∣b>"},
		{"link angle in text", "[a>b <c](https://e.com)", "<https://e.com|a&gt;b &lt;c>"},
		{"link formatted text is plain", "[**b** _i_ `c`](https://e.com)", "<https://e.com|b i c>"},
		{"link text across lines", "[a\nb](https://e.com)", "<https://e.com|a b>"},
		{"bold link", "**[t](https://e.com)**", "*<https://e.com|t>*"},
		{"link empty text", "[](https://e.com)", "<https://e.com>"},
		{"link mailto", "[m](mailto:a@b.co)", "<mailto:a@b.co|m>"},
		{"link unicode kept", "[t](https://例え.jp/パス)", "<https://例え.jp/パス|t>"},
		{"link title dropped", `[t](https://e.com "T")`, "<https://e.com|t>"},
		{"link url with markers", "[t](https://e.com/~u/a_b_c*)", "<https://e.com/~u/a_b_c*|t>"},
		{"link javascript", "[t](javascript:alert(1))", "t (javascript:alert(1))"},
		{"link relative", "[t](/docs)", "t (/docs)"},
		{"link to mention", "[x](<@U123>)", "x (@U123)"},
		{"link reference", "[t][r]\n\n[r]: https://e.com", "<https://e.com|t>"},
		{"image", "![alt](https://e.com/i.png)", "<https://e.com/i.png|alt>"},
		{"image no alt", "![](https://e.com/i.png)", "<https://e.com/i.png>"},
		{"image data url", "![alt](data:image/png;base64,AAAA)", "alt"},
		{"image in link", "[![ci](https://img.example/b.svg)](https://ci.example)", "<https://ci.example|ci>"},
		{"autolink", "<https://e.com>", "<https://e.com>"},
		{"autolink email", "<a@b.co>", "<mailto:a@b.co|a@b.co>"},
		{"autolink other scheme", "<irc://x>", "&lt;irc://x&gt;"},
		{"autolink email without dot", "<a@b>", "&lt;a@b&gt;"},
		{"bare www", "see www.e.com now", "see <http://www.e.com|www.e.com> now"},
		{"bare url", "at https://e.com/x_y.", "at <https://e.com/x_y>."},
		{"bare url in bold", "**https://e.com/x/**", "*<https://e.com/x/>*"},
		{"heading", "# H", "*H*"},
		{"heading with markup", "## H *i* **b**", "*H _i_ b*"},
		{"setext heading", "H\n===", "*H*"},
		{"heading then text", "# H\ntext", "*H*\n\ntext"},
		{"empty heading", "#", ""},
		{"bullets", "- a\n- b", "• a\n• b"},
		{"nested bullets", "- a\n  - b\n    - c\n- d", "• a\n    • b\n        • c\n• d"},
		{"ordered", "1. a\n2. b", "1. a\n2. b"},
		{"ordered start and paren", "3) a\n4) b", "3) a\n4) b"},
		{"ordered nested in bullet", "- a\n  1. b\n  2. c", "• a\n    1. b\n    2. c"},
		{"loose list", "- a\n\n- b", "• a\n\n• b"},
		{"item continuation", "- a\n  b", "• a\n    b"},
		{"item code block at margin", "- a\n  ```\n  x\n  ```", "• a\n```\nx\n```"},
		{"item starting with code block", "- ```\n  x\n  ```", "• \n```\nx\n```"},
		{"quoted item starting with quoted code", "> * >```\n>   >00", "> • \n> ```\n> 00\n> ```"},
		{"item quote", "- a\n\n  > q", "• a\n\n>     q"},
		{"empty item", "-", "• "},
		{"tasks", "- [ ] a\n- [x] b", "☐ a\n☑ b"},
		{"ordered task", "1. [x] a", "1. ☑ a"},
		{"table", "| a | b |\n|:--|--:|\n| long | 1 |",
			"```\n| a    | b |\n|------|---|\n| long | 1 |\n```"},
		{"table center", "| c |\n|:-:|\n| x |\n| xyz |", "```\n|  c  |\n|-----|\n|  x  |\n| xyz |\n```"},
		{"table markup stripped", "| **b** | `a\\|b` | [t](https://e.com) |\n|-|-|-|\n| <i> | & | 1 |",
			"```\n| b   | a|b | t (https://e.com) |\n|-----|-----|-------------------|\n| &lt;i&gt; | &amp;   | 1                 |\n```"},
		{"table wide characters", "| 漢字 | x |\n|-|-|\n| ab | y |", "```\n| 漢字 | x |\n|------|---|\n| ab   | y |\n```"},
		{"thematic break", "a\n\n***\n\nb", "a\n\n———\n\nb"},
		{"inline raw html", "a <b>x</b>", "a &lt;b&gt;x&lt;/b&gt;"},
		{"inline raw html across lines", "> **a <span\n> class=x>**", "> *a &lt;span*\n> *class=x&gt;*"},
		{"inline raw html across lines in link", "[a <span\nclass=x>](https://e.com)", "<https://e.com|a &lt;span class=x&gt;>"},
		{"html block", "<div>\nx & y\n</div>", "&lt;div&gt;\nx &amp; y\n&lt;/div&gt;"},
		{"entities decoded", "&amp; &lt; &copy; &#65; &#0;", "&amp; &lt; © A \uFFFD"},
		{"entity line end in italic", "*0&#10;1&#13;2*", "_0_\n_1 2_"},
		{"entity line end in table", "| a&#10;b&#13;c |\n|-|", "```\n| a b c |\n|-------|\n```"},
		{"text escaped", `a & b < c > d "q"`, `a &amp; b &lt; c &gt; d "q"`},
		{"literal gt at line start", `\> not a quote`, fmtZW + "&gt; not a quote"},
		{"snake case untouched", "use snake_case_name here", "use snake_case_name here"},
		{"products untouched", "2*3*4 and 2 * 3", "2*3*4 and 2 * 3"},
		{"escaped stars neutralised", `\*not bold\*`, "<!date^00000000^{_}|*>not bold<!date^00000000^{_}|*>"},
		{"escaped underscores neutralised", `\_not italic\_`, "<!date^00000000^{_}|_>not italic<!date^00000000^{_}|_>"},
		{"escaped tildes neutralised", `\~\~x\~\~`, "<!date^00000000^{_}|~~>x<!date^00000000^{_}|~~>"},
		{"backtick run split", "x ```a` b", "x <!date^00000000^{_}|``><!date^00000000^{_}|`>a<!date^00000000^{_}|`> b"},
		{"leading underscore", "call _private now", "call _private now"},
		{"python stars", "f(*args, **kwargs)", "f(*args, **kwargs)"},
		{"approximations", "~40 MB vs ~10 MB", "~40 MB vs ~10 MB"},
		{"tilde path", "in ~/.config today", "in ~/.config today"},
		{"intraword emphasis is a product", "a*b*c and 2*x*y", "a*b*c and 2*x*y"},
		{"intraword bold kept", "un**believ**able", "un" + fmtZW + "*believ*" + fmtZW + "able"},
		{"unclosed bold", "**bold", "**bold"},
		{"unclosed bold then star", "**bold and *x", "**bold and *x"},
		{"unclosed bold before bold", "*a **b**", "<!date^00000000^{_}|*>a *b*"},
		{"unclosed italic", "_it", "_it"},
		{"unclosed code", "`code", "`code"},
		{"code span then lone backtick", "`a `b`", "`a `" + fmtZW + "b<!date^00000000^{_}|`>"},
		{"unclosed strike", "~~gone", "~~gone"},
		{"unclosed link", "[t](/x", "[t](/x"},
		{"literal star inside bold", `**a\***`, "*a<!date^00000000^{_}|*>*"},
		{"literal star in link text", `[a \*b\*](https://e.com)`, "<https://e.com|a ∗b∗>"},
		{"crlf", "a\r\nb\r\n\r\nc", "a\nb\n\nc"},
		{"invalid utf8", "a\xffb", "a\uFFFDb"},
		{"nul", "a\x00b", "a\uFFFDb"},
		{"emoji and rtl", "👨‍👩‍👧 🇩🇪 👍🏽 שלום مرحبا", "👨‍👩‍👧 🇩🇪 👍🏽 שלום مرحبا"},
		{"emoji shortcode kept", ":tada: done", ":tada: done"},
	}
}

func TestRender_Constructs(t *testing.T) {
	for _, tc := range renderCases() {
		t.Run(tc.name, func(t *testing.T) {
			got := Render(tc.md)
			if got != tc.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tc.md, got, tc.want)
			}
			if err := mrkdwnCheck(got); err != nil {
				t.Errorf("Render(%q) = %q: %v", tc.md, got, err)
			}
		})
	}
}

// TestRender_Mentions checks that nothing the model writes can notify a
// channel, a user group or a user.
func TestRender_Mentions(t *testing.T) {
	for _, tc := range []struct{ md, want string }{
		{"<!channel> <!here> <!everyone>", "&lt;!channel&gt; &lt;!here&gt; &lt;!everyone&gt;"},
		{"hi <@U123> in <#C123|general>", "hi &lt;@U123&gt; in &lt;#C123|general&gt;"},
		{"<!subteam^S123|@team>", "&lt;!subteam^S123|@team&gt;"},
		{"<mailto:x@here>", "<mailto:x@here>"},
		{"<!date^1392734382^{date}|x>", "&lt;!date^1392734382^{date}|x&gt;"},
		{"@here look", "@" + fmtWJ + "here look"},
		{"ping @channel, @Everyone!", "ping @" + fmtWJ + "channel, @" + fmtWJ + "Everyone!"},
		{"(@HERE)", "(@" + fmtWJ + "HERE)"},
		{"**@here**", "*@" + fmtWJ + "here*"},
		{"_@channel_ and snake_@here", "_@" + fmtWJ + "channel_ and snake_@" + fmtWJ + "here"},
		{"> @channel", "> @" + fmtWJ + "channel"},
		{"- @everyone", "• @" + fmtWJ + "everyone"},
		{"[@here](https://e.com)", "<https://e.com|@" + fmtWJ + "here>"},
		{"@heretic @channels @here_x ops@here.example", "@heretic @channels @here_x <mailto:ops@here.example|ops@here.example>"},
		{"`@here` stays code", "`@here` stays code"},
		{"``0`@here`", "<!date^00000000^{_}|``>0" + fmtZW + "`@here`"},
		{"https://e.com/#@here", "<https://e.com/#@here>"},
		{"&lt;!here&gt;", "&lt;!here&gt;"},
	} {
		got := Render(tc.md)
		if got != tc.want {
			t.Errorf("Render(%q)\n got %q\nwant %q", tc.md, got, tc.want)
		}
		if err := mrkdwnCheck(got); err != nil {
			t.Errorf("Render(%q) = %q: %v", tc.md, got, err)
		}
	}
}

func TestRender_ListIndentIsCapped(t *testing.T) {
	var b strings.Builder
	for i := range 30 {
		b.WriteString(strings.Repeat("  ", i) + "- x\n")
	}
	got := Render(b.String())
	for line := range strings.SplitSeq(got, "\n") {
		if ind := len(line) - len(strings.TrimLeft(line, " ")); ind > mrkdwnMaxIndent {
			t.Fatalf("line %q indented %d spaces, want at most %d", line, ind, mrkdwnMaxIndent)
		}
	}
}

func TestRender_ConcurrentCallsAgree(t *testing.T) {
	md := rendertest.SampleReply()
	want := Render(md)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if got := Render(md); got != want {
					t.Errorf("concurrent Render differs")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestPlainText(t *testing.T) {
	for _, tc := range []struct{ md, want string }{
		{"", ""},
		{"**b** _i_ `c`", "**b** _i_ `c`"},
		{"a & b <i> c > d", "a &amp; b &lt;i&gt; c &gt; d"},
		{"<!here> <@U1> @here @Channel ops@here.example", "&lt;!here&gt; &lt;@U1&gt; @" + fmtWJ + "here @" + fmtWJ + "Channel ops@here.example"},
		{"@everyone", "@" + fmtWJ + "everyone"},
		{"```go\nx\n", "```go\nx\n"},
		{"a\r\nb", "a\nb"},
		{"a\xffb\x00", "a\uFFFDb\uFFFD"},
	} {
		if got := PlainText(tc.md); got != tc.want {
			t.Errorf("PlainText(%q) = %q, want %q", tc.md, got, tc.want)
		}
	}
}

func TestVisibleLen(t *testing.T) {
	for _, tc := range []struct {
		mrkdwn string
		want   int
	}{
		{"", 0},
		{"abc", 3},
		{"*a* _b_", 7},
		{"&amp;", 5},
		{"<https://e.com|t>", 17},
		{"é", 1},
		{"😀", 1},
		{"👨‍👩‍👧", 5},
		{"a" + fmtZW + "*", 3},
	} {
		if got := VisibleLen(tc.mrkdwn); got != tc.want {
			t.Errorf("VisibleLen(%q) = %d, want %d", tc.mrkdwn, got, tc.want)
		}
	}
}

func TestText_MarkupAloneFallsBackToPlainText(t *testing.T) {
	got, err := text(engine.Outgoing{Text: "```"})
	if err != nil || strings.TrimSpace(got) == "" {
		t.Errorf("text(```) = %q, %v; want the characters, not an empty message", got, err)
	}
}
