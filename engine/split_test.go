package engine

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// splitTB is what the split checks need from *testing.T and *rapid.T.
type splitTB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// checkSplit splits text and checks every invariant Split promises, and
// returns the parts' texts.
func checkSplit(t splitTB, text string, limit int, u LenUnit) []string {
	t.Helper()
	parts := SplitParts(text, limit, u)
	texts := Split(text, limit, u)
	if len(parts) != len(texts) {
		t.Fatalf("Split gave %d parts, SplitParts %d", len(texts), len(parts))
	}
	if text == "" && len(parts) != 0 {
		t.Fatalf("Split(\"\") = %q, want none", texts)
	}
	valid := utf8.ValidString(text)
	var bodies strings.Builder
	for i, p := range parts {
		if p.Text != texts[i] {
			t.Fatalf("part %d: Split %q, SplitParts %q", i, texts[i], p.Text)
		}
		if p.Body == "" {
			t.Fatalf("part %d has an empty body", i)
		}
		if p.Text != p.Reopen+p.Body+p.Close {
			t.Fatalf("part %d: Text %q is not Reopen+Body+Close", i, p.Text)
		}
		if p.Start != bodies.Len() || text[p.Start:p.Start+len(p.Body)] != p.Body {
			t.Fatalf("part %d: Start %d does not locate its body", i, p.Start)
		}
		bodies.WriteString(p.Body)
		if n := u.Len(p.Text); limit > 0 && n > limit {
			// Allowed only for a single character wider than the limit.
			r, size := utf8.DecodeRuneInString(p.Body)
			if size != len(p.Body) || p.Reopen != "" || p.Close != "" || runeUnits(u, r, size) <= limit {
				t.Fatalf("part %d measures %d, limit %d: %q", i, n, limit, p.Text)
			}
		}
		if valid && !utf8.ValidString(p.Body) {
			t.Fatalf("part %d cuts inside a UTF-8 sequence: %q", i, p.Body)
		}
	}
	if bodies.String() != text {
		t.Fatalf("bodies joined differ from the text")
	}
	if got := JoinParts(texts); got != text {
		t.Fatalf("JoinParts differs from the text (limit %d, unit %d)\n got %q\nwant %q\nparts %q", limit, u, got, text, texts)
	}
	if splitRepairable(text, limit, u) {
		for i, s := range texts {
			last := i == len(texts)-1
			if !FencesBalanced(s) && !(last && !FencesBalanced(text)) {
				t.Fatalf("part %d of %d has unbalanced fences (limit %d, unit %d): %q", i, len(texts), limit, u, s)
			}
		}
	}
	return texts
}

// splitRepairable reports whether limit is large enough that Split must keep
// every part's fences balanced: every fence line, and every line holding a
// run of fence characters, fits in a part together with a reopened opener
// and a closer.
func splitRepairable(text string, limit int, u LenUnit) bool {
	if limit <= 0 {
		return true
	}
	longest, run := 0, 0
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.Contains(line, "```") || strings.Contains(line, "~~~") {
			longest = max(longest, u.Len(line))
			for i, n := 0, 0; i < len(line); i++ {
				if n++; i == 0 || line[i] != line[i-1] {
					n = 1
				}
				if line[i] == '`' || line[i] == '~' {
					run = max(run, n)
				}
			}
		}
	}
	return longest == 0 || limit >= 2*longest+run+2+utf8.UTFMax
}

// splitReply builds a reply of at least n characters: paragraphs, a line
// longer than a part, code blocks in several languages (one longer than a
// part), a ~~~ block, emoji and CJK.
func splitReply(n int) string {
	var b strings.Builder
	for i := 0; utf8.RuneCountInString(b.String()) < n; i++ {
		switch i % 8 {
		case 0:
			b.WriteString("Here is a paragraph about streaming replies. It has sentences! Does it? Yes. 😀 👨‍👩‍👧 🇯🇵\n\n")
		case 1:
			b.WriteString("```go\nfunc main() {\n\tfmt.Println(\"hello, 世界 😀\")\n}\n```\n\n")
		case 2:
			b.WriteString(strings.Repeat("a long line without breaks that goes on ", 120) + "\n")
		case 3:
			b.WriteString("```python\n" + strings.Repeat("print('a line of code in a very long block 🐍')\n", 110) + "```\n\n")
		case 4:
			b.WriteString(strings.Repeat("漢字とかなの文章です。これは日本語の文です。", 40) + "😀🎉\n\n")
		case 5:
			b.WriteString("~~~json\n{\"key\": \"value\", \"list\": [1, 2, 3]}\n~~~\n")
		case 6:
			b.WriteString("1. A list item\n2. Another, with `inline code`.\n\n> A quote.\n\n")
		case 7:
			b.WriteString("````markdown\n```sh\necho nested\n```\n````\n\n")
		}
	}
	return b.String()
}

func TestSplit_Acceptance(t *testing.T) {
	reply := splitReply(20000)
	for _, tc := range []struct {
		name  string
		limit int
		unit  LenUnit
	}{
		{"telegram 4096 utf16", 4096, UTF16},
		{"discord 2000 runes", 2000, Runes},
		{"slack 3900 runes", 3900, Runes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts := checkSplit(t, reply, tc.limit, tc.unit)
			if len(parts) < 3 {
				t.Fatalf("parts = %d, want several", len(parts))
			}
			for i, p := range parts {
				if n := tc.unit.Len(p); n > tc.limit {
					t.Errorf("part %d measures %d, want <= %d", i, n, tc.limit)
				}
				if !FencesBalanced(p) {
					t.Errorf("part %d has unbalanced fences", i)
				}
				if i < len(parts)-1 && tc.unit.Len(p) < tc.limit/2 {
					t.Errorf("part %d measures only %d of %d", i, tc.unit.Len(p), tc.limit)
				}
			}
			if got := JoinParts(parts); got != reply {
				t.Errorf("JoinParts differs from the reply (len %d vs %d)", len(got), len(reply))
			}
		})
	}
}

func TestSplit_CutPreference(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		limit int
		unit  LenUnit
		want  []string
	}{
		{"paragraph over line", "aaaa aaaa aaaa aaaa aaaa\n\nbbbb bbbb\ncccc cccc cccc cccc cccc", 40, Runes,
			[]string{"aaaa aaaa aaaa aaaa aaaa\n\n", "bbbb bbbb\ncccc cccc cccc cccc cccc"}},
		{"line over sentence", "Aaaa aaaa aaaa\nBbbb. Cccc dddd eeee ffff", 30, Runes,
			[]string{"Aaaa aaaa aaaa\n", "Bbbb. Cccc dddd eeee ffff"}},
		{"sentence over word", "Aaaa bbbb cccc. Dddd eeee ffff gggg", 25, Runes,
			[]string{"Aaaa bbbb cccc. ", "Dddd eeee ffff gggg"}},
		{"exclamation and question", "Aaaa bbbb! Cccc dd? Eeee ffff gggg", 22, Runes,
			[]string{"Aaaa bbbb! Cccc dd? ", "Eeee ffff gggg"}},
		{"word over hard", "Aaaa bbbb cccc dddddddddddddddd", 20, Runes,
			[]string{"Aaaa bbbb cccc ", "dddddddddddddddd"}},
		{"early word over hard", "Aaaa " + strings.Repeat("b", 32), 20, Runes,
			[]string{"Aaaa ", strings.Repeat("b", 20), strings.Repeat("b", 12)}},
		{"hard", strings.Repeat("x", 50), 20, Runes,
			[]string{strings.Repeat("x", 20), strings.Repeat("x", 20), strings.Repeat("x", 10)}},
		{"latest paragraph", "aa\n\nbb\n\ncc\n\ndd dd dd dd", 14, Runes,
			[]string{"aa\n\nbb\n\ncc\n\n", "dd dd dd dd"}},
		{"half full beats a better early cut", "aa\n\n" + strings.Repeat("b ", 15), 20, Runes,
			[]string{"aa\n\nb b b b b b b b ", "b b b b b b b "}},
		{"CJK sentence", "これは文です。これも文です。", 10, Runes,
			[]string{"これは文です。", "これも文です。"}},
		{"CJK sentence in bytes", "これは文です。これも文です。", 30, Bytes,
			[]string{"これは文です。", "これも文です。"}},
		{"astral at the boundary utf16", strings.Repeat("a", 4095) + "😀b", 4096, UTF16,
			[]string{strings.Repeat("a", 4095), "😀b"}},
		{"astral at the boundary runes", strings.Repeat("a", 4095) + "😀b", 4096, Runes,
			[]string{strings.Repeat("a", 4095) + "😀", "b"}},
		{"ZWJ emoji kept whole", strings.Repeat("a", 8) + "👨‍👩‍👧" + "bbb", 12, Runes,
			[]string{strings.Repeat("a", 8), "👨‍👩‍👧" + "bbb"}},
		{"flag kept whole", strings.Repeat("a", 9) + "🇯🇵🇫🇷", 12, Runes,
			[]string{strings.Repeat("a", 9) + "🇯🇵", "🇫🇷"}},
		{"combining mark kept whole", strings.Repeat("a", 9) + "e\u0301xyz", 10, Runes,
			[]string{strings.Repeat("a", 9), "e\u0301xyz"}},
		{"CRLF kept whole", strings.Repeat("\r\n", 10), 5, Runes,
			[]string{"\r\n\r\n", "\r\n\r\n", "\r\n\r\n", "\r\n\r\n", "\r\n\r\n"}},
		{"CRLF lines", "line one\r\nline two\r\n\r\nline three", 20, Runes,
			[]string{"line one\r\nline two\r\n", "\r\nline three"}},
		{"whitespace stays with a part", "aaaa   bbbb   cccc", 10, Runes,
			[]string{"aaaa   ", "bbbb   ", "cccc"}},
		{"no whitespace-only part", "  \n\n  aaaa bbbb cccc dddd", 12, Runes,
			[]string{"  \n\n  aaaa ", "bbbb cccc ", "dddd"}},
		{"no whitespace-only part before a long cluster", "  a" + strings.Repeat("\u0301", 30), 10, Runes,
			[]string{"  a" + strings.Repeat("\u0301", 7), strings.Repeat("\u0301", 10), strings.Repeat("\u0301", 10), strings.Repeat("\u0301", 3)}},
		{"fits", "short text", 100, Runes, []string{"short text"}},
		{"unlimited", strings.Repeat("x", 100), 0, Runes, []string{strings.Repeat("x", 100)}},
		{"negative limit", "abc", -5, Runes, []string{"abc"}},
		{"empty", "", 10, Runes, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkSplit(t, tc.text, tc.limit, tc.unit)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Errorf("Split =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestSplit_Sizes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		limit int
		unit  LenUnit
		parts int
	}{
		{"10000-char word", strings.Repeat("w", 10000), 4096, Runes, 3},
		{"10000 emoji utf16", strings.Repeat("😀", 10000), 4096, UTF16, 5},
		{"10000 emoji bytes", strings.Repeat("😀", 10000), 4095, Bytes, 10},
		{"only whitespace", strings.Repeat(" \n\t", 3000), 1000, Runes, 9},
		{"CJK without spaces", strings.Repeat("漢", 5000), 2000, Runes, 3},
		{"limit below one character", "😀😀", 1, UTF16, 2},
		{"limit below one character in bytes", "é😀", 3, Bytes, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkSplit(t, tc.text, tc.limit, tc.unit)
			if len(got) != tc.parts {
				t.Errorf("parts = %d, want %d", len(got), tc.parts)
			}
		})
	}
}

func TestSplit_Fences(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		limit int
		unit  LenUnit
		want  []string
	}{
		{"tilde fence reopened with its info",
			"~~~py\nl1 = 1\nl2 = 2\nl3 = 3\n~~~\nend", 20, Runes,
			[]string{"~~~py\nl1 = 1\n~~~", "~~~py\nl2 = 2\n~~~", "~~~py\nl3 = 3\n~~~\nend"}},
		{"backtick fence cut mid-line gets a longer closer",
			"```go\n" + strings.Repeat("x", 30) + "\n```", 20, Runes,
			[]string{"```go\n" + strings.Repeat("x", 9) + "\n````", "```go\n" + strings.Repeat("x", 9) + "\n````", "```go\n" + strings.Repeat("x", 9) + "\n````", "```go\nxxx\n```"}},
		{"four backticks",
			"````\na\nb\nc\n````\n", 13, Runes,
			[]string{"````\na\nb\n````", "````\nc\n````\n"}},
		{"shorter closer is content",
			"````md\n```\nx\n```\ny\n````", 22, Runes,
			[]string{"````md\n```\nx\n```\n````", "````md\ny\n````"}},
		{"nested-looking fences inside a fence",
			"```\n~~~\ninner\n~~~\n```go\nmore\n```", 20, Runes,
			[]string{"```\n~~~\ninner\n```", "```\n~~~\n```go\n```", "```\nmore\n```"}},
		{"indented opener kept",
			"  ```sh\necho 1\necho 2\n  ```\n", 21, Runes,
			[]string{"  ```sh\necho 1\n```", "  ```sh\necho 2\n  ```\n"}},
		{"cut before the opener rather than after it",
			"intro text\n```go\n" + strings.Repeat("y", 20) + "\n```", 24, Runes,
			[]string{"intro text\n", "```go\n" + strings.Repeat("y", 13) + "\n````", "```go\n" + strings.Repeat("y", 7) + "\n```"}},
		{"unclosed fence at the end stays open",
			"```go\na := 1\nb := 2\nc := 3", 20, Runes,
			[]string{"```go\na := 1\n```", "```go\nb := 2\nc := 3"}},
		{"CRLF fence",
			"```go\r\na := 1\r\nb := 2\r\n```\r\n", 20, Runes,
			[]string{"```go\r\na := 1\r\n```", "```go\r\nb := 2\r\n```\r\n"}},
		{"limit too small to repair",
			"```go\nabc\ndef\n```", 8, Runes,
			[]string{"```go\n", "abc\ndef\n", "```"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := checkSplit(t, tc.text, tc.limit, tc.unit)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Errorf("Split =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestSplitParts_Fields(t *testing.T) {
	text := "intro\n```go\n" + strings.Repeat("x", 12) + "\ny\n```\nend"
	got := SplitParts(text, 24, Runes)
	want := []Part{
		{Text: "intro\n", Body: "intro\n", Start: 0},
		{Text: "```go\n" + strings.Repeat("x", 12) + "\n```", Body: "```go\n" + strings.Repeat("x", 12) + "\n", Start: 6, Close: "```"},
		{Text: "```go\ny\n```\nend", Body: "y\n```\nend", Start: 25, Reopen: "```go\n"},
	}
	if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
		t.Errorf("SplitParts =\n%#v\nwant\n%#v", got, want)
	}
}

func TestSplit_JoinPartsAmbiguousShapes(t *testing.T) {
	// Texts whose natural cuts would look like a repair to JoinParts.
	for _, tc := range []struct {
		name string
		text string
	}{
		{"run of six backticks", strings.Repeat("a", 10) + "\n``````go\nx\n" + strings.Repeat("b", 20)},
		{"closer then opener on one line", "```\ncode\n``` ```go\nmore\n```"},
		{"double run inside a block", "```\n" + strings.Repeat("`", 8) + "\n" + strings.Repeat("c", 30) + "\n```"},
		{"long fence runs", strings.Repeat("`", 40) + "\n" + strings.Repeat("~", 40) + "\n"},
		{"closed block at the end", "```go\ncode\n```"},
		{"unclosed block at the end", "```go\ncode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, u := range []LenUnit{Runes, UTF16, Bytes} {
				for limit := 1; limit <= len(tc.text)+1; limit++ {
					checkSplit(t, tc.text, limit, u)
				}
			}
		})
	}
}

func TestSplit_JoinParts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		want  string
	}{
		{"nil", nil, ""},
		{"plain", []string{"a ", "b"}, "a b"},
		{"repair after a line break", []string{"```go\na\n```", "```go\nb\n```"}, "```go\na\nb\n```"},
		{"repair mid-line", []string{"```go\naa\n````", "```go\nbb\n```"}, "```go\naabb\n```"},
		{"not a repair without the opener", []string{"```go\na\n```", "b"}, "```go\na\n```b"},
		{"not a repair with another run", []string{"```go\na\n```", "~~~go\nb"}, "```go\na\n```~~~go\nb"},
		{"not a repair with an empty rest", []string{"```go\na\n```", "```go\n"}, "```go\na\n``````go\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := JoinParts(tc.parts); got != tc.want {
				t.Errorf("JoinParts = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFencesBalanced_Cases(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"", true},
		{"no fences", true},
		{"```go\ncode\n```", true},
		{"```go\ncode", false},
		{"~~~\ncode\n~~~~~", true},
		{"````\ncode\n```", false},
		{"```\ncode\n~~~", false},
		{"```\ncode\n```   \t\r\n", true},
		{"```\ncode\n``` x", false},
		{"   ```\nindented 3\n   ```", true},
		{"    ```\nindented 4 is code, not a fence", true},
		{"``` a`b\nnot an opener", true},
		{"~~~ a`b\nan opener", false},
		{"``\ntoo short", true},
		{"inline ``` is not a fence", true},
		{"```\n```\n```", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.text), func(t *testing.T) {
			if got := FencesBalanced(tc.text); got != tc.want {
				t.Errorf("FencesBalanced = %v, want %v", got, tc.want)
			}
		})
	}
}

// splitTextGen draws replies made of prose (words, emoji, CJK, sentence
// ends, line breaks, blank lines, CRLF) and code blocks with languages,
// sometimes left open at the end.
func splitTextGen() *rapid.Generator[string] {
	words := []string{"hello", "world.", "end!", "why?", "a", "😀", "👨‍👩‍👧", "🇯🇵", "漢字", "文です。", "e\u0301",
		"x", "`code`", "naïve", strings.Repeat("long", 30), "http://example.com/path"}
	seps := []string{" ", " ", " ", "\n", "\n\n", "\r\n", "  ", "\t", ". "}
	openers := []string{"```", "```go", "```python", "~~~", "~~~json", "````md", "  ```sh", "``` js "}
	return rapid.Custom(func(t *rapid.T) string {
		var b strings.Builder
		blocks := rapid.IntRange(1, 12).Draw(t, "blocks")
		for i := range blocks {
			if rapid.IntRange(0, 2).Draw(t, "kind") == 0 {
				op := rapid.SampledFrom(openers).Draw(t, "opener")
				b.WriteString(op + "\n")
				for range rapid.IntRange(0, 30).Draw(t, "lines") {
					for range rapid.IntRange(0, 8).Draw(t, "tokens") {
						b.WriteString(rapid.SampledFrom(words).Draw(t, "code") + " ")
					}
					b.WriteString("\n")
				}
				if i == blocks-1 && rapid.Bool().Draw(t, "unclosed") {
					break
				}
				run := strings.TrimLeft(op, " ")
				run = run[:len(run)-len(strings.TrimLeft(run, run[:1]))]
				b.WriteString(run + "\n")
				continue
			}
			for range rapid.IntRange(0, 80).Draw(t, "words") {
				b.WriteString(rapid.SampledFrom(words).Draw(t, "word"))
				b.WriteString(rapid.SampledFrom(seps).Draw(t, "sep"))
			}
			b.WriteString("\n\n")
		}
		return b.String()
	})
}

func TestSplit_Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		text := splitTextGen().Draw(t, "text")
		limit := rapid.IntRange(20, 5000).Draw(t, "limit")
		u := rapid.SampledFrom([]LenUnit{Runes, UTF16, Bytes}).Draw(t, "unit")
		checkSplit(t, text, limit, u)
	})
}

func TestSplit_PropertiesSmallLimits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		text := splitTextGen().Draw(t, "text")
		limit := rapid.IntRange(1, 40).Draw(t, "limit")
		u := rapid.SampledFrom([]LenUnit{Runes, UTF16, Bytes}).Draw(t, "unit")
		checkSplit(t, text, limit, u)
	})
}

func TestSplit_GrowingText(t *testing.T) {
	// The reply stream re-splits the whole text at every flush; every
	// prefix must split as well as the whole.
	reply := splitReply(6000)
	for n := 0; n <= len(reply); n += 97 {
		for n < len(reply) && !utf8.RuneStart(reply[n]) {
			n++
		}
		checkSplit(t, reply[:n], 1000, UTF16)
	}
}

func TestSplit_PropertiesFenceAlphabet(t *testing.T) {
	// Short texts over the characters that matter to fences and cuts, so
	// that every odd arrangement of fence runs, line ends and spaces meets
	// every limit.
	alphabet := []string{"`", "`", "~", " ", "\n", "\n", "a", "\r", ".", "😀", "```", "\n```\n", "```go\n"}
	rapid.Check(t, func(t *rapid.T) {
		text := strings.Join(rapid.SliceOfN(rapid.SampledFrom(alphabet), 0, 40).Draw(t, "tokens"), "")
		u := rapid.SampledFrom([]LenUnit{Runes, UTF16, Bytes}).Draw(t, "unit")
		for limit := 1; limit <= len(text)+2; limit++ {
			checkSplit(t, text, limit, u)
		}
	})
}
