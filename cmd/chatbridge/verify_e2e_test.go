package main_test

import (
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// TestCheckStorage_VerifiesEveryRecord: `check -storage` reads every
// stored record's checksum (run no longer does at start, so a large
// database starts fast) and says the data is intact.
func TestCheckStorage_VerifiesEveryRecord(t *testing.T) {
	fake := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fake.URL(), "")
	env := []string{"OPENROUTER_API_KEY=" + fake.APIKey()}
	if res := runBinary(t, dir, "keep this\n", env, "console", "-config", cfg); res.code != 0 {
		t.Fatalf("console: exit %d\n%s", res.code, res.stderr)
	}
	res := runBinary(t, dir, "", env, "check", "-config", cfg, "-storage")
	if res.code != 0 || !strings.Contains(res.stdout, "every record in") || !strings.Contains(res.stdout, "is intact") {
		t.Errorf("check -storage: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}
