package enginetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// CommandBridge is a bridge whose command menu can be registered.
type CommandBridge interface {
	engine.Bridge
	RegisterCommands(ctx context.Context, cmds []engine.CommandSpec) error
}

// StartBridge runs br as the daemon does: a new engine on prov and store
// (streaming, 100 max tokens, one retry) that lets only owner in, Recover,
// the command menu, then br.Run in a goroutine. It returns the engine and
// a stop function that ends Run and shuts the engine down; stop may be
// called more than once and runs at the test's cleanup.
func StartBridge(t *testing.T, br CommandBridge, prov engine.Provider, store engine.Store, owner engine.UserID) (*engine.Engine, func()) {
	t.Helper()
	eng, err := engine.New(engine.Options{
		Provider: prov, Store: store,
		Defaults:   engine.Settings{Model: "openai/gpt-4o-mini", Streaming: true, MaxTokens: 100},
		MaxRetries: 1,
		Access: map[engine.Platform]engine.Access{
			br.Name(): {Allowed: []engine.UserID{owner}, Owners: []engine.UserID{owner}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	eng.Register(br)
	if err := eng.Recover(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := br.RegisterCommands(context.Background(), eng.Commands()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := br.Run(ctx, eng); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			eng.Shutdown(context.Background())
		})
	}
	t.Cleanup(stop)
	return eng, stop
}

// WaitFor polls cond every 20 ms until it holds, or fails the test after
// 20 s naming what it waited for and what debug says (e.g. the calls a
// fake received).
func WaitFor(t testing.TB, what string, cond func() bool, debug func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %s", what, debug())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Words returns n streamed deltas: w and a space, n times.
func Words(n int, w string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = w + " "
	}
	return out
}

// Last is the last of s, or "" when s is empty.
func Last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
