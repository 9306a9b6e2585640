package console

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRender_PlainIsIdentity(t *testing.T) {
	for _, s := range []string{
		"",
		"Hello world",
		"# Title\n\nSome **bold** and `code` and _em_.\n",
		"```go\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n```\n",
		"- a\n- b\n\n> quote\n\n| a | b |\n|---|---|\n",
		"naïve café 日本語 🎉 e\u0301",
		"trailing spaces   \n\n\n",
	} {
		if got := Render(s, false); got != s {
			t.Errorf("Render(%q, false) = %q", s, got)
		}
	}
}

func TestRender_Neutralises(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"clear screen", "a\x1b[2Jb", "a␛[2Jb"},
		{"window title OSC with BEL", "\x1b]0;title\x07x", "␛]0;title␇x"},
		{"OSC with ST", "\x1b]8;;http://evil\x1b\\link", "␛]8;;http://evil␛\\link"},
		{"cursor movement", "\x1b[10A\x1b[H", "␛[10A␛[H"},
		{"carriage return alone", "fake\rprompt", "fake␍prompt"},
		{"CRLF becomes LF", "a\r\nb", "a\nb"},
		{"backspace and NUL", "a\bb\x00", "a␈b␀"},
		{"DEL", "a\x7fb", "a␡b"},
		{"C1 CSI", "a\u009b2Jb", "a\uFFFD2Jb"},
		{"invalid UTF-8 byte", "a\x9b2J", "a\uFFFD2J"},
		{"tab and newline kept", "a\tb\nc", "a\tb\nc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Render(tt.in, false); got != tt.want {
				t.Errorf("Render(%q, false) = %q, want %q", tt.in, got, tt.want)
			}
			if got := Render(tt.in, true); !onlyOwnEscapes(got) {
				t.Errorf("Render(%q, true) = %q has foreign escapes", tt.in, got)
			}
		})
	}
}

// ownEscape matches the escape sequences the bridge itself writes.
var ownEscape = regexp.MustCompile(`\x1b\[(?:[0-9]*A|J|K|1m|2m|22m)`)

// onlyOwnEscapes reports whether s has no control characters but "\n",
// "\t", "\r" and the bridge's own escape sequences.
func onlyOwnEscapes(s string) bool {
	s = ownEscape.ReplaceAllString(s, "")
	for _, r := range s {
		if r == '\n' || r == '\t' || r == '\r' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func TestRender_TTYStyles(t *testing.T) {
	const b, d, n = sgrBold, sgrDim, sgrNormal
	tests := []struct {
		name, in, want string
	}{
		{"heading", "# Title\ntext", b + "# Title" + n + "\ntext"},
		{"heading level 6 and not 7", "###### six\n####### seven", b + "###### six" + n + "\n####### seven"},
		{"hash without space is text", "#hashtag", "#hashtag"},
		{"strong", "a **b** c **d**", "a " + b + "**b**" + n + " c " + b + "**d**" + n},
		{"unclosed strong stays plain", "a **b", "a **b"},
		{"empty strong stays plain", "a **** b", "a **** b"},
		{"strong inside inline code", "`**x**` and **y**", "`**x**` and " + b + "**y**" + n},
		{"fence dims markers, not code", "```go\n# not a heading\n**x**\n```\n# h",
			d + "```go" + n + "\n# not a heading\n**x**\n" + d + "```" + n + "\n" + b + "# h" + n},
		{"tilde fence inside backtick fence", "```\n~~~\n```", d + "```" + n + "\n~~~\n" + d + "```" + n},
		{"unclosed fence while streaming", "```py\nprint(1)", d + "```py" + n + "\nprint(1)"},
		{"plain text unchanged", "just text", "just text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Render(tt.in, true); got != tt.want {
				t.Errorf("Render(%q, true)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRows_Cases(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		width int
		want  int
	}{
		{"empty", "", 10, 1},
		{"short", "abc", 10, 1},
		{"exactly the width", "abcdefghij", 10, 1},
		{"one more than the width", "abcdefghijk", 10, 2},
		{"lines", "a\nb\n", 10, 3},
		{"wrapped and plain lines", strings.Repeat("x", 25) + "\nb", 10, 4},
		{"wide runes", strings.Repeat("日", 6), 10, 2},
		{"wide rune at the last column wraps", "abcdefghi日", 10, 2},
		{"combining marks take no room", strings.Repeat("e\u0301", 10), 10, 1},
		{"SGR takes no room", sgrBold + "abcdefghij" + sgrNormal, 10, 1},
		{"tab", "\tab", 10, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rows(tt.text, tt.width); got != tt.want {
				t.Errorf("rows(%q, %d) = %d, want %d", tt.text, tt.width, got, tt.want)
			}
		})
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{"# h\n**b** `c`", "\x1b[2J", "\x1b]0;t\x07", "a\r\nb\rc", "```\n~~~\n", "\xff\u009b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain, styled := Render(s, false), Render(s, true)
		if !onlyOwnEscapes(plain) || strings.Contains(plain, "\x1b") || strings.Contains(plain, "\r") {
			t.Fatalf("Render(%q, false) = %q is not inert", s, plain)
		}
		if !onlyOwnEscapes(styled) || strings.Contains(styled, "\r") {
			t.Fatalf("Render(%q, true) = %q is not inert", s, styled)
		}
		if ownEscape.ReplaceAllString(styled, "") != plain {
			t.Fatalf("styles changed the text: %q vs %q", styled, plain)
		}
		control := func(r rune) bool {
			return r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || r >= 0x80 && r <= 0x9f
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, control) && plain != s {
			t.Fatalf("clean text changed: %q → %q", s, plain)
		}
	})
}
