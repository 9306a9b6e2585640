package engine_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/chatbridge/chatbridge"

// goListDeps returns every package pkg depends on, itself included.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestDependencyRules enforces DESIGN.md: the engine imports no bridge, no
// storage, no SDK and no Badger; storage imports the engine and Badger but
// no bridge; a bridge imports the engine and its own SDK, not storage or
// another bridge.
func TestDependencyRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	forbiddenEverywhere := []string{"github.com/bwmarrin/discordgo", "github.com/slack-go/slack", "gopkg.in/telebot"}
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{module + "/engine", append([]string{module + "/bridges/", module + "/storage", module + "/cmd/",
			"github.com/dgraph-io/badger"}, forbiddenEverywhere...)},
		{module + "/engine/openrouter", append([]string{module + "/bridges/", module + "/storage",
			"github.com/dgraph-io/badger"}, forbiddenEverywhere...)},
		{module + "/storage", append([]string{module + "/bridges/", module + "/engine/openrouter"}, forbiddenEverywhere...)},
		{module + "/bridges/console", append([]string{module + "/storage", module + "/engine/openrouter",
			"github.com/dgraph-io/badger"}, forbiddenEverywhere...)},
	} {
		t.Run(strings.TrimPrefix(tc.pkg, module+"/"), func(t *testing.T) {
			deps := goListDeps(t, tc.pkg)
			if len(deps) < 5 {
				t.Fatalf("go list returned only %v", deps)
			}
			for _, d := range deps {
				for _, f := range tc.forbidden {
					if strings.HasPrefix(d, f) {
						t.Errorf("%s depends on %s", tc.pkg, d)
					}
				}
			}
		})
	}
}
