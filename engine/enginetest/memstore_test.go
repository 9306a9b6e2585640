package enginetest

import (
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

func TestMemStore(t *testing.T) {
	RunStoreSuite(t, func(t *testing.T) engine.Store { return NewMemStore() })
}

func TestMemStoreSeenExpires(t *testing.T) {
	defer guard(t)
	s := NewMemStore()
	var mu sync.Mutex
	now := suiteBase()
	s.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	ctx := t.Context()
	if seen := must(s.MarkSeen(ctx, "telegram", "1", time.Minute)); seen {
		t.Fatal("first MarkSeen reported seen")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if seen := must(s.MarkSeen(ctx, "telegram", "1", time.Minute)); seen {
		t.Error("MarkSeen after the ttl reported seen")
	}
}

func TestMemStoreClockAndFailure(t *testing.T) {
	defer guard(t)
	s := NewMemStore()
	s.SetClock(func() time.Time { return suiteBase() })
	ctx := t.Context()
	c := must(s.ActiveConversation(ctx, "console:x"))
	if !c.CreatedAt.Equal(suiteBase()) {
		t.Errorf("CreatedAt = %v, want the clock's %v", c.CreatedAt, suiteBase())
	}
	m := must(s.AppendMessage(ctx, c.ID, engine.Message{Role: engine.RoleUser, Content: "x"}))
	if !m.Timestamp.Equal(suiteBase()) {
		t.Errorf("Timestamp = %v, want the clock's", m.Timestamp)
	}
	boom := engine.ErrCorrupt
	s.FailWith(boom)
	if _, err := s.Conversation(ctx, c.ID); err == nil {
		t.Error("FailWith did not fail the store")
	}
	s.FailWith(nil)
	must(s.Conversation(ctx, c.ID))
}
