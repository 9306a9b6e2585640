package engine_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

const (
	configKey = "sk-or-v1-config-key-revoked-000000000000"
	goodKey   = "sk-or-v1-brand-new-valid-key-00000000a1b2"
	wrongKey  = "sk-or-v1-another-wrong-key-0000000000000"
)

// keyedProvider is a scripted provider behind an API key: requests with any
// key but the valid one are rejected with a 401, like OpenRouter.
type keyedProvider struct {
	*enginetest.Provider
	mu    sync.Mutex
	key   string
	valid string
	used  []string // the key of each Stream call
}

func newKeyedProvider(valid string) *keyedProvider {
	return &keyedProvider{Provider: enginetest.NewProvider(), key: configKey, valid: valid}
}

func (p *keyedProvider) UseAPIKey(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if key == "" {
		key = configKey
	}
	p.key = key
}

func (p *keyedProvider) CheckAPIKey(_ context.Context, key string) error {
	if key != p.valid {
		return &engine.ProviderError{Kind: engine.ErrKeyRejected, Status: 401, Message: "User not found."}
	}
	return nil
}

func (p *keyedProvider) Stream(ctx context.Context, req *engine.Request, onDelta func(engine.Delta) error) (*engine.Completion, error) {
	p.mu.Lock()
	key := p.key
	p.used = append(p.used, key)
	p.mu.Unlock()
	if key != p.valid {
		return nil, &engine.ProviderError{Kind: engine.ErrKeyRejected, Status: 401, Message: "User not found."}
	}
	return p.Provider.Stream(ctx, req, onDelta)
}

func (p *keyedProvider) keyInUse() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.key
}

// dmBridge is the test platform with a private line to its owner.
type dmBridge struct {
	fakeBridge
	dm *enginetest.Replier
}

func (b *dmBridge) DirectReplier(_ context.Context, user engine.UserID) (engine.Replier, error) {
	if user != "u1" {
		return nil, errors.New("not an owner")
	}
	return b.dm, nil
}

// deletingReplier is a chat that lets the bot delete messages, like a
// Telegram private chat.
type deletingReplier struct {
	*enginetest.Replier
	mu      sync.Mutex
	deleted []engine.MessageID
}

func (r *deletingReplier) DeleteMessage(_ context.Context, id engine.MessageID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted = append(r.deleted, id)
	return nil
}

func (r *deletingReplier) deletedIDs() []engine.MessageID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]engine.MessageID(nil), r.deleted...)
}

func TestAPIKey_RejectedKeyAlertsTheOwnerOnceThenIsReplacedFromChat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		kp := newKeyedProvider(goodKey)
		h := newHarness(t, testCaps(), nil, func(o *engine.Options) {
			o.Provider = kp
			o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		})
		defer h.close()
		owner := &dmBridge{fakeBridge: fakeBridge{caps: testCaps()}, dm: enginetest.NewReplier(4096, engine.UTF16)}
		h.e.Register(owner)
		chat := &deletingReplier{Replier: enginetest.NewReplier(4096, engine.UTF16)}
		send := func(text string, msg engine.MessageID) string {
			ev := event("c1", text)
			ev.Message = msg
			h.e.HandleEvent(context.Background(), chat, ev)
			h.settle()
			return chat.Last()
		}

		// Two turns fail on the rejected key; the owner is told once.
		send("hello", "m1")
		send("hello again", "m2")
		alerts := owner.dm.Messages()
		if len(alerts) != 1 {
			t.Fatalf("owner DMs = %q, want exactly one", alerts)
		}
		for _, want := range []string{"rejected", "OPENROUTER_API_KEY", "/apikey <key>"} {
			if !strings.Contains(alerts[0], want) {
				t.Errorf("the DM lacks %q: %q", want, alerts[0])
			}
		}

		// A key OpenRouter rejects too changes nothing; its message goes.
		if got := send("/apikey "+wrongKey, "m3"); !strings.Contains(got, "rejected this key too") || !strings.Contains(got, "deleted your message") {
			t.Errorf("/apikey with a wrong key = %q", got)
		}
		if kp.keyInUse() != configKey {
			t.Errorf("a rejected key was put in use")
		}

		got := send("/apikey "+goodKey, "m4")
		if !strings.Contains(got, "ends in …a1b2") || !strings.Contains(got, "deleted your message") {
			t.Errorf("/apikey with a good key = %q", got)
		}
		if d := chat.deletedIDs(); len(d) != 2 || d[0] != "m3" || d[1] != "m4" {
			t.Errorf("deleted messages = %v, want m3 and m4", d)
		}
		if kp.keyInUse() != goodKey {
			t.Fatalf("key in use = %q, want the new one at once", kp.keyInUse())
		}
		if got := send("works now?", "m5"); got != "You said: works now?" {
			t.Errorf("the next turn shows %q, want the echo", got)
		}
		if s := h.command("/settings"); !strings.Contains(s, "api_key: set by /apikey, ends in …a1b2") {
			t.Errorf("/settings = %q, want the key's source", s)
		}
		if s := h.command("/settings history"); !strings.Contains(s, "api_key: default → `…a1b2`") {
			t.Errorf("/settings history = %q", s)
		}
		if v, err := h.store.Secret(context.Background(), "openrouter_api_key"); err != nil || v != goodKey {
			t.Errorf("stored key = %q, %v", v, err)
		}

		// The next start uses the stored key before the config's.
		kp2 := newKeyedProvider(goodKey)
		h2 := newHarness(t, testCaps(), nil, func(o *engine.Options) { o.Provider = kp2; o.Store = h.store })
		defer h2.close()
		if err := h2.e.LoadAPIKey(context.Background()); err != nil {
			t.Fatal(err)
		}
		if kp2.keyInUse() != goodKey {
			t.Errorf("after a restart the key in use is %q, want the one set from chat", kp2.keyInUse())
		}

		// Neither the chat, the log nor the export holds the key.
		conv, _ := h.store.ActiveConversation(context.Background(), event("c1", "").Key())
		x, err := engine.LoadExport(context.Background(), h.store, conv)
		if err != nil {
			t.Fatal(err)
		}
		var export bytes.Buffer
		if err := engine.ExportJSON(&export, x); err != nil {
			t.Fatal(err)
		}
		everything := strings.Join(chat.Messages(), "\n") + strings.Join(owner.dm.Messages(), "\n") + logs.String() + export.String()
		for _, k := range []string{goodKey, wrongKey, configKey} {
			if strings.Contains(everything, k) {
				t.Errorf("key %s…%s appears in the chat, the log or the export", k[:10], k[len(k)-4:])
			}
		}

		if got := send("/apikey reset", "m6"); !strings.Contains(got, "config file is used again") {
			t.Errorf("/apikey reset = %q", got)
		}
		if kp.keyInUse() != configKey {
			t.Errorf("after reset the key in use is %q", kp.keyInUse())
		}
		if _, err := h.store.Secret(context.Background(), "openrouter_api_key"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("the stored key after reset: %v", err)
		}
		// The config's key is rejected again: the owner hears of it again.
		send("and now?", "m7")
		if n := len(owner.dm.Messages()); n != 2 {
			t.Errorf("owner DMs after the config's key failed again = %d, want 2", n)
		}
	})
}

// TestAPIKey_RefusedKeyMessageIsDeletedToo: a key sent where /apikey is
// refused (by someone not an owner, or in a group) is still deleted.
func TestAPIKey_RefusedKeyMessageIsDeletedToo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testCaps(), nil, func(o *engine.Options) {
			o.Provider = newKeyedProvider(goodKey)
			o.Access[testPlatform] = engine.Access{Allowed: []engine.UserID{"u1", "u2"}, Owners: []engine.UserID{"u1"}}
		})
		defer h.close()
		chat := &deletingReplier{Replier: enginetest.NewReplier(4096, engine.UTF16)}
		group := event("g1", "/apikey "+goodKey)
		group.Private, group.Message = false, "g-1"
		h.e.HandleEvent(context.Background(), chat, group)
		h.settle()
		if got := chat.Last(); !strings.Contains(got, "private chat") || !strings.Contains(got, "deleted your message") {
			t.Errorf("/apikey in a group = %q", got)
		}
		plain := enginetest.NewReplier(4096, engine.UTF16)
		other := event("c2", "/apikey "+goodKey)
		other.User, other.Message = "u2", "c2-1"
		h.e.HandleEvent(context.Background(), plain, other)
		h.settle()
		if got := plain.Last(); !strings.Contains(got, "owner only") || !strings.Contains(got, "delete the message with the key yourself") {
			t.Errorf("/apikey by a non-owner where the bot cannot delete = %q", got)
		}
		if d := chat.deletedIDs(); len(d) != 1 || d[0] != "g-1" {
			t.Errorf("deleted = %v", d)
		}
	})
}
