package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// ConversationExport is everything stored about one conversation: its
// metadata, its messages and the settings history of its chat, oldest
// first (see LoadExport).
type ConversationExport struct {
	Conversation   Conversation
	Messages       []Message
	SettingChanges []SettingChange
}

// exportConversation is CONTRACT.md's export format of one conversation,
// extended (never changed) so that it holds everything stored about it:
// metadata also carries the chat, tags, cost and whether it is the chat's
// active conversation.
type exportConversation struct {
	ConversationID ConversationID  `json:"conversation_id"`
	Metadata       exportMeta      `json:"metadata"`
	Messages       []exportMessage `json:"messages"`
	// SettingsHistory is beyond CONTRACT.md's format: every change of a
	// setting of the conversation's chat and of the config's defaults.
	SettingsHistory []SettingChange `json:"settings_history"`
}

type exportMeta struct {
	Title        string `json:"title"`
	CreatedAt    string `json:"created_at"`
	UpdatedAt    string `json:"updated_at"`
	ModelUsed    string `json:"model_used"`
	TotalTokens  int    `json:"total_tokens"`
	MessageCount int    `json:"message_count"`
	// Beyond CONTRACT.md's fields, so that nothing stored is left out.
	Chat   ConversationKey `json:"chat"`
	Tags   []string        `json:"tags"` // [] when none
	Cost   float64         `json:"cost"` // USD, the sum of the turns' usage.cost
	Active bool            `json:"active"`
}

type exportMessage struct {
	ID        string            `json:"id"`
	Role      Role              `json:"role"`
	Content   string            `json:"content"`
	Timestamp string            `json:"timestamp"`
	Model     *string           `json:"model"` // null when unknown (user messages)
	Tokens    int               `json:"tokens"`
	Metadata  exportMessageMeta `json:"metadata"`
}

type exportMessageMeta struct {
	FinishReason *string `json:"finish_reason"` // null when none
	Usage        *Usage  `json:"usage"`         // null when none
}

// exportTime formats t as RFC 3339 in UTC, with as many fractional digits
// as it has; the zero time is the empty string.
func exportTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toExport(x ConversationExport) exportConversation {
	c, msgs := x.Conversation, x.Messages
	out := exportConversation{
		SettingsHistory: append([]SettingChange{}, x.SettingChanges...),
		ConversationID:  c.ID,
		Metadata: exportMeta{
			Title:        c.Title,
			CreatedAt:    exportTime(c.CreatedAt),
			UpdatedAt:    exportTime(c.UpdatedAt),
			ModelUsed:    c.ModelUsed,
			TotalTokens:  c.TotalTokens,
			MessageCount: c.MessageCount,
			Chat:         c.Key,
			Tags:         append([]string{}, c.Tags...),
			Cost:         c.Cost,
			Active:       c.Active,
		},
		Messages: make([]exportMessage, 0, len(msgs)),
	}
	for _, m := range msgs {
		out.Messages = append(out.Messages, exportMessage{
			ID:        m.ID,
			Role:      m.Role,
			Content:   m.Content,
			Timestamp: exportTime(m.Timestamp),
			Model:     nullable(m.Model),
			Tokens:    m.Tokens,
			Metadata: exportMessageMeta{
				FinishReason: nullable(m.Metadata.FinishReason),
				Usage:        m.Metadata.Usage,
			},
		})
	}
	return out
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("export json: %w", err)
	}
	return nil
}

// ExportJSON writes x, a conversation with its messages (oldest first), to
// w as one indented JSON object in CONTRACT.md's export format:
// conversation_id; metadata {title, created_at, updated_at, model_used,
// total_tokens, message_count, and beyond the contract chat, tags, cost,
// active}; messages [{id, role, content, timestamp,
// model, tokens, metadata {finish_reason, usage}}]. Times are RFC 3339 in
// UTC; a missing model, finish reason or usage is null. Beyond the
// contract, settings_history lists the chat's setting changes. It blocks
// only on w and does not retain its arguments.
func ExportJSON(w io.Writer, x ConversationExport) error {
	return writeJSON(w, toExport(x))
}

// ExportJSONMany writes several conversations to w as an indented JSON array
// of ExportJSON's objects (an empty array for none). It blocks only on w and
// does not retain its argument.
func ExportJSONMany(w io.Writer, convs []ConversationExport) error {
	all := make([]exportConversation, 0, len(convs))
	for _, c := range convs {
		all = append(all, toExport(c))
	}
	return writeJSON(w, all)
}

// ExportMarkdown writes x, a conversation and its messages (oldest first),
// to w as a readable Markdown document: a title heading, the metadata as a
// list, the chat's settings history when there is one, then one section
// per message headed by its role, model, UTC time, tokens,
// cost and an unusual finish reason (length, interrupted), with
// the content verbatim. A code fence the content leaves open is closed so
// it cannot swallow the next message. It blocks only on w and does not
// retain its arguments.
func ExportMarkdown(w io.Writer, x ConversationExport) error {
	c, msgs := x.Conversation, x.Messages
	bw := bufio.NewWriter(w)
	title := oneLine(c.Title)
	if title == "" {
		title = "Conversation " + string(c.ID)
	}
	fmt.Fprintf(bw, "# %s\n\n", title)
	fmt.Fprintf(bw, "- Conversation: `%s`\n", c.ID)
	if c.Key != "" {
		fmt.Fprintf(bw, "- Chat: `%s`\n", c.Key)
	}
	fmt.Fprintf(bw, "- Created: %s\n", mdTime(c.CreatedAt))
	fmt.Fprintf(bw, "- Updated: %s\n", mdTime(c.UpdatedAt))
	if c.ModelUsed != "" {
		fmt.Fprintf(bw, "- Model: %s\n", c.ModelUsed)
	}
	fmt.Fprintf(bw, "- Messages: %d\n", c.MessageCount)
	fmt.Fprintf(bw, "- Tokens: %d\n", c.TotalTokens)
	if c.Cost > 0 {
		fmt.Fprintf(bw, "- Cost: $%.4f\n", c.Cost)
	}
	if len(c.Tags) > 0 {
		fmt.Fprintf(bw, "- Tags: %s\n", strings.Join(c.Tags, ", "))
	}
	if len(x.SettingChanges) > 0 {
		bw.WriteString("\n## Settings history\n\n")
		for _, op := range x.SettingChanges {
			bw.WriteString("- " + formatChange(op) + "\n")
		}
	}
	for _, m := range msgs {
		head := roleTitle(m.Role)
		if m.Model != "" {
			head += " (" + m.Model + ")"
		}
		fmt.Fprintf(bw, "\n## %s · %s%s\n\n", head, mdTime(m.Timestamp), mdMessageFacts(m))
		bw.WriteString(m.Content)
		if !strings.HasSuffix(m.Content, "\n") {
			bw.WriteString("\n")
		}
		if fence := openFence(m.Content); fence != "" {
			bw.WriteString(fence + "\n")
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export markdown: %w", err)
	}
	return nil
}

// mdMessageFacts is what is stored about m beyond its text, for the
// Markdown heading: tokens, cost and an unusual finish reason.
func mdMessageFacts(m Message) string {
	var b strings.Builder
	if m.Tokens > 0 {
		fmt.Fprintf(&b, " · %d tokens", m.Tokens)
	}
	if u := m.Metadata.Usage; u != nil && u.Cost > 0 {
		fmt.Fprintf(&b, " · $%.4f", u.Cost)
	}
	if f := m.Metadata.FinishReason; f != "" && f != "stop" {
		fmt.Fprintf(&b, " · finish: %s", oneLine(f))
	}
	return b.String()
}

func mdTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func roleTitle(r Role) string {
	switch r {
	case RoleUser:
		return "User"
	case RoleAssistant:
		return "Assistant"
	case RoleSystem:
		return "System"
	case "":
		return "Unknown"
	}
	return string(r)
}
