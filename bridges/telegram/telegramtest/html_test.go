package telegramtest

import (
	"reflect"
	"strings"
	"testing"
)

func TestFormat_HTML(t *testing.T) {
	cases := []struct {
		name, in, text string
		ents           []Entity
	}{
		{"plain", "hello", "hello", nil},
		{"utf16 offsets after an emoji", "😀 <b>bold</b> é <i>x</i>", "😀 bold é x",
			[]Entity{{Type: "bold", Offset: 3, Length: 4}, {Type: "italic", Offset: 10, Length: 1}}},
		{"emoji inside an entity", "<u>a😀b</u>", "a😀b", []Entity{{Type: "underline", Offset: 0, Length: 4}}},
		// TDLib splits an entity that has others nested in it
		{"nested", "<b>bold <i>both</i></b>", "bold both",
			[]Entity{{Type: "bold", Offset: 0, Length: 5}, {Type: "bold", Offset: 5, Length: 4}, {Type: "italic", Offset: 5, Length: 4}}},
		{"synonyms", "<strong>a</strong><em>b</em><ins>c</ins><strike>d</strike><del>e</del><s>f</s>", "abcdef",
			[]Entity{{Type: "bold", Offset: 0, Length: 1}, {Type: "italic", Offset: 1, Length: 1},
				{Type: "underline", Offset: 2, Length: 1}, {Type: "strikethrough", Offset: 3, Length: 3}}},
		{"character references", "AT&T &amp; &lt;tag&gt; &quot;q&quot; &#65;&#x42; &lt without semicolon",
			`AT&T & <tag> "q" AB < without semicolon`, nil},
		{"unknown named reference stays", "&nbsp;x", "&nbsp;x", nil},
		{"astral reference counts two units", "&#128512;<b>x</b>", "😀x", []Entity{{Type: "bold", Offset: 2, Length: 1}}},
		{"link", `<a href="https://example.com/path?q=1">go</a>`, "go",
			[]Entity{{Type: "text_link", Offset: 0, Length: 2, URL: "https://example.com/path?q=1"}}},
		{"bare host link gets a slash", `<a href='https://example.com'>go</a>`, "go",
			[]Entity{{Type: "text_link", Offset: 0, Length: 2, URL: "https://example.com/"}}},
		{"invalid link is dropped", `<a href="javascript:alert(1)">x</a>`, "x", nil},
		{"pre with language", `<pre><code class="language-go">x := 1</code></pre>`, "x := 1",
			[]Entity{{Type: "pre", Offset: 0, Length: 6, Language: "go"}}},
		// code can't be part of another entity (but a blockquote)
		{"code in bold", "<b>a <code>c</code></b>", "a c",
			[]Entity{{Type: "bold", Offset: 0, Length: 2}, {Type: "code", Offset: 2, Length: 1}}},
		{"code in a blockquote", "<blockquote>a <code>c</code></blockquote>", "a c",
			[]Entity{{Type: "blockquote", Offset: 0, Length: 3}, {Type: "code", Offset: 2, Length: 1}}},
		{"adjacent bold merges", "<b>a</b><b>b</b>", "ab", []Entity{{Type: "bold", Offset: 0, Length: 2}}},
		{"tabs become spaces, CR goes", "<code>a\tb\r\nc</code>", "a b\nc", []Entity{{Type: "code", Offset: 0, Length: 5}}},
		{"bold inside pre is dropped", "<pre>a<b>b</b></pre>", "ab", []Entity{{Type: "pre", Offset: 0, Length: 2}}},
		{"bold in bold merges", "<b>a<b>b</b></b>", "ab", []Entity{{Type: "bold", Offset: 0, Length: 2}}},
		{"spoilers", `<tg-spoiler>a</tg-spoiler><span class="tg-spoiler">b</span>`, "ab",
			[]Entity{{Type: "spoiler", Offset: 0, Length: 2}}},
		{"blockquotes", "<blockquote>q</blockquote>\n<blockquote expandable>e</blockquote>", "q\ne",
			[]Entity{{Type: "blockquote", Offset: 0, Length: 1}, {Type: "expandable_blockquote", Offset: 2, Length: 1}}},
		{"custom emoji", `<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`, "👍",
			[]Entity{{Type: "custom_emoji", Offset: 0, Length: 2, CustomEmojiID: "5368324170671202286"}}},
		{"empty entity vanishes", "a<b></b>b", "ab", nil},
		{"upper-case tags", "<B>x</B>", "x", []Entity{{Type: "bold", Offset: 0, Length: 1}}},
		{"trimmed", "\n  <b>x</b> \n\n", "x", []Entity{{Type: "bold", Offset: 0, Length: 1}}},
		{"ltrim stops at the first entity", "  <b>  x</b>", "  x", []Entity{{Type: "bold", Offset: 0, Length: 3}}},
		{"automatic entities", "hi @ann, /start@chatbridge_bot #tag https://x.org/a.",
			"hi @ann, /start@chatbridge_bot #tag https://x.org/a.",
			[]Entity{{Type: "mention", Offset: 3, Length: 4}, {Type: "bot_command", Offset: 9, Length: 21},
				{Type: "hashtag", Offset: 31, Length: 4}, {Type: "url", Offset: 36, Length: 15}}},
		{"no automatic entity inside code", "<code>@ann</code>", "@ann", []Entity{{Type: "code", Offset: 0, Length: 4}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := formatText(c.in, "HTML", nil, false)
			if err != nil {
				t.Fatalf("formatText(%q): %v", c.in, err)
			}
			if f.text != c.text {
				t.Errorf("text = %q, want %q", f.text, c.text)
			}
			if got := exportEntities(f.entities); !reflect.DeepEqual(got, c.ents) {
				t.Errorf("entities = %+v, want %+v", got, c.ents)
			}
		})
	}
}

func TestFormat_HTMLErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"<b>x", `Can't find end tag corresponding to start tag "b"`},
		{"<b><i>x</b>", `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{"<foo>x</foo>", `Unsupported start tag "foo" at byte offset 0`},
		{"1 < 2", `Unsupported start tag "" at byte offset 2`},
		{"ab<br/>", `Unsupported start tag "br/" at byte offset 2`},
		{"x</b>", `Unexpected end tag at byte offset 1`},
		{"<b", `Unclosed start tag at byte offset 0`},
		{"<b>x</b", `Unclosed end tag at byte offset 4`},
		{`<a href="x>y`, `Unclosed start tag at byte offset 0`},
		{"<a href=x!>", `Unexpected end of name token at byte offset 8`},
		{"<a href=>x", `Can't find end tag corresponding to start tag "a"`},
		{"<b =1>x</b>", `Empty attribute name in the tag "b" at byte offset 0`},
		{"<span>x</span>", `Tag "span" must have class "tg-spoiler" at byte offset 0`},
		{`<tg-emoji emoji-id="x">y</tg-emoji>`, `Invalid custom emoji identifier specified`},
		{"&#xD83D;", "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units"},
		{"é<x>", `Unsupported start tag "x" at byte offset 2`},
	}
	for _, c := range cases {
		_, err := formatText(c.in, "HTML", nil, false)
		if err == nil || err.Error() != c.want {
			t.Errorf("formatText(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestFormat_MarkdownV2(t *testing.T) {
	f, err := formatText("*b* _i_ __u__ ~s~ ||p|| `c` [l](https://t.me) ```go\nx\n``` a\\.b", "MarkdownV2", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "b i u s p c l x\n a.b"; f.text != want {
		t.Errorf("text = %q, want %q", f.text, want)
	}
	want := []Entity{{Type: "bold", Offset: 0, Length: 1}, {Type: "italic", Offset: 2, Length: 1},
		{Type: "underline", Offset: 4, Length: 1}, {Type: "strikethrough", Offset: 6, Length: 1},
		{Type: "spoiler", Offset: 8, Length: 1}, {Type: "code", Offset: 10, Length: 1},
		{Type: "text_link", Offset: 12, Length: 1, URL: "https://t.me/"},
		{Type: "pre", Offset: 14, Length: 2, Language: "go"}}
	if got := exportEntities(f.entities); !reflect.DeepEqual(got, want) {
		t.Errorf("entities = %+v\nwant %+v", got, want)
	}

	for in, msg := range map[string]string{
		"Done.":      `Character '.' is reserved and must be escaped with the preceding '\'`,
		"1-2":        `Character '-' is reserved and must be escaped with the preceding '\'`,
		"a!":         `Character '!' is reserved and must be escaped with the preceding '\'`,
		"*bold":      `Can't find end of Bold entity at byte offset 0`,
		"x _it":      `Can't find end of Italic entity at byte offset 2`,
		"```\ncode":  "Can't find end of Pre entity at byte offset 0",
		"[a](b":      "Can't find end of a URL at byte offset 4",
		"x > y":      `Character '>' is reserved and must be escaped with the preceding '\'`,
		"`a.b` c.d":  `Character '.' is reserved and must be escaped with the preceding '\'`,
		"||x| y||z|": `Character '|' is reserved and must be escaped with the preceding '\'`,
	} {
		_, err := formatText(in, "MarkdownV2", nil, false)
		if err == nil || err.Error() != msg {
			t.Errorf("MarkdownV2 %q: %v, want %q", in, err, msg)
		}
	}
	if f, err := formatText(">quoted\n>lines\nafter", "MarkdownV2", nil, false); err != nil ||
		f.text != "quoted\nlines\nafter" || len(f.entities) != 1 || f.entities[0].k != kBlockQuote {
		t.Errorf("blockquote: %q %+v %v", f.text, f.entities, err)
	}
	if f, err := formatText("`1.5 - x`", "MarkdownV2", nil, false); err != nil || f.text != "1.5 - x" {
		t.Errorf("reserved characters in code: %q %v", f.text, err)
	}
}

func TestFormat_Markdown(t *testing.T) {
	f, err := formatText("*b* _i_ `c` [l](https://t.me) ```py\nx``` 1.5-2!", "Markdown", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "b i c l x 1.5-2!"; f.text != want {
		t.Errorf("text = %q, want %q", f.text, want)
	}
	if _, err := formatText("snake_case", "Markdown", nil, false); err == nil ||
		err.Error() != "Can't find end of the entity starting at byte offset 5" {
		t.Errorf("unclosed: %v", err)
	}
}

func TestFormat_EmptyAndModes(t *testing.T) {
	for _, in := range []string{"", "  \n ", "<b> </b>", "<i></i>"} {
		if _, err := formatText(in, "HTML", nil, false); err != errEmptyText {
			t.Errorf("formatText(%q) = %v, want empty", in, err)
		}
		if f, err := formatText(in, "HTML", nil, true); err != nil || f.text != "" {
			t.Errorf("allowEmpty %q: %q %v", in, f.text, err)
		}
	}
	if _, err := formatText("x", "bbcode", nil, false); err != errBadParseMode {
		t.Errorf("bad mode: %v", err)
	}
	if f, err := formatText("<b>x</b>", "", nil, false); err != nil || f.text != "<b>x</b>" || len(f.entities) != 0 {
		t.Errorf("plain text: %q %+v %v", f.text, f.entities, err)
	}
	if f, err := formatText("<b>x</b>", "html", nil, false); err != nil || f.text != "x" {
		t.Errorf("lower-case mode: %q %v", f.text, err)
	}
	es, _ := importEntities([]Entity{{Type: "bold", Offset: 0, Length: 2}, {Type: "pre", Offset: 3, Length: 9, Language: "go"}})
	if f, err := formatText("ab cd", "", es, false); err != nil ||
		!reflect.DeepEqual(exportEntities(f.entities), []Entity{{Type: "bold", Offset: 0, Length: 2}, {Type: "pre", Offset: 3, Length: 2, Language: "go"}}) {
		t.Errorf("explicit entities: %+v %v", exportEntities(f.entities), err)
	}
}

func TestFormat_SplittableAroundLinks(t *testing.T) {
	// An automatic entity makes TDLib re-split bold around every
	// continuous entity, text links included.
	f, err := formatText(`<b>a <a href="https://t.me">b</a> c</b> @ann`, "HTML", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entity{{Type: "bold", Offset: 0, Length: 2}, {Type: "text_link", Offset: 2, Length: 1, URL: "https://t.me/"},
		{Type: "bold", Offset: 2, Length: 1}, {Type: "bold", Offset: 3, Length: 2}, {Type: "mention", Offset: 6, Length: 4}}
	if got := exportEntities(f.entities); !reflect.DeepEqual(got, want) {
		t.Errorf("entities = %+v\nwant %+v", got, want)
	}
}

func TestUTF16Len(t *testing.T) {
	for s, n := range map[string]int{"": 0, "abc": 3, "é": 1, "😀": 2, "a😀b": 4, strings.Repeat("👍", 10): 20, "日本": 2} {
		if got := UTF16Len(s); got != n {
			t.Errorf("UTF16Len(%q) = %d, want %d", s, got, n)
		}
	}
}

func TestCheckedLink(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.com":      "https://example.com/",
		"https://example.com/a":    "https://example.com/a",
		"example.com":              "http://example.com/",
		"http://localhost:8080":    "http://localhost:8080/",
		"tg://resolve?domain=x":    "tg://resolve?domain=x",
		"javascript:alert(1)":      "",
		"https://exa mple.com":     "",
		"":                         "",
		"word":                     "",
		"https://example.com?q=1":  "https://example.com?q=1",
		"ftp://files.example.org/": "ftp://files.example.org/",
	} {
		if got := checkedLink(in); got != want {
			t.Errorf("checkedLink(%q) = %q, want %q", in, got, want)
		}
	}
}
