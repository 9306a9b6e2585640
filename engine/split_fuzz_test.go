package engine

import (
	"strings"
	"testing"
)

func FuzzSplit(f *testing.F) {
	for _, s := range []struct {
		text  string
		limit int
		unit  uint8
	}{
		{"hello world. This is a test! Is it? Yes.\n\nNew paragraph.", 12, 0},
		{"```go\nfunc main() {}\n```\ntext after", 14, 0},
		{"~~~py\nprint(1)\nprint(2)\n~~~", 13, 1},
		{"````md\n```\ninner\n```\n````\n", 12, 2},
		{"😀👨‍👩‍👧🇯🇵e\u0301漢字。かな。", 5, 1},
		{"line\r\nline\r\n\r\n```\r\ncode\r\n```\r\n", 11, 0},
		{"``````go\nx\n" + strings.Repeat("y", 20), 7, 0},
		{"```go\nunclosed " + strings.Repeat("z", 30), 16, 2},
		{strings.Repeat(" ", 40), 7, 0},
		{"a\xffb\xe2\x82c\xf0\x9f\x98", 2, 2},
		{"```\n```\n```\n", 9, 0},
		{"x", -1, 0},
	} {
		f.Add(s.text, s.limit, s.unit)
	}
	f.Fuzz(func(t *testing.T, text string, limit int, unit uint8) {
		// Small limits cut short inputs many times; negative ones are
		// "unlimited" and stay so.
		checkSplit(t, text, limit%400, LenUnit(unit%3))
	})
}

func FuzzFences(f *testing.F) {
	for _, s := range []string{
		"", "```", "```go\ncode\n```", "~~~\n~~~~", "````\n```\n````", "   ```\n    ```\n",
		"``` a`b\n", "~~~ a`b\n", "```\r\nx\r\n```\r\n", "```\n", "\n```\n\n```", "a|```go\nb|c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs := scanFences(s)
		end := 0
		for i, fc := range fs {
			if fc.os < end || fc.oe <= fc.os || fc.cs < fc.oe || fc.ce < fc.cs || fc.ce > len(s) {
				t.Fatalf("fence %d has bad offsets %+v in %q", i, fc, s)
			}
			line := strings.TrimSuffix(s[fc.os:fc.oe], "\n")
			if ch, n, ok := fenceOpener(line); !ok || ch != fc.ch || n != fc.n || !fenceStart(line) {
				t.Fatalf("fence %d opener %q does not parse as one", i, line)
			}
			if fc.cs == fc.ce && (i != len(fs)-1 || fc.cs != len(s)) {
				t.Fatalf("fence %d is left open before the end: %+v", i, fc)
			}
			end = fc.ce
		}
		if balanced := len(fs) == 0 || fs[len(fs)-1].cs != fs[len(fs)-1].ce; balanced != FencesBalanced(s) {
			t.Fatalf("FencesBalanced = %v, but scanFences found %+v", FencesBalanced(s), fs)
		}
		// JoinParts must accept any parts without panicking.
		_ = JoinParts(strings.Split(s, "|"))
	})
}
