package engine_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

// badInput is one case of the bad-input corpus: what the user sends, and
// what they must see. Every case must also leave no crash, no stored user
// turn unless the input was a fair turn, and the settings as they were
// unless the case changes one on purpose.
type badInput struct {
	name string
	text string // as the platform delivers it; "/x y" is a command
	// want is a substring of what the user sees.
	want string
	// turn: the input is a fair message and must be stored and answered.
	turn bool
	// changes names the setting the input may change.
	changes string
}

func badInputCorpus() []badInput {
	mb := strings.Repeat("a", 1<<20)
	return []badInput{
		{name: "empty", text: "", want: "Your message is empty"},
		{name: "spaces", text: "     ", want: "Your message is empty"},
		{name: "newlines and tabs", text: "\n\t\n", want: "Your message is empty"},
		{name: "zero-width only", text: "\u200b\u200c\u200d\ufeff", want: "Your message is empty"},
		{name: "direction marks only", text: "\u200e\u200f\u202a", want: "Your message is empty"},
		{name: "control characters only", text: "\x00\x01\x1b", want: "Your message is empty"},
		{name: "1 MB of text", text: mb, want: "the limit is 8000"},
		{name: "just over the limit", text: strings.Repeat("é", 8001), want: "the limit is 8000"},
		{name: "invalid UTF-8", text: "hello \xff\xfe world", want: "not valid UTF-8"},
		{name: "truncated UTF-8", text: "caf\xc3", want: "not valid UTF-8"},
		{name: "NUL inside text", text: "a\x00b", want: "You said: ab", turn: true},
		{name: "ANSI escape", text: "\x1b[31mred\x1b[0m", want: "You said: [31mred[0m", turn: true},
		{name: "zero-width inside text", text: "pass\u200bword", want: "You said: pass\u200bword", turn: true},
		{name: "right-to-left", text: "مرحبا بالعالم", want: "You said: مرحبا بالعالم", turn: true},
		{name: "mixed direction", text: "abc \u202eexe.txt", want: "You said: abc", turn: true},
		{name: "10,000 emoji", text: strings.Repeat("😀", 10000), want: "the limit is 8000"},
		{name: "2,000 emoji", text: strings.Repeat("😀", 2000), want: "You said: 😀", turn: true},
		{name: "ZWJ family emoji", text: "👨‍👩‍👧‍👦", want: "You said: 👨‍👩‍👧‍👦", turn: true},
		{name: "CRLF", text: "line one\r\nline two", want: "You said: line one\nline two", turn: true},
		{name: "nested fences", text: "````\n```\ncode\n```\n````", want: "You said: ````", turn: true},
		{name: "unclosed fence", text: "```go\nfunc main() {", want: "You said: ```go", turn: true},
		{name: "HTML injection", text: "<script>alert(1)</script><b>x</b>", want: "You said: <script>", turn: true},
		{name: "markdown link injection", text: "[click](javascript:alert(1))", want: "You said: [click]", turn: true},
		{name: "telegram entity lookalike", text: "<a href=\"tg://user?id=1\">x</a> &amp;", want: "You said: <a href", turn: true},
		{name: "slack mention injection", text: "<!channel> <@U123>", want: "You said: <!channel>", turn: true},
		{name: "discord everyone", text: "@everyone @here", want: "You said: @everyone", turn: true},
		{name: "only a slash", text: "/", want: "Your message is empty"},
		{name: "unknown command", text: "/frobnicate now", want: "Unknown command /frobnicate"},
		{name: "unicode command", text: "/mödel x", want: "Unknown command"},
		{name: "command case", text: "/HELP", want: "/model"},
		{name: "temperature abc", text: "/temperature abc", want: "Temperature must be a number from 0 to 2"},
		{name: "temperature 9", text: "/temperature 9", want: "Temperature must be a number from 0 to 2"},
		{name: "temperature -1", text: "/temperature -1", want: "Temperature must be a number from 0 to 2"},
		{name: "temperature NaN", text: "/temperature NaN", want: "Temperature must be a number from 0 to 2"},
		{name: "temperature Inf", text: "/temperature +Inf", want: "Temperature must be a number from 0 to 2"},
		{name: "temperature ok", text: "/temperature 1.5", want: "1.5", changes: engine.SettingTemperature},
		{name: "maxtokens -1", text: "/maxtokens -1", want: "Max tokens must be a whole number"},
		{name: "maxtokens abc", text: "/maxtokens abc", want: "Max tokens must be a whole number"},
		{name: "maxtokens huge", text: "/maxtokens 99999999999999999999", want: "Max tokens must be a whole number"},
		{name: "maxtokens zero", text: "/maxtokens 0", want: "Max tokens must be a whole number"},
		{name: "model path traversal", text: "/model ../../x", want: "Unknown model"},
		{name: "model huge id", text: "/model " + strings.Repeat("x", 5000), want: "Unknown model"},
		{name: "model with NUL", text: "/model openai/gpt\x00-4o", want: "Model set to `openai/gpt-4o`", changes: engine.SettingModel},
		{name: "model injection", text: "/model <b>x</b>", want: "Unknown model"},
		{name: "huge system prompt", text: "/system " + strings.Repeat("be nice ", 5000), want: "the limit is 8000"},
		{name: "system prompt ok", text: "/system Answer in French.", want: "System prompt set", changes: engine.SettingSystem},
		{name: "streaming maybe", text: "/streaming maybe", want: "on or off"},
		{name: "forget without confirm", text: "/forget now", want: "/forget confirm"},
		{name: "models regex chars", text: "/models (.*[", want: "No model matches"},
		{name: "retry with nothing to retry", text: "/retry", want: "Nothing to retry"},
		{name: "stop with nothing running", text: "/stop", want: "Nothing to stop"},
		{name: "tag with markup", text: "/tag add <b>x</b>", want: "Tags: <b>x</b>"},
		{name: "title huge", text: "/title " + strings.Repeat("t", 5000), want: "Title set: ttt"},
		{name: "apikey in a group", text: "/apikey sk-or-123", want: "private"},
	}
}

func TestBadInputCorpus(t *testing.T) {
	cases := badInputCorpus()
	if len(cases) < 50 {
		t.Fatalf("corpus has %d cases, want at least 50", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				prov := enginetest.NewProvider()
				h := newHarness(t, testCaps(), prov, func(o *engine.Options) { o.Limits.MaxInputChars = 8000 })
				defer h.close()
				key := engine.KeyFor(testPlatform, "c1", "")
				before, _ := h.store.Settings(context.Background(), key)
				r := enginetest.NewReplier(4096, engine.UTF16)
				ev := event("c1", c.text)
				if c.name == "apikey in a group" {
					ev.Private = false
				}
				h.e.HandleEvent(context.Background(), r, ev)
				h.settle()
				got := strings.Join(r.Messages(), "\n")
				if !strings.Contains(got, c.want) {
					t.Errorf("user saw %q, want %q", clip(got), c.want)
				}
				if !utf8.ValidString(got) {
					t.Errorf("the answer is not valid UTF-8: %q", clip(got))
				}
				for _, m := range r.Messages() {
					if n := engine.UTF16.Len(m); n > 4096 {
						t.Errorf("a message of %d units went out, over the limit", n)
					}
				}
				conv, err := h.store.ActiveConversation(context.Background(), key)
				if err != nil {
					t.Fatal(err)
				}
				msgs, _ := h.store.RecentMessages(context.Background(), conv.ID, 10)
				users := 0
				for _, m := range msgs {
					if m.Role == engine.RoleUser {
						users++
						if !utf8.ValidString(m.Content) || strings.ContainsRune(m.Content, 0) {
							t.Errorf("stored a user turn with invalid text: %q", clip(m.Content))
						}
					}
				}
				if want := map[bool]int{true: 1, false: 0}[c.turn]; users != want {
					t.Errorf("stored %d user turns, want %d", users, want)
				}
				if c.turn && len(prov.Requests()) != 1 || !c.turn && len(prov.Requests()) != 0 {
					t.Errorf("provider requests = %d", len(prov.Requests()))
				}
				after, _ := h.store.Settings(context.Background(), key)
				for k, v := range after {
					if before[k] != v && k != c.changes {
						t.Errorf("setting %s changed to %q", k, clip(v))
					}
				}
			})
		})
	}
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
