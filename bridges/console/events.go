package console

import (
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// eventFromLine builds the event for one input line (without its line
// terminator). ok is false for a blank line, which is skipped. The line is
// trimmed of surrounding white space, as chat platforms do with a message.
// A line starting with "/" and an ASCII letter is a command (see
// parseCommand). It is pure: the caller supplies the identifiers and the
// time; the returned event has no ID yet. Invalid UTF-8 (a terminal in
// another encoding) becomes U+FFFD, so storage and the model get valid text.
func eventFromLine(line string, chat engine.ChatID, user engine.UserID, now time.Time) (ev *engine.Event, ok bool) {
	text := strings.TrimSpace(strings.ToValidUTF8(line, "\uFFFD"))
	if text == "" {
		return nil, false
	}
	ev = &engine.Event{
		Platform: platform,
		Chat:     chat,
		User:     user,
		UserName: string(user),
		Private:  true,
		Text:     text,
		Time:     now,
	}
	if cmd, args, isCmd := parseCommand(text); isCmd {
		ev.Command, ev.Text = cmd, args
	}
	return ev, true
}

// parseCommand splits "/Name@bot  args " into ("name", "args"). A command
// name starts with an ASCII letter and continues with letters, digits, "_"
// or "-"; it must be followed by the end, white space or "@" (whose suffix,
// a bot name, is dropped). Anything else, such as "/usr/bin/env" or "/ 2",
// is not a command, so pasted paths reach the model as text.
func parseCommand(text string) (cmd, args string, ok bool) {
	if len(text) < 2 || text[0] != '/' || !isASCIILetter(text[1]) {
		return "", "", false
	}
	i := 2
	for i < len(text) && isNameByte(text[i]) {
		i++
	}
	name, rest := text[1:i], text[i:]
	if strings.HasPrefix(rest, "@") {
		// "/cmd@bot args": the bot name runs to the next white space.
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		rest = rest[end:]
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", "", false
	}
	return strings.ToLower(name), strings.TrimSpace(rest), true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isNameByte(c byte) bool {
	return isASCIILetter(c) || c >= '0' && c <= '9' || c == '_' || c == '-'
}
