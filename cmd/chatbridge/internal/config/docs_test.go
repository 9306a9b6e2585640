package config

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// examplePath is config.example.toml at the repository root.
const examplePath = "../../../../config.example.toml"

// TestExample_DocumentsEveryKey walks the struct tags of Config and checks
// that config.example.toml writes every section and key, each key right
// after a comment, so the documentation cannot drift from the code.
func TestExample_DocumentsEveryKey(t *testing.T) {
	doc, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	idx, synErr := parseIndex(doc)
	if synErr != nil {
		t.Fatal(synErr)
	}
	lines := strings.Split(string(doc), "\n")
	n := 0
	for _, s := range fieldsOf(reflect.TypeFor[Config]()) {
		if idx.line(s.Name) == 0 {
			t.Errorf("[%s] is missing from the example", s.Name)
		}
		for _, k := range fieldsOf(s.Type) {
			n++
			key := s.Name + "." + k.Name
			line := idx.line(key)
			switch {
			case line == 0:
				t.Errorf("%s is missing from the example", key)
			case line < 2 || !strings.HasPrefix(lines[line-2], "#"):
				t.Errorf("%s (line %d) has no comment right above it", key, line)
			}
		}
	}
	if n < 60 {
		t.Errorf("walked only %d keys; did fieldsOf break?", n)
	}
}

func TestValidate_Case(t *testing.T) {
	t.Run("defaults are valid", func(t *testing.T) {
		if err := Default().Validate(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("config built in code", func(t *testing.T) {
		c := Default()
		c.Limits.RequestsPerMinute = 0
		c.Discord.Enabled = true
		var errs Errors
		if !errors.As(c.Validate(), &errs) || len(errs) != 3 {
			t.Fatalf("got %v", errs)
		}
		want := "limits.requests_per_minute: 0 is out of range; accepted: an integer from 1 to 10000"
		if errs[0].Error() != want || errs[0].Line != 0 || errs[0].File != "" {
			t.Errorf("got %q, want %q", errs[0].Error(), want)
		}
		if errs[1].Key != "discord.allowed_users" || errs[2].Key != "discord.token" {
			t.Errorf("got %v", errs)
		}
	})
}

func TestError_Render(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "config.toml", Line: 12, Key: "limits.requests_per_minute", Problem: "0 is out of range", Accepted: "an integer from 1 to 10000"},
			"config.toml:12: limits.requests_per_minute: 0 is out of range; accepted: an integer from 1 to 10000"},
		{Error{File: "config.toml", Line: 3, Problem: "unexpected character"}, "config.toml:3: unexpected character"},
		{Error{File: "config.toml", Key: "slack.app_token", Problem: "bad"}, "config.toml: slack.app_token: bad"},
		{Error{Line: 4, Key: "a.b", Problem: "bad"}, "line 4: a.b: bad"},
		{Error{Key: "a.b", Problem: "bad", Accepted: "good"}, "a.b: bad; accepted: good"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got  %q\nwant %q", got, tc.want)
		}
	}
}

func TestErrors_Order(t *testing.T) {
	errs := Errors{{Key: "c"}, {Line: 9, Key: "b"}, {Line: 2, Key: "a"}, {Key: "d"}}.sorted()
	var got []string
	for _, e := range errs {
		got = append(got, e.Key)
	}
	if strings.Join(got, "") != "abcd" {
		t.Errorf("order %q", got)
	}
	if (Errors{}).errOrNil() != nil {
		t.Errorf("empty Errors is not a nil error")
	}
}

// TestDecodeErrors_Backstop maps go-toml's own errors, used when the index
// check misses something.
func TestDecodeErrors_Backstop(t *testing.T) {
	doc := []byte("[limits]\nfoo = 1\n[nope]\nx = 1\n")
	err := toml.NewDecoder(bytes.NewReader(doc)).DisallowUnknownFields().Decode(Default())
	l := &loader{file: "c.toml"}
	errs := l.decodeErrors(err)
	if len(errs) != 2 {
		t.Fatalf("got %v", errs)
	}
	if got := errs[0].Error(); !strings.HasPrefix(got, "c.toml:2: limits.foo: unknown key; accepted: one of the keys of [limits]: requests_per_minute") {
		t.Errorf("got %q", got)
	}
	if got := errs[1].Error(); !strings.HasPrefix(got, "c.toml:3: nope: unknown section; accepted: one of the sections [openrouter]") {
		t.Errorf("got %q", got)
	}

	err = toml.Unmarshal([]byte("[openrouter]\napi_key = 12345678\n"), Default())
	errs = l.decodeErrors(err)
	if len(errs) != 1 || errs[0].Key != "openrouter.api_key" || errs[0].Line != 2 ||
		errs[0].Problem != "invalid value" || strings.Contains(errs[0].Error(), "12345678") {
		t.Errorf("got %v", errs)
	}
}

func TestDuration_Text(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d.Duration != 90*time.Second {
		t.Errorf("got %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("90")); err == nil || err.Error() != `"90" is not a duration` {
		t.Errorf("got %v", err)
	}
	if b, _ := (Duration{90 * time.Second}).MarshalText(); string(b) != "1m30s" {
		t.Errorf("MarshalText = %q", b)
	}
}

func TestMissingForRun_Case(t *testing.T) {
	c := Default()
	if got := c.MissingForRun(); len(got) != 2 || got[0] != "openrouter.api_key or OPENROUTER_API_KEY" {
		t.Errorf("got %q", got)
	}
	c.OpenRouter.APIKey = "k"
	c.Slack.Enabled = true
	if got := c.MissingForRun(); len(got) != 0 {
		t.Errorf("got %q", got)
	}
}
