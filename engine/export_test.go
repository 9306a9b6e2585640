package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func exportFixture() (Conversation, []Message) {
	cet := time.FixedZone("CET", 3600)
	c := Conversation{
		ID: "conv-1", Key: "telegram:42", Title: "Trip <planning> & more", Tags: []string{"travel"},
		CreatedAt: time.Date(2025, 3, 14, 10, 0, 0, 0, cet), // 09:00 UTC
		UpdatedAt: time.Date(2025, 3, 14, 9, 5, 30, 500_000_000, time.UTC),
		ModelUsed: "openai/gpt-4o", TotalTokens: 42, MessageCount: 2, Cost: 0.0012,
	}
	msgs := []Message{
		{ID: "1", Role: RoleUser, Content: "Where to go?", Timestamp: time.Date(2025, 3, 14, 10, 5, 0, 0, cet), Tokens: 5},
		{
			ID: "2", Role: RoleAssistant, Content: "Try this:\n```go\nfmt.Println(\"<hi>\")\n", Model: "openai/gpt-4o",
			Timestamp: time.Date(2025, 3, 14, 9, 5, 30, 500_000_000, time.UTC), Tokens: 37,
			Metadata: MessageMeta{FinishReason: "stop", Usage: &Usage{PromptTokens: 5, CompletionTokens: 32, TotalTokens: 37, Cost: 0.0012}},
		},
	}
	return c, msgs
}

func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	return slices.Sorted(maps.Keys(m))
}

func TestExportJSONFormat(t *testing.T) {
	c, msgs := exportFixture()
	var buf bytes.Buffer
	if err := ExportJSON(&buf, ConversationExport{Conversation: c, Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "\n  \"metadata\": {") {
		t.Errorf("not indented:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), `"Trip <planning> & more"`) {
		t.Errorf("HTML escaped:\n%s", buf.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want []string) {
		t.Helper()
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s fields = %v, want %v", what, got, want)
		}
	}
	check("top", keysOf(t, doc), []string{"conversation_id", "metadata", "messages", "settings_history"})
	meta := doc["metadata"].(map[string]any)
	check("metadata", keysOf(t, meta), []string{"title", "created_at", "updated_at", "model_used", "total_tokens", "message_count",
		"chat", "tags", "cost", "active"})
	if meta["created_at"] != "2025-03-14T09:00:00Z" || meta["updated_at"] != "2025-03-14T09:05:30.5Z" {
		t.Errorf("metadata times = %v, %v; want RFC 3339 UTC", meta["created_at"], meta["updated_at"])
	}
	if doc["conversation_id"] != "conv-1" || meta["total_tokens"] != 42.0 || meta["message_count"] != 2.0 {
		t.Errorf("doc = %v", doc)
	}
	list := doc["messages"].([]any)
	if len(list) != 2 {
		t.Fatalf("%d messages", len(list))
	}
	for i, v := range list {
		m := v.(map[string]any)
		check("message", keysOf(t, m), []string{"id", "role", "content", "timestamp", "model", "tokens", "metadata"})
		check("message metadata", keysOf(t, m["metadata"]), []string{"finish_reason", "usage"})
		ts, err := time.Parse(time.RFC3339, m["timestamp"].(string))
		if err != nil || !strings.HasSuffix(m["timestamp"].(string), "Z") || !ts.Equal(msgs[i].Timestamp) {
			t.Errorf("message %d timestamp %v (%v), want %v in UTC", i, m["timestamp"], err, msgs[i].Timestamp)
		}
	}
	user, asst := list[0].(map[string]any), list[1].(map[string]any)
	if user["model"] != nil || user["metadata"].(map[string]any)["usage"] != nil || user["metadata"].(map[string]any)["finish_reason"] != nil {
		t.Errorf("user message = %v, want null model, finish_reason and usage", user)
	}
	if asst["model"] != "openai/gpt-4o" || asst["content"] != msgs[1].Content || asst["role"] != "assistant" {
		t.Errorf("assistant message = %v", asst)
	}
	usage := asst["metadata"].(map[string]any)["usage"].(map[string]any)
	if usage["total_tokens"] != 37.0 || usage["cost"] != 0.0012 {
		t.Errorf("usage = %v", usage)
	}
}

// TestExport_EverythingStored fails when a field is added to Conversation,
// Message or SettingChange without a place in the export: privacy means the owner can see
// everything kept about a conversation.
func TestExport_EverythingStored(t *testing.T) {
	c, msgs := exportFixture()
	c.Active = true
	assertNoZeroFields(t, c)
	asst := msgs[1]
	assertNoZeroFields(t, asst)

	op := SettingChange{ID: "3", At: time.Date(2025, 3, 14, 9, 1, 0, 0, time.UTC), Key: c.Key, User: "u42",
		Name: SettingModel, Old: "openai/gpt-4o-mini", New: "openai/gpt-4o"}
	assertNoZeroFields(t, op)
	var buf bytes.Buffer
	if err := ExportJSON(&buf, ConversationExport{Conversation: c, Messages: msgs, SettingChanges: []SettingChange{op}}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		History  []map[string]any `json:"settings_history"`
		ID       string           `json:"conversation_id"`
		Messages []struct {
			ID, Role, Content, Timestamp, Model string
			Tokens                              int
			Metadata                            struct {
				FinishReason string `json:"finish_reason"`
				Usage        *Usage
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Meta map[string]any `json:"metadata"`
	}
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	conv := map[string]func() bool{
		"ID":           func() bool { return doc.ID == string(c.ID) },
		"Key":          func() bool { return raw.Meta["chat"] == string(c.Key) },
		"Title":        func() bool { return raw.Meta["title"] == c.Title },
		"Tags":         func() bool { return fmt.Sprint(raw.Meta["tags"]) == fmt.Sprint(c.Tags) },
		"CreatedAt":    func() bool { return raw.Meta["created_at"] == exportTime(c.CreatedAt) },
		"UpdatedAt":    func() bool { return raw.Meta["updated_at"] == exportTime(c.UpdatedAt) },
		"ModelUsed":    func() bool { return raw.Meta["model_used"] == c.ModelUsed },
		"TotalTokens":  func() bool { return raw.Meta["total_tokens"] == float64(c.TotalTokens) },
		"MessageCount": func() bool { return raw.Meta["message_count"] == float64(c.MessageCount) },
		"Cost":         func() bool { return raw.Meta["cost"] == c.Cost },
		"Active":       func() bool { return raw.Meta["active"] == c.Active },
	}
	checkFields(t, "Conversation", c, conv)

	m := doc.Messages[1]
	msg := map[string]func() bool{
		"ID":        func() bool { return m.ID == asst.ID },
		"Role":      func() bool { return m.Role == string(asst.Role) },
		"Content":   func() bool { return m.Content == asst.Content },
		"Timestamp": func() bool { return m.Timestamp == exportTime(asst.Timestamp) },
		"Model":     func() bool { return m.Model == asst.Model },
		"Tokens":    func() bool { return m.Tokens == asst.Tokens },
		"Metadata": func() bool {
			return m.Metadata.FinishReason == asst.Metadata.FinishReason &&
				m.Metadata.Usage != nil && *m.Metadata.Usage == *asst.Metadata.Usage
		},
	}
	checkFields(t, "Message", asst, msg)

	if len(doc.History) != 1 {
		t.Fatalf("settings_history = %v, want the one change", doc.History)
	}
	h := doc.History[0]
	change := map[string]func() bool{
		"ID":   func() bool { return h["id"] == op.ID },
		"At":   func() bool { return h["at"] == "2025-03-14T09:01:00Z" },
		"Key":  func() bool { return raw.Meta["chat"] == string(op.Key) }, // the conversation's chat
		"User": func() bool { return h["user"] == string(op.User) },
		"Name": func() bool { return h["key"] == op.Name },
		"Old":  func() bool { return h["old"] == op.Old },
		"New":  func() bool { return h["new"] == op.New },
	}
	checkFields(t, "SettingChange", op, change)

	// The Markdown export (what /export sends) shows the same facts.
	asst.Metadata.FinishReason = "length"
	buf.Reset()
	if err := ExportMarkdown(&buf, ConversationExport{Conversation: c, Messages: []Message{msgs[0], asst}, SettingChanges: []SettingChange{op}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Chat: `telegram:42`", "Tags: travel", "Cost: $0.0012", "Model: openai/gpt-4o",
		"Messages: 2", "Tokens: 42", "Where to go?", "· 37 tokens · $0.0012 · finish: length",
		"## Settings history\n\n- 2025-03-14 09:01 UTC · `u42` · model: `openai/gpt-4o-mini` → `openai/gpt-4o`\n"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("markdown export lacks %q:\n%s", want, buf.String())
		}
	}
}

// assertNoZeroFields makes sure a fixture sets every field, so that
// checkFields sees each one with a value.
func assertNoZeroFields(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Errorf("fixture %T leaves %s empty", v, rv.Type().Field(i).Name)
		}
	}
}

// checkFields runs one check per field of v and fails for a field without
// a check: a new field must get a place in the export.
func checkFields(t *testing.T, what string, v any, checks map[string]func() bool) {
	t.Helper()
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name := rt.Field(i).Name
		check, ok := checks[name]
		if !ok {
			t.Errorf("%s.%s is stored but not exported", what, name)
			continue
		}
		if !check() {
			t.Errorf("%s.%s is wrong in the export", what, name)
		}
	}
}

func TestExportJSONRoundTrip(t *testing.T) {
	c, msgs := exportFixture()
	var buf bytes.Buffer
	if err := ExportJSON(&buf, ConversationExport{Conversation: c, Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	var back exportConversation
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	want := toExport(ConversationExport{Conversation: c, Messages: msgs})
	a, _ := json.Marshal(back)
	b, _ := json.Marshal(want)
	if !bytes.Equal(a, b) {
		t.Errorf("round trip:\n%s\nwant\n%s", a, b)
	}
	var again bytes.Buffer
	if err := writeJSON(&again, back); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("re-encoding differs (%v)", err)
	}
}

func TestExportJSONMany(t *testing.T) {
	c, msgs := exportFixture()
	c2 := Conversation{ID: "conv-2", CreatedAt: c.CreatedAt}
	var buf bytes.Buffer
	if err := ExportJSONMany(&buf, []ConversationExport{{Conversation: c, Messages: msgs}, {Conversation: c2}}); err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0]["conversation_id"] != "conv-1" || docs[1]["conversation_id"] != "conv-2" {
		t.Fatalf("docs = %v", docs)
	}
	if m, ok := docs[1]["messages"].([]any); !ok || len(m) != 0 {
		t.Errorf("no messages exported as %v, want []", docs[1]["messages"])
	}
	buf.Reset()
	if err := ExportJSONMany(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("no conversations = %q, %v", buf.String(), err)
	}
}

func TestExportMarkdown(t *testing.T) {
	c, msgs := exportFixture()
	var buf bytes.Buffer
	if err := ExportMarkdown(&buf, ConversationExport{Conversation: c, Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"# Trip <planning> & more\n",
		"- Conversation: `conv-1`\n",
		"- Created: 2025-03-14 09:00:00 UTC\n",
		"- Messages: 2\n",
		"- Tags: travel\n",
		"\n## User · 2025-03-14 09:05:00 UTC · 5 tokens\n\nWhere to go?\n",
		"\n## Assistant (openai/gpt-4o) · 2025-03-14 09:05:30 UTC · 37 tokens · $0.0012\n\n" + msgs[1].Content + "```\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	buf.Reset()
	if err := ExportMarkdown(&buf, ConversationExport{Conversation: Conversation{ID: "x"}}); err != nil || !strings.HasPrefix(buf.String(), "# Conversation x\n") {
		t.Errorf("untitled = %q, %v", buf.String(), err)
	}
}

func TestOpenFence(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                        "",
		"```\ncode\n```\n":             "",
		"```go\ncode":                  "```",
		"````\n```\nstill code":        "````",
		"~~~\n```\n":                   "~~~",
		"    ```\nindented, not fence": "",
		"```\n~~~\n```\n```py\n":       "```",
	} {
		if got := openFence(in); got != want {
			t.Errorf("openFence(%q) = %q, want %q", in, got, want)
		}
	}
}
