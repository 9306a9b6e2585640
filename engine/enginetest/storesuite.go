package enginetest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// suiteBase returns the fixed time the suite's messages and usage are dated from.
func suiteBase() time.Time { return time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC) }

// RunStoreSuite runs the engine.Store conformance tests against the stores
// that open returns. open is called once per subtest and must return an
// empty store that it closes itself (t.Cleanup); it may call t.Fatal.
func RunStoreSuite(t *testing.T, open func(t *testing.T) engine.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s engine.Store)
	}{
		{"ActiveConversation", testActiveConversation},
		{"NewConversation", testNewConversation},
		{"ConversationNotFound", testConversationNotFound},
		{"UpdateConversation", testUpdateConversation},
		{"AppendMessage", testAppendMessage},
		{"RecentMessages", testRecentMessages},
		{"Messages", testMessages},
		{"DeleteMessagesFrom", testDeleteMessagesFrom},
		{"DeleteConversations", testDeleteConversations},
		{"Settings", testSettings},
		{"SettingChanges", testSettingChanges},
		{"SetDefaults", testSetDefaults},
		{"Secrets", testSecrets},
		{"Usage", testUsage},
		{"Replies", testReplies},
		{"MarkSeen", testMarkSeen},
		{"Stats", testStats},
		{"CancelledContext", testCancelledContext},
		{"ConcurrentAppend", testConcurrentAppend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer guard(t)
			tc.fn(t, open(t))
		})
	}
}

// mustFailure is what must panics with; guard turns it into t.Fatal.
type mustFailure struct {
	where string
	err   error
}

// must returns v, or stops the current subtest when err is not nil. It may
// be called only from a test goroutine whose function defers guard.
func must[T any](v T, err error) T {
	if err != nil {
		where := "?"
		if _, file, line, ok := runtime.Caller(1); ok {
			where = fmt.Sprintf("%s:%d", filepath.Base(file), line)
		}
		panic(mustFailure{where, err})
	}
	return v
}

// guard, deferred, reports a failed must as a fatal test failure.
func guard(t *testing.T) {
	if r := recover(); r != nil {
		f, ok := r.(mustFailure)
		if !ok {
			panic(r)
		}
		t.Fatalf("%s: %v", f.where, f.err)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// msg builds the i-th test message, dated i minutes after suiteBase().
func msg(i int) engine.Message {
	m := engine.Message{
		Role:      engine.RoleUser,
		Content:   fmt.Sprintf("message %d", i),
		Timestamp: suiteBase().Add(time.Duration(i) * time.Minute),
		Tokens:    10 + i,
	}
	if i%2 == 1 {
		m.Role = engine.RoleAssistant
		m.Model = fmt.Sprintf("model-%d", i)
		m.Metadata = engine.MessageMeta{
			FinishReason: "stop",
			Usage:        &engine.Usage{PromptTokens: i, CompletionTokens: 2 * i, TotalTokens: 3 * i, Cost: 0.25},
		}
	}
	return m
}

// sameMessage fails unless got is want as stored (want.ID empty: any id).
func sameMessage(t *testing.T, got, want engine.Message) {
	t.Helper()
	if want.ID != "" && got.ID != want.ID {
		t.Errorf("message id = %q, want %q", got.ID, want.ID)
	}
	if got.ID == "" {
		t.Errorf("message %q has no id", got.Content)
	}
	if got.Role != want.Role || got.Content != want.Content || got.Model != want.Model ||
		got.Tokens != want.Tokens || got.Metadata.FinishReason != want.Metadata.FinishReason {
		t.Errorf("message = %+v, want %+v", got, want)
	}
	if !got.Timestamp.Equal(want.Timestamp) || got.Timestamp.Location() != time.UTC {
		t.Errorf("message %q timestamp = %v, want %v in UTC", got.Content, got.Timestamp, want.Timestamp)
	}
	if !reflect.DeepEqual(got.Metadata.Usage, want.Metadata.Usage) {
		t.Errorf("message %q usage = %+v, want %+v", got.Content, got.Metadata.Usage, want.Metadata.Usage)
	}
}

func appendN(t *testing.T, s engine.Store, id engine.ConversationID, n int) []engine.Message {
	t.Helper()
	var out []engine.Message
	for i := range n {
		out = append(out, must(s.AppendMessage(t.Context(), id, msg(i))))
	}
	return out
}

func contents(ms []engine.Message) string {
	var b []string
	for _, m := range ms {
		b = append(b, m.Content)
	}
	return strings.Join(b, ",")
}

func testActiveConversation(t *testing.T, s engine.Store) {
	ctx := t.Context()
	key := engine.KeyFor("telegram", "42", "")
	c1 := must(s.ActiveConversation(ctx, key))
	if c1.ID == "" || c1.Key != key || !c1.Active || c1.CreatedAt.IsZero() {
		t.Fatalf("new active conversation = %+v", c1)
	}
	if c1.MessageCount != 0 || c1.TotalTokens != 0 || c1.Cost != 0 {
		t.Errorf("fresh conversation has counters: %+v", c1)
	}
	c2 := must(s.ActiveConversation(ctx, key))
	if c2.ID != c1.ID {
		t.Errorf("second ActiveConversation = %q, want the same %q", c2.ID, c1.ID)
	}
	other := must(s.ActiveConversation(ctx, engine.KeyFor("telegram", "42", "7")))
	if other.ID == c1.ID {
		t.Error("a thread shares its chat's conversation")
	}
	if _, err := s.ActiveConversation(ctx, ""); err == nil {
		t.Error("empty key accepted")
	}
}

func testNewConversation(t *testing.T, s engine.Store) {
	ctx := t.Context()
	key := engine.KeyFor("discord", "c1", "")
	old := must(s.ActiveConversation(ctx, key))
	appendN(t, s, old.ID, 2)
	fresh := must(s.NewConversation(ctx, key))
	if fresh.ID == old.ID || !fresh.Active || fresh.MessageCount != 0 {
		t.Fatalf("NewConversation = %+v (old %q)", fresh, old.ID)
	}
	if got := must(s.ActiveConversation(ctx, key)); got.ID != fresh.ID {
		t.Errorf("active after /new = %q, want %q", got.ID, fresh.ID)
	}
	if got := must(s.Conversation(ctx, old.ID)); got.Active || got.MessageCount != 2 {
		t.Errorf("old conversation = %+v, want inactive with 2 messages", got)
	}
	otherKey := engine.KeyFor("slack", "T1", "ts")
	other := must(s.ActiveConversation(ctx, otherKey))

	list := must(s.Conversations(ctx, key))
	if len(list) != 2 || list[0].ID != old.ID || list[1].ID != fresh.ID {
		t.Fatalf("Conversations(key) = %+v, want old then new", list)
	}
	if list[0].Active || !list[1].Active {
		t.Errorf("Active flags = %v, %v; want false, true", list[0].Active, list[1].Active)
	}
	all := must(s.Conversations(ctx, ""))
	var ids []engine.ConversationID
	for _, c := range all {
		ids = append(ids, c.ID)
	}
	if want := []engine.ConversationID{old.ID, fresh.ID, other.ID}; !slices.Equal(ids, want) {
		t.Errorf("Conversations(\"\") = %v, want %v", ids, want)
	}
	if none := must(s.Conversations(ctx, "telegram:nobody")); len(none) != 0 {
		t.Errorf("Conversations of an unknown key = %+v", none)
	}
}

func testConversationNotFound(t *testing.T, s engine.Store) {
	ctx := t.Context()
	const id = engine.ConversationID("no-such-conversation")
	if _, err := s.Conversation(ctx, id); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Conversation = %v, want ErrNotFound", err)
	}
	if _, err := s.AppendMessage(ctx, id, msg(0)); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("AppendMessage = %v, want ErrNotFound", err)
	}
	if _, err := s.RecentMessages(ctx, id, 5); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("RecentMessages = %v, want ErrNotFound", err)
	}
	if _, err := s.Messages(ctx, id); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Messages = %v, want ErrNotFound", err)
	}
	if err := s.DeleteMessagesFrom(ctx, id, "1"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("DeleteMessagesFrom = %v, want ErrNotFound", err)
	}
	if err := s.UpdateConversation(ctx, engine.Conversation{ID: id, Title: "x"}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("UpdateConversation = %v, want ErrNotFound", err)
	}
}

func testUpdateConversation(t *testing.T, s engine.Store) {
	ctx := t.Context()
	c := must(s.ActiveConversation(ctx, "console:local"))
	appendN(t, s, c.ID, 2)
	c.Title = "Trip planning"
	c.Tags = []string{"travel", "2025"}
	c.MessageCount, c.TotalTokens, c.Cost = 999, 999, 999 // the store's, not ours
	check(t, s.UpdateConversation(ctx, c))
	c.Tags[0] = "mutated after the call"
	got := must(s.Conversation(ctx, c.ID))
	if got.Title != "Trip planning" || !slices.Equal(got.Tags, []string{"travel", "2025"}) {
		t.Errorf("after UpdateConversation: title %q tags %q", got.Title, got.Tags)
	}
	if got.MessageCount != 2 || got.TotalTokens != 10+11 || got.Cost != 0.25 {
		t.Errorf("UpdateConversation overwrote counters: %+v", got)
	}
}

func testAppendMessage(t *testing.T, s engine.Store) {
	ctx := t.Context()
	c := must(s.ActiveConversation(ctx, "telegram:1"))
	var stored []engine.Message
	ids := map[string]bool{}
	for i := range 4 {
		in := msg(i)
		m := must(s.AppendMessage(ctx, c.ID, in))
		sameMessage(t, m, in)
		if ids[m.ID] {
			t.Errorf("id %q assigned twice", m.ID)
		}
		ids[m.ID] = true
		stored = append(stored, m)
	}
	// A caller's id is kept; a zero timestamp gets the store's time.
	mine := must(s.AppendMessage(ctx, c.ID, engine.Message{ID: "client-7", Role: engine.RoleUser, Content: "hi", Tokens: 5}))
	if mine.ID != "client-7" || mine.Timestamp.IsZero() {
		t.Errorf("AppendMessage with id and no time = %+v", mine)
	}
	got := must(s.Conversation(ctx, c.ID))
	if got.MessageCount != 5 || got.TotalTokens != 10+11+12+13+5 || got.Cost != 0.5 || got.ModelUsed != "model-3" {
		t.Errorf("counters = %+v; want 5 messages, 51 tokens, cost 0.5, model-3", got)
	}
	if !got.UpdatedAt.Equal(mine.Timestamp) {
		t.Errorf("UpdatedAt = %v, want the last message's %v", got.UpdatedAt, mine.Timestamp)
	}
	// The store keeps its own copy of the usage.
	stored[1].Metadata.Usage.Cost = 100
	all := must(s.Messages(ctx, c.ID))
	if len(all) != 5 {
		t.Fatalf("Messages = %d, want 5", len(all))
	}
	sameMessage(t, all[1], msg(1))
	if all[4].ID != "client-7" {
		t.Errorf("last message id = %q", all[4].ID)
	}
}

func testRecentMessages(t *testing.T, s engine.Store) {
	ctx := t.Context()
	c := must(s.ActiveConversation(ctx, "telegram:2"))
	if got := must(s.RecentMessages(ctx, c.ID, 5)); len(got) != 0 {
		t.Errorf("RecentMessages of an empty conversation = %d messages", len(got))
	}
	stored := appendN(t, s, c.ID, 10)
	got := must(s.RecentMessages(ctx, c.ID, 3))
	if len(got) != 3 {
		t.Fatalf("RecentMessages(3) = %d messages", len(got))
	}
	for i, m := range got {
		sameMessage(t, m, stored[7+i])
	}
	if got := must(s.RecentMessages(ctx, c.ID, 100)); contents(got) != contents(stored) {
		t.Errorf("RecentMessages(100) = %s", contents(got))
	}
	if got := must(s.RecentMessages(ctx, c.ID, 0)); len(got) != 0 {
		t.Errorf("RecentMessages(0) = %d messages", len(got))
	}
	// Another conversation's messages never leak in.
	c2 := must(s.NewConversation(ctx, "telegram:2"))
	appendN(t, s, c2.ID, 1)
	if got := must(s.RecentMessages(ctx, c.ID, 2)); contents(got) != "message 8,message 9" {
		t.Errorf("RecentMessages(2) = %s", contents(got))
	}
}

func testMessages(t *testing.T, s engine.Store) {
	ctx := t.Context()
	c := must(s.ActiveConversation(ctx, "slack:T:1"))
	if got := must(s.Messages(ctx, c.ID)); len(got) != 0 {
		t.Errorf("Messages of an empty conversation = %d", len(got))
	}
	stored := appendN(t, s, c.ID, 6)
	got := must(s.Messages(ctx, c.ID))
	if len(got) != len(stored) {
		t.Fatalf("Messages = %d, want %d", len(got), len(stored))
	}
	for i := range got {
		sameMessage(t, got[i], stored[i])
	}
}

func testDeleteMessagesFrom(t *testing.T, s engine.Store) {
	ctx := t.Context()
	c := must(s.ActiveConversation(ctx, "discord:9"))
	stored := appendN(t, s, c.ID, 5)
	before := must(s.Conversation(ctx, c.ID))
	if err := s.DeleteMessagesFrom(ctx, c.ID, "no-such-message"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("unknown message: %v, want ErrNotFound", err)
	}
	check(t, s.DeleteMessagesFrom(ctx, c.ID, stored[2].ID))
	got := must(s.Messages(ctx, c.ID))
	if contents(got) != "message 0,message 1" {
		t.Fatalf("after DeleteMessagesFrom: %s", contents(got))
	}
	after := must(s.Conversation(ctx, c.ID))
	if after.MessageCount != 2 {
		t.Errorf("MessageCount = %d, want 2", after.MessageCount)
	}
	if after.TotalTokens != before.TotalTokens || after.Cost != before.Cost {
		t.Errorf("tokens/cost changed by a delete: %+v, before %+v", after, before)
	}
	m := must(s.AppendMessage(ctx, c.ID, msg(7)))
	if m.ID == stored[0].ID || m.ID == stored[1].ID {
		t.Errorf("new message reuses id %q", m.ID)
	}
	if got := must(s.RecentMessages(ctx, c.ID, 10)); contents(got) != "message 0,message 1,message 7" {
		t.Errorf("after append: %s", contents(got))
	}
}

func testDeleteConversations(t *testing.T, s engine.Store) {
	ctx := t.Context()
	a, b := engine.KeyFor("telegram", "a", ""), engine.KeyFor("telegram", "b", "")
	a1 := must(s.ActiveConversation(ctx, a))
	appendN(t, s, a1.ID, 3)
	a2 := must(s.NewConversation(ctx, a))
	appendN(t, s, a2.ID, 2)
	b1 := must(s.ActiveConversation(ctx, b))
	appendN(t, s, b1.ID, 2)
	for _, k := range []engine.ConversationKey{a, b} {
		setSetting(t, s, k, "model", "m-"+string(k))
		check(t, s.PutReply(ctx, engine.ReplyState{ID: "r-" + string(k), Key: k, Status: engine.ReplyStreaming, UpdatedAt: suiteBase()}))
	}

	check(t, s.DeleteConversations(ctx, a))

	for _, id := range []engine.ConversationID{a1.ID, a2.ID} {
		if _, err := s.Conversation(ctx, id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("deleted conversation %q: %v, want ErrNotFound", id, err)
		}
		if _, err := s.Messages(ctx, id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("messages of deleted conversation %q: %v, want ErrNotFound", id, err)
		}
	}
	if got := must(s.Conversations(ctx, a)); len(got) != 0 {
		t.Errorf("Conversations(a) after delete = %+v", got)
	}
	if got := must(s.Settings(ctx, a)); len(got) != 0 {
		t.Errorf("settings of a after delete = %v", got)
	}
	if got := must(s.SettingChanges(ctx, a, 0)); len(got) != 0 {
		t.Errorf("settings history of a after delete = %+v", got)
	}
	if got := must(s.SettingChanges(ctx, b, 0)); len(got) != 1 {
		t.Errorf("settings history of b after deleting a = %+v, want its one change", got)
	}
	un := must(s.UnfinishedReplies(ctx))
	if len(un) != 1 || un[0].Key != b {
		t.Errorf("unfinished replies after delete = %+v, want only b's", un)
	}
	// b is untouched.
	if got := must(s.Messages(ctx, b1.ID)); len(got) != 2 {
		t.Errorf("b's messages = %d, want 2", len(got))
	}
	if got := must(s.Settings(ctx, b)); got["model"] != "m-"+string(b) {
		t.Errorf("b's settings = %v", got)
	}
	if st := must(s.Stats(ctx)); st.Conversations != 1 {
		t.Errorf("Stats.Conversations = %d, want 1", st.Conversations)
	}
	// The key starts afresh.
	fresh := must(s.ActiveConversation(ctx, a))
	if fresh.ID == a1.ID || fresh.ID == a2.ID || fresh.MessageCount != 0 {
		t.Errorf("ActiveConversation after delete = %+v", fresh)
	}
	check(t, s.DeleteConversations(ctx, "telegram:never-used"))
}

func testSettings(t *testing.T, s engine.Store) {
	ctx := t.Context()
	key, other := engine.ConversationKey("telegram:5"), engine.ConversationKey("telegram:6")
	got := must(s.Settings(ctx, key))
	if got == nil || len(got) != 0 {
		t.Errorf("Settings of a new key = %#v, want an empty map", got)
	}
	setSetting(t, s, key, "model", "a/b")
	setSetting(t, s, key, "temperature", "0.7")
	setSetting(t, s, key, "model", "c/d")
	setSetting(t, s, other, "model", "x/y")
	got = must(s.Settings(ctx, key))
	if want := map[string]string{"model": "c/d", "temperature": "0.7"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Settings = %v, want %v", got, want)
	}
	got["model"] = "mutated"
	setSetting(t, s, key, "temperature", "")
	got = must(s.Settings(ctx, key))
	if want := map[string]string{"model": "c/d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Settings after reset = %v, want %v", got, want)
	}
	if got := must(s.Settings(ctx, other)); got["model"] != "x/y" || len(got) != 1 {
		t.Errorf("other key's settings = %v", got)
	}
}

// setSetting sets one setting by user "u1" and fails the test on error.
func setSetting(t *testing.T, s engine.Store, key engine.ConversationKey, name, value string) engine.SettingChange {
	t.Helper()
	return must(s.SetSetting(t.Context(), engine.SettingChange{Key: key, User: "u1", Name: name, New: value}))
}

func testSettingChanges(t *testing.T, s engine.Store) {
	ctx := t.Context()
	key, other := engine.ConversationKey("telegram:5"), engine.ConversationKey("telegram:6")
	if got := must(s.SettingChanges(ctx, key, 0)); got == nil || len(got) != 0 {
		t.Errorf("history of a new key = %#v, want empty", got)
	}
	at := suiteBase()
	first := must(s.SetSetting(ctx, engine.SettingChange{Key: key, User: "u7", Name: "model", New: "a/b", At: at}))
	if first.ID == "" || first.Old != "" || first.New != "a/b" || first.User != "u7" || !first.At.Equal(at) {
		t.Errorf("first change = %+v", first)
	}
	if same := setSetting(t, s, key, "model", "a/b"); same.ID != "" {
		t.Errorf("setting the same value stored an operation: %+v", same)
	}
	second := setSetting(t, s, key, "model", "c/d")
	if second.Old != "a/b" || second.ID == first.ID {
		t.Errorf("second change = %+v, want old a/b and a new id", second)
	}
	setSetting(t, s, other, "model", "x/y")
	reset := setSetting(t, s, key, "model", "")
	if reset.Old != "c/d" || reset.New != "" {
		t.Errorf("reset = %+v", reset)
	}
	if got := must(s.Settings(ctx, key)); len(got) != 0 {
		t.Errorf("settings after the reset = %v", got)
	}
	got := must(s.SettingChanges(ctx, key, 0))
	var vals []string
	for _, ch := range got {
		if ch.Key != key || ch.Name != "model" {
			t.Errorf("operation %+v is not key's", ch)
		}
		vals = append(vals, ch.Old+">"+ch.New)
	}
	if want := []string{">a/b", "a/b>c/d", "c/d>"}; !slices.Equal(vals, want) {
		t.Errorf("history = %v, want %v (oldest first)", vals, want)
	}
	last := must(s.SettingChanges(ctx, key, 2))
	if len(last) != 2 || last[0].ID != second.ID || last[1].ID != reset.ID {
		t.Errorf("last 2 = %+v, want the second change and the reset", last)
	}
	for i := range 30 {
		setSetting(t, s, key, "temperature", fmt.Sprint(i%2))
	}
	if got := must(s.SettingChanges(ctx, key, 20)); len(got) != 20 || got[19].New != "1" {
		t.Errorf("last 20 of 33 = %d operations ending %+v", len(got), got[len(got)-1])
	}
	if got := must(s.SettingChanges(ctx, other, 0)); len(got) != 1 || got[0].New != "x/y" {
		t.Errorf("other key's history = %+v", got)
	}
}

func testSetDefaults(t *testing.T, s engine.Store) {
	ctx := t.Context()
	at := suiteBase()
	first := map[string]string{"model": "a/b", "temperature": "1"}
	if got := must(s.SetDefaults(ctx, first, at)); len(got) != 0 {
		t.Errorf("first start recorded %+v, want nothing", got)
	}
	if got := must(s.SetDefaults(ctx, first, at.Add(time.Hour))); len(got) != 0 {
		t.Errorf("an unchanged config recorded %+v", got)
	}
	got := must(s.SetDefaults(ctx, map[string]string{"model": "c/d", "temperature": "1", "streaming": "off"}, at.Add(2*time.Hour)))
	if len(got) != 1 || got[0].Name != "model" || got[0].Old != "a/b" || got[0].New != "c/d" ||
		got[0].User != engine.ConfigUser || got[0].Key != engine.ConfigKey || !got[0].At.Equal(at.Add(2*time.Hour)) {
		t.Errorf("changed default = %+v, want model a/b -> c/d by the config (a new name is not a change)", got)
	}
	hist := must(s.SettingChanges(ctx, engine.ConfigKey, 0))
	if len(hist) != 1 || hist[0].ID != got[0].ID {
		t.Errorf("config history = %+v", hist)
	}
}

func testSecrets(t *testing.T, s engine.Store) {
	ctx := t.Context()
	if _, err := s.Secret(ctx, "api_key"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Secret before any = %v, want ErrNotFound", err)
	}
	check(t, s.SetSecret(ctx, "api_key", "sk-or-v1-first"))
	check(t, s.SetSecret(ctx, "api_key", "sk-or-v1-second"))
	check(t, s.SetSecret(ctx, "other", "x"))
	if got := must(s.Secret(ctx, "api_key")); got != "sk-or-v1-second" {
		t.Errorf("Secret = %q, want the last one set", got)
	}
	check(t, s.SetSecret(ctx, "api_key", ""))
	if _, err := s.Secret(ctx, "api_key"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Secret after deleting = %v, want ErrNotFound", err)
	}
	if got := must(s.Secret(ctx, "other")); got != "x" {
		t.Errorf("another secret = %q", got)
	}
	if err := s.SetSecret(ctx, "", "x"); err == nil {
		t.Error("SetSecret with no name succeeded")
	}
}

func testUsage(t *testing.T, s engine.Store) {
	ctx := t.Context()
	u := engine.Usage{PromptTokens: 100, CompletionTokens: 50, TotalTokens: 150, Cost: 0.125}
	// 23:30 in UTC-5 is 04:30 the next day in UTC: usage counts by UTC day.
	est := time.FixedZone("EST", -5*3600)
	check(t, s.RecordUsage(ctx, time.Date(2025, 3, 13, 23, 30, 0, 0, est), "alice", u))
	check(t, s.RecordUsage(ctx, time.Date(2025, 3, 14, 20, 0, 0, 0, time.UTC), "bob", u))
	check(t, s.RecordUsage(ctx, time.Date(2025, 3, 14, 21, 0, 0, 0, time.UTC), "alice", u))
	check(t, s.RecordUsage(ctx, time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC), "alice", u))

	day := must(s.UsageOn(ctx, "2025-03-14", ""))
	if day.Day != "2025-03-14" || day.Requests != 3 || day.Usage != u.Add(u).Add(u) {
		t.Errorf("overall 2025-03-14 = %+v", day)
	}
	alice := must(s.UsageOn(ctx, "2025-03-14", "alice"))
	if alice.Requests != 2 || alice.Usage != u.Add(u) {
		t.Errorf("alice 2025-03-14 = %+v", alice)
	}
	if bob := must(s.UsageOn(ctx, "2025-03-15", "bob")); bob.Requests != 0 || bob.Day != "2025-03-15" || bob.Cost != 0 {
		t.Errorf("bob 2025-03-15 = %+v, want zero", bob)
	}
	if next := must(s.UsageOn(ctx, "2025-03-15", "")); next.Requests != 1 || next.Usage != u {
		t.Errorf("overall 2025-03-15 = %+v", next)
	}
	if empty := must(s.UsageOn(ctx, "2024-01-01", "")); empty.Requests != 0 || empty.TotalTokens != 0 {
		t.Errorf("a day without usage = %+v", empty)
	}
	if _, err := s.UsageOn(ctx, "14/03/2025", ""); err == nil {
		t.Error("UsageOn accepted a malformed day")
	}
}

func testReplies(t *testing.T, s engine.Store) {
	ctx := t.Context()
	key := engine.ConversationKey("telegram:7")
	put := func(id string, st engine.ReplyStatus, minute int) engine.ReplyState {
		r := engine.ReplyState{
			ID: id, Key: key, Chat: "7", Thread: "t", Conversation: "c", Event: "ev-" + engine.EventID(id), Status: st,
			MessageIDs: []engine.MessageID{"m1", "m2"}, Text: "partial " + id,
			UpdatedAt: suiteBase().Add(time.Duration(minute) * time.Minute),
		}
		check(t, s.PutReply(ctx, r))
		return r
	}
	if got := must(s.UnfinishedReplies(ctx)); len(got) != 0 {
		t.Errorf("UnfinishedReplies of an empty store = %+v", got)
	}
	put("r1", engine.ReplyPending, 3)
	r2 := put("r2", engine.ReplyStreaming, 1)
	put("r3", engine.ReplyDone, 2)
	put("r4", engine.ReplyFailed, 2)
	put("r5", engine.ReplyStopped, 2)
	r2.MessageIDs[0] = "mutated after the call"

	got := must(s.UnfinishedReplies(ctx))
	if len(got) != 2 || got[0].ID != "r2" || got[1].ID != "r1" {
		t.Fatalf("UnfinishedReplies = %+v, want r2 then r1", got)
	}
	g := got[0]
	if g.Key != key || g.Chat != "7" || g.Thread != "t" || g.Conversation != "c" || g.Event != "ev-r2" || g.Status != engine.ReplyStreaming ||
		!slices.Equal(g.MessageIDs, []engine.MessageID{"m1", "m2"}) || g.Text != "partial r2" ||
		!g.UpdatedAt.Equal(suiteBase().Add(time.Minute)) {
		t.Errorf("stored reply = %+v", g)
	}
	put("r1", engine.ReplyDone, 4)
	put("r2", engine.ReplyInterrupted, 4)
	if got := must(s.UnfinishedReplies(ctx)); len(got) != 0 {
		t.Errorf("UnfinishedReplies after finishing = %+v", got)
	}
	put("r3", engine.ReplyStreaming, 5) // back to unfinished (not expected, but stored as given)
	if got := must(s.UnfinishedReplies(ctx)); len(got) != 1 || got[0].ID != "r3" {
		t.Errorf("UnfinishedReplies = %+v, want r3", got)
	}
	if err := s.PutReply(ctx, engine.ReplyState{Status: engine.ReplyPending}); err == nil {
		t.Error("PutReply accepted an empty id")
	}
}

func testMarkSeen(t *testing.T, s engine.Store) {
	ctx := t.Context()
	seen := func(p engine.Platform, id engine.EventID) bool {
		t.Helper()
		return must(s.MarkSeen(ctx, p, id, time.Hour))
	}
	if seen("telegram", "100") {
		t.Error("first MarkSeen reported seen")
	}
	if !seen("telegram", "100") {
		t.Error("second MarkSeen reported unseen")
	}
	if seen("discord", "100") {
		t.Error("the same id on another platform reported seen")
	}
	if seen("telegram", "101") {
		t.Error("another id reported seen")
	}
	if !seen("discord", "100") {
		t.Error("second MarkSeen on discord reported unseen")
	}
}

func testStats(t *testing.T, s engine.Store) {
	ctx := t.Context()
	st := must(s.Stats(ctx))
	if st.Conversations != 0 || st.Corrupt != 0 || st.SizeBytes < 0 {
		t.Errorf("Stats of an empty store = %+v", st)
	}
	c := must(s.ActiveConversation(ctx, "telegram:1"))
	appendN(t, s, c.ID, 3)
	must(s.NewConversation(ctx, "telegram:1"))
	must(s.ActiveConversation(ctx, "telegram:2"))
	if st := must(s.Stats(ctx)); st.Conversations != 3 || st.Corrupt != 0 {
		t.Errorf("Stats = %+v, want 3 conversations", st)
	}
}

func testCancelledContext(t *testing.T, s engine.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.ActiveConversation(ctx, "telegram:1"); !errors.Is(err, context.Canceled) {
		t.Errorf("ActiveConversation with a cancelled context = %v", err)
	}
	if err := s.RecordUsage(ctx, suiteBase(), "u", engine.Usage{Cost: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("RecordUsage with a cancelled context = %v", err)
	}
	if d := must(s.UsageOn(t.Context(), suiteBase().Format(time.DateOnly), "")); d.Requests != 0 {
		t.Errorf("cancelled RecordUsage was recorded: %+v", d)
	}
}

func testConcurrentAppend(t *testing.T, s engine.Store) {
	ctx := t.Context()
	c := must(s.ActiveConversation(ctx, "telegram:busy"))
	const workers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m := msg(w*each + i)
				if _, err := s.AppendMessage(ctx, c.ID, m); err != nil {
					errs <- err
				}
				if err := s.RecordUsage(ctx, suiteBase(), "u", engine.Usage{TotalTokens: 1, Cost: 0.5}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := must(s.Conversation(ctx, c.ID))
	wantTokens := 0
	for i := range workers * each {
		wantTokens += msg(i).Tokens
	}
	if got.MessageCount != workers*each || got.TotalTokens != wantTokens {
		t.Errorf("after concurrent appends: %d messages, %d tokens; want %d, %d",
			got.MessageCount, got.TotalTokens, workers*each, wantTokens)
	}
	msgs := must(s.Messages(ctx, c.ID))
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.ID] = true
	}
	if len(msgs) != workers*each || len(ids) != len(msgs) {
		t.Errorf("%d messages with %d distinct ids, want %d", len(msgs), len(ids), workers*each)
	}
	for _, user := range []engine.UserID{"", "u"} {
		d := must(s.UsageOn(ctx, suiteBase().Format(time.DateOnly), user))
		if d.Requests != workers*each || d.TotalTokens != workers*each || d.Cost != 0.5*workers*each {
			t.Errorf("usage of %q after concurrent records = %+v", user, d)
		}
	}
}
