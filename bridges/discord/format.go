package discord

import (
	"regexp"
	"strings"
)

// Discord renders most of the Markdown a model writes (bold, italics,
// strike, code, fences, lists, quotes, links, # to ### headings) itself, so
// the text passes through with two changes: a GFM table, which Discord
// shows as a jumble of pipes, goes in a code block where its columns line
// up, and a heading deeper than ### (shown by Discord as literal #### ) is
// made bold. No character of the text is lost.

var (
	fenceRE     = regexp.MustCompile("^ {0,3}(```|~~~)")
	delimiterRE = regexp.MustCompile(`^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$`)
	deepHeadRE  = regexp.MustCompile(`^ {0,3}#{4,6}\s+(.*?)\s*#*\s*$`)
)

// Render turns the engine's Markdown into what Discord shows well. Pure and
// safe for concurrent use.
func Render(md string) string {
	lines := strings.Split(md, "\n")
	out := make([]string, 0, len(lines)+4)
	fence := ""
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if fence != "" {
			out = append(out, line)
			if strings.HasPrefix(strings.TrimSpace(line), fence) && strings.Trim(strings.TrimSpace(line), fence[:1]) == "" {
				fence = ""
			}
			continue
		}
		if m := fenceRE.FindStringSubmatch(line); m != nil {
			fence = m[1]
			out = append(out, line)
			continue
		}
		if strings.Contains(line, "|") && i+1 < len(lines) && delimiterRE.MatchString(lines[i+1]) && strings.Contains(lines[i+1], "-") {
			j := i + 2
			for j < len(lines) && strings.Contains(lines[j], "|") && strings.TrimSpace(lines[j]) != "" {
				j++
			}
			out = append(out, "```")
			out = append(out, lines[i:j]...)
			out = append(out, "```")
			i = j - 1
			continue
		}
		if m := deepHeadRE.FindStringSubmatch(line); m != nil && m[1] != "" {
			out = append(out, "**"+m[1]+"**")
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
