package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// base returns the fixed time the tests date their records from.
func base() time.Time { return time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC) }

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func testOptions(t testing.TB, dir string) Options {
	return Options{
		Dir:        dir,
		SyncWrites: true,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// openStore opens o and closes the store when the test ends.
func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// failure is what must panics with; guard turns it into t.Fatal.
type failure struct {
	where string
	err   error
}

// must returns v, or stops the test when err is not nil. The test function
// must defer guard, and call must only from its own goroutine.
func must[T any](v T, err error) T {
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		panic(failure{fmt.Sprintf("%s:%d", filepath.Base(file), line), err})
	}
	return v
}

// guard, deferred by a test, reports a failed must.
func guard(t testing.TB) {
	if r := recover(); r != nil {
		f, ok := r.(failure)
		if !ok {
			panic(r)
		}
		t.Fatalf("%s: %v", f.where, f.err)
	}
}

func TestStoreSuite(t *testing.T) {
	enginetest.RunStoreSuite(t, func(t *testing.T) engine.Store {
		return openStore(t, testOptions(t, t.TempDir()))
	})
}

func TestReopenKeepsData(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(ctx, testOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	key := engine.ConversationKey("telegram:1")
	old := must(s.ActiveConversation(ctx, key))
	c := must(s.NewConversation(ctx, key))
	for i := range 3 {
		must(s.AppendMessage(ctx, c.ID, engine.Message{Role: engine.RoleUser, Content: fmt.Sprint(i), Timestamp: base(), Tokens: 1}))
	}
	if err := s.DeleteMessagesFrom(ctx, c.ID, "3"); err != nil {
		t.Fatal(err)
	}
	c.Title = "kept"
	if err := s.UpdateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetSetting(ctx, engine.SettingChange{Key: key, User: "u1", Name: "model", New: "a/b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordUsage(ctx, base(), "u1", engine.Usage{TotalTokens: 7, Cost: 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutReply(ctx, engine.ReplyState{ID: "r1", Key: key, Status: engine.ReplyStreaming, Text: "half"}); err != nil {
		t.Fatal(err)
	}
	must(s.MarkSeen(ctx, "telegram", "ev1", time.Hour))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Conversation(ctx, c.ID); err == nil {
		t.Error("Conversation after Close succeeded")
	}

	s = openStore(t, testOptions(t, dir))
	got := must(s.ActiveConversation(ctx, key))
	if got.ID != c.ID || got.Title != "kept" || got.MessageCount != 2 || got.TotalTokens != 3 {
		t.Errorf("after reopen: %+v", got)
	}
	if list := must(s.Conversations(ctx, key)); len(list) != 2 || list[0].ID != old.ID {
		t.Errorf("conversations after reopen = %+v", list)
	}
	m := must(s.AppendMessage(ctx, c.ID, engine.Message{Role: engine.RoleUser, Content: "3", Timestamp: base()}))
	if m.ID != "4" {
		t.Errorf("message id after reopen = %q, want 4 (ids are not reused)", m.ID)
	}
	if set := must(s.Settings(ctx, key)); set["model"] != "a/b" {
		t.Errorf("settings after reopen = %v", set)
	}
	if u := must(s.UsageOn(ctx, "2025-03-14", "u1")); u.Requests != 1 || u.Cost != 0.5 {
		t.Errorf("usage after reopen = %+v", u)
	}
	if r := must(s.UnfinishedReplies(ctx)); len(r) != 1 || r[0].Text != "half" {
		t.Errorf("unfinished replies after reopen = %+v", r)
	}
	if !must(s.MarkSeen(ctx, "telegram", "ev1", time.Hour)) {
		t.Error("seen event forgotten across a restart")
	}
}

func TestCorruption(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	s := openStore(t, testOptions(t, t.TempDir()))
	c := must(s.ActiveConversation(ctx, "telegram:1"))
	for i := range 3 {
		must(s.AppendMessage(ctx, c.ID, engine.Message{Role: engine.RoleUser, Content: fmt.Sprint(i), Timestamp: base()}))
	}
	if n := must(s.Verify(ctx)); n != 0 {
		t.Fatalf("Verify of a healthy store = %d", n)
	}
	good := must(encode(engine.Message{ID: "2", Content: "x"}))
	flipped := bytes.Clone(good)
	flipped[len(flipped)-2] ^= 0x01
	badVersion := bytes.Clone(good)
	badVersion[0] = 9
	badJSON := encodeRaw([]byte(`{"id": 2`))
	for _, bad := range [][]byte{flipped, badVersion, {1, 2}, badJSON} {
		writeRaw(t, s, msgKey(c.ID, 2), bad)
		_, err := s.Messages(ctx, c.ID)
		if !errors.Is(err, engine.ErrCorrupt) {
			t.Errorf("Messages over %q = %v, want ErrCorrupt", bad, err)
		}
	}
	if st := must(s.Stats(ctx)); st.Corrupt != 1 {
		t.Errorf("Stats.Corrupt = %d, want 1 (one bad record)", st.Corrupt)
	}
	if got := must(s.RecentMessages(ctx, c.ID, 1)); len(got) != 1 || got[0].Content != "2" {
		t.Errorf("the healthy tail = %+v", got)
	}
	writeRaw(t, s, convKey(c.ID), flipped)
	if _, err := s.Conversation(ctx, c.ID); !errors.Is(err, engine.ErrCorrupt) {
		t.Errorf("Conversation over a bad record = %v, want ErrCorrupt", err)
	}
	// badJSON passes the checksum: Verify checks framing, reads check JSON.
	if n := must(s.Verify(ctx)); n != 1 {
		t.Errorf("Verify = %d, want 1", n)
	}
	if st := must(s.Stats(ctx)); st.Corrupt != 1 {
		t.Errorf("Stats.Corrupt after Verify = %d, want 1", st.Corrupt)
	}
}

// writeRaw stores value at key, bypassing the encoding.
func writeRaw(t *testing.T, s *Store, key, value []byte) {
	t.Helper()
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key, value) }); err != nil {
		t.Fatal(err)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(t.Context(), testOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(t.Context(), testOptions(t, dir))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another chatbridge process") {
		t.Errorf("second Open = %v, want ErrLocked naming another process", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openStore(t, testOptions(t, dir)) // free again
}

func TestEncryption(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	dir := t.TempDir()
	key := bytes.Repeat([]byte{7}, 32)
	o := testOptions(t, dir)
	o.EncryptionKey = key
	s, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// Badger needs a block and index cache with encryption, or every read
	// decrypts the table index again.
	if opts := s.db.Opts(); opts.IndexCacheSize <= 0 || len(opts.EncryptionKey) != 32 {
		t.Errorf("encrypted store: index cache %d bytes, key %d bytes; want a cache and the key", opts.IndexCacheSize, len(opts.EncryptionKey))
	}
	const secret = "the launch code is 0000"
	c := must(s.ActiveConversation(ctx, "telegram:1"))
	for range 200 {
		must(s.AppendMessage(ctx, c.ID, engine.Message{Role: engine.RoleUser, Content: secret, Timestamp: base()}))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the plaintext", filepath.Base(f))
		}
	}

	s = openStore(t, o)
	if got := must(s.RecentMessages(ctx, c.ID, 1)); len(got) != 1 || got[0].Content != secret {
		t.Errorf("after reopen with the key: %+v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for name, k := range map[string][]byte{"wrong key": bytes.Repeat([]byte{8}, 32), "no key": nil, "short key": key[:16]} {
		o := testOptions(t, dir)
		o.EncryptionKey = k
		if _, err := Open(ctx, o); !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: Open = %v, want ErrBadKey", name, err)
		}
	}
	plain := t.TempDir()
	openStore(t, testOptions(t, plain)).Close()
	o = testOptions(t, plain)
	o.EncryptionKey = key
	if _, err := Open(ctx, o); !errors.Is(err, ErrBadKey) {
		t.Errorf("a key for an unencrypted database: Open = %v, want ErrBadKey", err)
	}
	o.EncryptionKey = key[:10]
	if _, err := Open(ctx, o); err == nil || errors.Is(err, ErrBadKey) {
		t.Errorf("a 10-byte key: Open = %v, want a length error", err)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := Open(t.Context(), Options{}); err == nil {
		t.Error("Open without a directory succeeded")
	}
	o := testOptions(t, t.TempDir())
	o.RetentionDays = -1
	if _, err := Open(t.Context(), o); err == nil {
		t.Error("Open with negative retention succeeded")
	}
}

func TestSweep(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	clk := &clock{now: base()}
	o := testOptions(t, t.TempDir())
	o.RetentionDays = 30
	o.Now = clk.Now
	s := openStore(t, o)
	now := base().AddDate(0, 0, 100)
	day := func(d int) time.Time { return now.AddDate(0, 0, d) }
	add := func(id engine.ConversationID, days ...int) {
		for _, d := range days {
			must(s.AppendMessage(ctx, id, engine.Message{Role: engine.RoleUser, Content: fmt.Sprint(d), Timestamp: day(d), Tokens: 1}))
		}
	}

	clk.Set(day(-50))
	stale := must(s.ActiveConversation(ctx, "telegram:stale")) // active, all old
	add(stale.ID, -50, -45)
	clk.Set(day(-40))
	mixed := must(s.ActiveConversation(ctx, "telegram:mixed"))
	add(mixed.ID, -40, -35, -10, -1)
	emptyOld := must(s.NewConversation(ctx, "telegram:mixed")) // inactive, empty, old
	clk.Set(day(-1))
	emptyNew := must(s.ActiveConversation(ctx, "telegram:new"))
	writeRaw(t, s, msgKey("ghost", 1), must(encode(engine.Message{ID: "1"})))
	writeRaw(t, s, msgKey("ghost", 2), must(encode(engine.Message{ID: "2"})))
	for _, r := range []engine.ReplyState{
		{ID: "old-done", Status: engine.ReplyDone, UpdatedAt: day(-8)},
		{ID: "old-pending", Status: engine.ReplyPending, UpdatedAt: day(-8)},
		{ID: "new-done", Status: engine.ReplyDone, UpdatedAt: day(-6)},
	} {
		if err := s.PutReply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	removed := must(s.Sweep(ctx, now))
	if removed != 2+2+2 { // stale's two, mixed's two old ones, the ghost's two
		t.Errorf("Sweep removed %d, want 6", removed)
	}
	for _, id := range []engine.ConversationID{stale.ID, emptyOld.ID} {
		if _, err := s.Conversation(ctx, id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("old conversation %s: %v, want ErrNotFound", id, err)
		}
	}
	m := must(s.Conversation(ctx, mixed.ID))
	if m.MessageCount != 2 || m.TotalTokens != 4 {
		t.Errorf("trimmed conversation = %+v, want 2 messages (tokens kept)", m)
	}
	if got := must(s.Messages(ctx, mixed.ID)); len(got) != 2 || got[0].Content != "-10" {
		t.Errorf("kept messages = %+v", got)
	}
	if _, err := s.Conversation(ctx, emptyNew.ID); err != nil {
		t.Errorf("a recent empty conversation was swept: %v", err)
	}
	if c := must(s.ActiveConversation(ctx, "telegram:stale")); c.ID == stale.ID {
		t.Error("the swept active conversation is still active")
	}
	var replies []string
	err := s.db.View(func(txn *badger.Txn) error {
		return scanKeys(txn, []byte(pReply), func(k []byte) error {
			replies = append(replies, string(k[len(pReply)+1:]))
			return nil
		})
	})
	if err != nil || strings.Join(replies, ",") != "new-done,old-pending" {
		t.Errorf("replies after sweep = %v (%v), want new-done,old-pending", replies, err)
	}
	if again := must(s.Sweep(ctx, now)); again != 0 {
		t.Errorf("second Sweep removed %d", again)
	}
	if st := must(s.Stats(ctx)); st.Conversations != 3 {
		t.Errorf("Stats.Conversations = %d, want 3", st.Conversations)
	}
}

func TestSweepWithoutRetention(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	s := openStore(t, testOptions(t, t.TempDir()))
	c := must(s.ActiveConversation(ctx, "telegram:1"))
	must(s.AppendMessage(ctx, c.ID, engine.Message{Content: "ancient", Timestamp: base().AddDate(-10, 0, 0)}))
	writeRaw(t, s, msgKey("ghost", 1), must(encode(engine.Message{ID: "1"})))
	if n := must(s.Sweep(ctx, base())); n != 1 {
		t.Errorf("Sweep without retention removed %d, want only the orphan", n)
	}
	if got := must(s.Messages(ctx, c.ID)); len(got) != 1 {
		t.Errorf("messages = %d, want 1", len(got))
	}
}

func TestMarkSeenExpires(t *testing.T) {
	defer guard(t)
	if testing.Short() {
		t.Skip("waits for a one-second TTL")
	}
	t.Parallel()
	ctx := t.Context()
	s := openStore(t, testOptions(t, t.TempDir()))
	if must(s.MarkSeen(ctx, "slack", "e1", 500*time.Millisecond)) {
		t.Fatal("first MarkSeen reported seen")
	}
	if !must(s.MarkSeen(ctx, "slack", "e1", 500*time.Millisecond)) {
		t.Fatal("second MarkSeen reported unseen")
	}
	time.Sleep(2100 * time.Millisecond) // rounded up to 1 s, plus Badger's whole-second clock
	if must(s.MarkSeen(ctx, "slack", "e1", time.Second)) {
		t.Error("MarkSeen after the TTL reported seen")
	}
}

func TestExpiresAtRoundsUp(t *testing.T) {
	at := time.Unix(100, 900_000_000)
	for ttl, want := range map[time.Duration]uint64{
		time.Second:             102, // 101.9 → 102: never less than ttl
		100 * time.Millisecond:  101,
		1100 * time.Millisecond: 102,
	} {
		if got := expiresAt(at, ttl); got != want {
			t.Errorf("expiresAt(100.9s, %v) = %d, want %d", ttl, got, want)
		}
	}
	if got := expiresAt(time.Unix(100, 0), time.Second); got != 101 {
		t.Errorf("whole seconds: %d, want 101", got)
	}
}

func TestConcurrentWriters(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	s := openStore(t, testOptions(t, t.TempDir()))
	const workers, each = 8, 20
	ids := make([]engine.ConversationID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c, err := s.ActiveConversation(ctx, "discord:busy")
			if err != nil {
				t.Error(err)
				return
			}
			ids[w] = c.ID
			for i := range each {
				m := engine.Message{Role: engine.RoleUser, Content: fmt.Sprint(w, i), Timestamp: base(), Tokens: 2,
					Metadata: engine.MessageMeta{Usage: &engine.Usage{Cost: 0.25}}}
				if _, err := s.AppendMessage(ctx, c.ID, m); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent ActiveConversation created several: %v", ids)
		}
	}
	c := must(s.Conversation(ctx, ids[0]))
	if c.MessageCount != workers*each || c.TotalTokens != 2*workers*each || c.Cost != 0.25*workers*each {
		t.Errorf("counters = %+v, want %d messages", c, workers*each)
	}
	if list := must(s.Conversations(ctx, "discord:busy")); len(list) != 1 {
		t.Errorf("%d conversations, want 1", len(list))
	}
}

func TestBackupRestore(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	src := openStore(t, testOptions(t, t.TempDir()))
	c := must(src.ActiveConversation(ctx, "telegram:1"))
	must(src.AppendMessage(ctx, c.ID, engine.Message{Role: engine.RoleUser, Content: "hello", Timestamp: base()}))
	if _, err := src.SetSetting(ctx, engine.SettingChange{Key: "telegram:1", User: "u1", Name: "model", New: "x/y"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Backup(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, testOptions(t, t.TempDir()))
	if err := dst.Restore(ctx, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if got := must(dst.ActiveConversation(ctx, "telegram:1")); got.ID != c.ID || got.MessageCount != 1 {
		t.Errorf("restored conversation = %+v", got)
	}
	if got := must(dst.Messages(ctx, c.ID)); len(got) != 1 || got[0].Content != "hello" {
		t.Errorf("restored messages = %+v", got)
	}
	if n := must(dst.Verify(ctx)); n != 0 {
		t.Errorf("restored store has %d corrupt records", n)
	}
	if err := dst.Restore(ctx, bytes.NewReader(buf.Bytes())); err == nil {
		t.Error("Restore into a non-empty store succeeded")
	}
}

func TestSweep_SettingsHistoryFollowsRetention(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	o := testOptions(t, t.TempDir())
	o.RetentionDays = 30
	s := openStore(t, o)
	now := base().AddDate(0, 0, 100)
	for _, ch := range []engine.SettingChange{
		{Key: "telegram:1", User: "u1", Name: "model", New: "old/model", At: now.AddDate(0, 0, -40)},
		{Key: "telegram:1", User: "u1", Name: "model", New: "new/model", At: now.AddDate(0, 0, -2)},
	} {
		must(s.SetSetting(ctx, ch))
	}
	must(s.Sweep(ctx, now))
	got := must(s.SettingChanges(ctx, "telegram:1", 0))
	if len(got) != 1 || got[0].New != "new/model" {
		t.Errorf("history after the sweep = %+v, want only the change from 2 days ago", got)
	}
	if set := must(s.Settings(ctx, "telegram:1")); set["model"] != "new/model" {
		t.Errorf("the setting itself was swept: %v", set)
	}
}

// TestSecrets_SealedAtRest: without database encryption a secret is sealed
// with age to an identity file (0600) in the data directory, so neither
// the database files nor a backup hold it in plain text; a restore
// elsewhere cannot read it and says why. With database encryption no
// identity file is needed.
func TestSecrets_SealedAtRest(t *testing.T) {
	defer guard(t)
	ctx := t.Context()
	const key = "sk-or-v1-secret-api-key-0123456789"
	dir := t.TempDir()
	s := openStore(t, testOptions(t, dir))
	if err := s.SetSecret(ctx, "api_key", key); err != nil {
		t.Fatal(err)
	}
	if got := must(s.Secret(ctx, "api_key")); got != key {
		t.Errorf("Secret = %q", got)
	}
	fi, err := os.Stat(filepath.Join(dir, SecretKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v, mode %v; want 0600", err, fi)
	}
	var backup bytes.Buffer
	if err := s.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(backup.Bytes(), []byte(key)) {
		t.Error("the backup holds the secret in plain text")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(key)) {
			t.Errorf("%s holds the secret in plain text", filepath.Base(f))
		}
	}

	other := openStore(t, testOptions(t, t.TempDir()))
	if err := other.Restore(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Secret(ctx, "api_key"); err == nil || errors.Is(err, engine.ErrNotFound) ||
		!strings.Contains(err.Error(), SecretKeyFile) {
		t.Errorf("Secret after a restore elsewhere = %v, want an error naming %s", err, SecretKeyFile)
	}

	edir := t.TempDir()
	o := testOptions(t, edir)
	o.EncryptionKey = bytes.Repeat([]byte{3}, 32)
	enc := openStore(t, o)
	if err := enc.SetSecret(ctx, "api_key", key); err != nil {
		t.Fatal(err)
	}
	if got := must(enc.Secret(ctx, "api_key")); got != key {
		t.Errorf("encrypted store: Secret = %q", got)
	}
	if _, err := os.Stat(filepath.Join(edir, SecretKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an encrypted database made an identity file: %v", err)
	}
}
