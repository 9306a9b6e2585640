package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoad feeds arbitrary bytes to Load as a config file. Whatever the
// input, Load returns either a Config or Errors (never both, never a
// panic), every problem names the file and says what is wrong, and no
// secret from the file appears in a problem's text.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"", "[openrouter]\nmodel = \"x/y\"\n", "[telegram]\nenabled = true\nallowed_users = [1]\ntoken = \"1:SECRET\"\n",
		"[limits]\nrequests_per_minute = -1\n", "[discord]\nallowed_users = [\"12a\"]\n", "[[x]]\n", "a = \n",
		"[slack]\nbot_token = \"xoxb-SECRET\"\nlisten = \"nohost\"\n", "[bot]\nenable_streaming = \"yes\"\n",
		"[storage]\nretention_days = 1e400\n", "\xff\xfe[openrouter]", "[health]\nlisten = \"127.0.0.1:99999\"\n",
	}
	if ex, err := os.ReadFile("../../../../config.example.toml"); err == nil {
		seeds = append(seeds, string(ex))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		path := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, nil)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Load returned config %v and error %v: want exactly one", cfg != nil, err)
		}
		if err == nil {
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("Load error %v (%T) is not Errors", err, err)
		}
		for _, e := range errs {
			if e.File != path || e.Problem == "" {
				t.Errorf("problem without file or text: %+v", e)
			}
			if !utf8.ValidString(e.Error()) {
				t.Errorf("problem text is not UTF-8: %q", e.Error())
			}
			for _, secret := range []string{"1:SECRET", "xoxb-SECRET"} {
				if strings.Contains(doc, secret) && strings.Contains(e.Error(), secret) {
					t.Errorf("a secret leaked into %q", e.Error())
				}
			}
		}
	})
}
