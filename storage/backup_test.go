package storage

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// TestBackupRestore_TenThousandMessages writes 10,000 messages through the
// store's API across 100 conversations, backs up, restores into a new
// directory, reopens it and checks every message.
func TestBackupRestore_TenThousandMessages(t *testing.T) {
	defer guard(t)
	const convs, perConv = 100, 100
	ctx := t.Context()
	o := testOptions(t, t.TempDir())
	o.SyncWrites = false // 10,000 fsyncs would measure the disk, not the backup
	src := openStore(t, o)

	content := func(c, i int) string { return fmt.Sprintf("conversation %d message %d: %x", c, i, c*perConv+i) }
	ids := make([]engine.ConversationID, convs)
	start := time.Now()
	for c := range convs {
		key := engine.ConversationKey(fmt.Sprintf("telegram:%d", c+1))
		ids[c] = must(src.ActiveConversation(ctx, key)).ID
		for i := range perConv {
			role := engine.RoleUser
			if i%2 == 1 {
				role = engine.RoleAssistant
			}
			must(src.AppendMessage(ctx, ids[c], engine.Message{
				Role: role, Content: content(c, i), Tokens: i,
				Timestamp: base().Add(time.Duration(c*perConv+i) * time.Second),
			}))
		}
	}
	wrote := time.Since(start)

	start = time.Now()
	var buf bytes.Buffer
	if err := src.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	backedUp := time.Since(start)

	start = time.Now()
	dir := t.TempDir()
	dst := must(Open(ctx, testOptions(t, dir)))
	if err := dst.Restore(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	restored := time.Since(start)
	t.Logf("10,000 messages: wrote in %v, backup of %d bytes in %v, restore in %v",
		wrote.Round(time.Millisecond), buf.Len(), backedUp.Round(time.Millisecond), restored.Round(time.Millisecond))

	// Reopened: the restore is on disk, not only in memory.
	dst = openStore(t, testOptions(t, dir))
	if got := must(dst.Conversations(ctx, "")); len(got) != convs {
		t.Fatalf("%d conversations restored, want %d", len(got), convs)
	}
	total := 0
	for c, id := range ids {
		cv := must(dst.Conversation(ctx, id))
		if cv.Key != engine.ConversationKey(fmt.Sprintf("telegram:%d", c+1)) || cv.MessageCount != perConv {
			t.Errorf("conversation %d = %+v", c, cv)
		}
		msgs := must(dst.Messages(ctx, id))
		total += len(msgs)
		for i, m := range msgs {
			want := content(c, i)
			if m.Content != want || m.Tokens != i || !m.Timestamp.Equal(base().Add(time.Duration(c*perConv+i)*time.Second)) {
				t.Fatalf("conversation %d message %d = %+v, want content %q", c, i, m, want)
			}
		}
		// The newest messages load as the engine loads them.
		if recent := must(dst.RecentMessages(ctx, id, 3)); len(recent) != 3 || recent[2].Content != content(c, perConv-1) {
			t.Fatalf("conversation %d: recent messages = %+v", c, recent)
		}
	}
	if total != convs*perConv {
		t.Errorf("%d messages restored, want %d", total, convs*perConv)
	}
	if n := must(dst.Verify(ctx)); n != 0 {
		t.Errorf("restored store has %d corrupt records", n)
	}
	// The restored store takes new writes after the restored ones.
	next := must(dst.AppendMessage(ctx, ids[0], engine.Message{Role: engine.RoleUser, Content: "after", Timestamp: base()}))
	if got := must(dst.Messages(ctx, ids[0])); len(got) != perConv+1 || got[perConv].ID != next.ID {
		t.Errorf("append after restore: %d messages, last %+v", len(got), got[len(got)-1])
	}
}

// TestBackup_ContextDone refuses to start once ctx has ended.
func TestBackup_ContextDone(t *testing.T) {
	s := openStore(t, testOptions(t, t.TempDir()))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Backup(ctx, &bytes.Buffer{}); err == nil {
		t.Error("Backup with a done context succeeded")
	}
}
