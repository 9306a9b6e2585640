package main_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// TestEncryptionAtRest_WrongKeyIsAClearError runs the binary with
// [storage] encryption_key_file: the conversation is readable through the
// binary and nowhere in plain text on disk; a different key, or none, is
// refused with exit 2 and a message naming the key setting, and the data
// stays intact for the right key.
func TestEncryptionAtRest_WrongKeyIsAClearError(t *testing.T) {
	fake := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	writeKey := func(name string, b byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(hex.EncodeToString(bytes.Repeat([]byte{b}, 32))+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	right, wrong := writeKey("right.key", 7), writeKey("wrong.key", 9)
	env := []string{"OPENROUTER_API_KEY=" + fake.APIKey()}
	withKey := func(key string) string {
		extra := ""
		if key != "" {
			extra = "encryption_key_file = '" + key + "'\n"
		}
		return writeConfig(t, dir, fake.URL(), extra)
	}

	const secret = "my bank PIN is zebra-4471"
	if res := runBinary(t, dir, secret+"\n", env, "console", "-config", withKey(right)); res.code != 0 {
		t.Fatalf("console with the key: exit %d\n%s", res.code, res.stderr)
	}
	err := filepath.WalkDir(filepath.Join(dir, "data"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("zebra-4471")) {
			t.Errorf("%s holds the message in plain text", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	for name, key := range map[string]string{"a different key": wrong, "no key": ""} {
		res := runBinary(t, dir, "", nil, "export", "-config", withKey(key))
		if res.code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", name, res.code, res.stderr)
		}
		if !strings.Contains(res.stderr, "storage.encryption_key_file") || !strings.Contains(res.stderr, "wrong encryption key") {
			t.Errorf("%s: the error does not say the key is wrong:\n%s", name, res.stderr)
		}
		if strings.Contains(res.stderr, "panic") || strings.Contains(res.stdout, "zebra") {
			t.Errorf("%s: stdout %q, stderr %q", name, res.stdout, res.stderr)
		}
	}

	res := runBinary(t, dir, "", nil, "export", "-config", withKey(right))
	if res.code != 0 || !strings.Contains(res.stdout, secret) {
		t.Errorf("export with the right key after the refusals: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}
