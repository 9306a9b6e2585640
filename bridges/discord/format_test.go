package discord

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/engine"
)

func TestRender(t *testing.T) {
	cases := []struct{ in, want string }{
		{"**bold** _it_ `code` [link](https://x.y)", "**bold** _it_ `code` [link](https://x.y)"},
		{"# Title\n#### Deep heading ####\ntext", "# Title\n**Deep heading**\ntext"},
		{"| a | b |\n|---|:-:|\n| 1 | 2 |\n\nafter", "```\n| a | b |\n|---|:-:|\n| 1 | 2 |\n```\n\nafter"},
		{"```\n| a | b |\n|---|---|\n```", "```\n| a | b |\n|---|---|\n```"},
		{"a | b but no table\nnext", "a | b but no table\nnext"},
		{"@everyone look <@&5> <@7>", "@everyone look <@&5> <@7>"},
	}
	for _, c := range cases {
		if got := Render(c.in); got != c.want {
			t.Errorf("Render(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestRender_KeepsEveryCharacter(t *testing.T) {
	inputs := []string{
		"| x | y |\n|--|--|\n| 1 | 2 |", "#### h", "```go\nfunc(){}\n", "~~~\n#### not a heading\n~~~\n#### heading",
		"emoji 😀 and مرحبا and <tags> & more",
	}
	for _, in := range inputs {
		out := Render(in)
		rest := out
		// Markup may change (#### → **); every other character stays, in order.
		for _, r := range strings.Join(strings.Fields(strings.NewReplacer("#", "", "`", "").Replace(in)), "") {
			i := strings.IndexRune(rest, r)
			if i < 0 {
				t.Errorf("Render(%q) = %q lost %q", in, out, r)
				break
			}
			rest = rest[i+len(string(r)):]
		}
	}
}

func TestNormalize429(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	cases := []struct {
		name string
		body string
		h    http.Header
		want string
	}{
		{"json only", `{"message":"You are being rate limited.","retry_after":1.5,"global":false}`, h(), `"retry_after":1.5`},
		{"header longer", `{"retry_after":0.2}`, h("Retry-After", "3"), `"retry_after":3`},
		{"reset-after", `{"retry_after":0.2}`, h("X-RateLimit-Reset-After", "2.25"), `"retry_after":2.25`},
		{"reset epoch", `{"retry_after":0.2}`, h("X-RateLimit-Reset", fmt.Sprint(now.Unix()+4)), `"retry_after":4`},
		{"html from a proxy", `<html>slow down</html>`, h("Retry-After", "7"), `"retry_after":7`},
		{"nothing said", ``, h(), `"retry_after":5`},
		{"global by the body", `{"retry_after":1,"global":true}`, h(), `"bucket":"chatbridge:global"`},
		{"global by the header", `{"retry_after":1}`, h("X-RateLimit-Scope", "global"), `"bucket":"chatbridge:global"`},
	}
	for _, c := range cases {
		got := string(normalize429([]byte(c.body), c.h, now))
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		if global := strings.Contains(got, globalBucket); global != strings.HasPrefix(c.name, "global") {
			t.Errorf("%s: global = %v in %s", c.name, global, got)
		}
	}
}

func TestMapError(t *testing.T) {
	rl := &discordgo.RateLimitError{RateLimit: &discordgo.RateLimit{TooManyRequests: &discordgo.TooManyRequests{RetryAfter: 1500 * time.Millisecond},
		URL: "https://discord.com/api/v9/webhooks/800/secret-interaction-token/messages/@original"}}
	var erl *engine.RateLimitError
	if err := mapError(rl); !errors.As(err, &erl) || erl.RetryAfter != 1500*time.Millisecond || erl.Global {
		t.Errorf("429: %v", err)
	} else if strings.Contains(err.Error(), "secret-interaction-token") {
		t.Errorf("the interaction token leaked: %v", err)
	}
	rl.TooManyRequests.Bucket = globalBucket
	if err := mapError(rl); !errors.As(err, &erl) || !erl.Global {
		t.Errorf("a global 429 is not marked global: %v", err)
	}
	long := &discordgo.RESTError{
		Response:     &http.Response{StatusCode: 400},
		ResponseBody: []byte(`{"message":"Invalid Form Body","code":50035,"errors":{"content":{"_errors":[{"code":"BASE_TYPE_MAX_LENGTH","message":"Must be 2000 or fewer in length."}]}}}`),
		Message:      &discordgo.APIErrorMessage{Code: 50035, Message: "Invalid Form Body"},
	}
	if err := mapError(long); !errors.Is(err, engine.ErrTooLong) {
		t.Errorf("too long: %v", err)
	}
	other := &discordgo.RESTError{Response: &http.Response{StatusCode: 403}, ResponseBody: []byte(`{"code":50001}`), Message: &discordgo.APIErrorMessage{Code: 50001}}
	if err := mapError(other); errors.Is(err, engine.ErrTooLong) || errors.As(err, &erl) {
		t.Errorf("missing access mapped to %v", err)
	}
}

// FuzzRender checks Discord's renderer on any text: no panic, valid UTF-8
// stays valid, balanced code fences stay balanced, and every character
// other than heading marks and whitespace survives, in order.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"| a | b |\n|---|---|\n| 1 | 2 |", "#### deep", "```\n| x |\n|--|\n```", "~~~\n#### h\n~~~", "a | b\n-|-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		out := Render(md)
		if utf8.ValidString(md) && !utf8.ValidString(out) {
			t.Fatalf("Render(%q) = %q is not UTF-8", md, out)
		}
		if engine.FencesBalanced(md) && !engine.FencesBalanced(out) {
			t.Fatalf("Render(%q) = %q unbalanced its fences", md, out)
		}
		if !utf8.ValidString(md) {
			return // Discord refuses such content; only valid text is compared
		}
		rest := out
		for _, r := range strings.Join(strings.Fields(strings.NewReplacer("#", "", "`", "").Replace(md)), "") {
			i := strings.IndexRune(rest, r)
			if i < 0 {
				t.Fatalf("Render(%q) = %q lost %q", md, out, r)
			}
			_, size := utf8.DecodeRuneInString(rest[i:])
			rest = rest[i+size:]
		}
	})
}
