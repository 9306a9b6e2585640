package engine

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Store when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrCorrupt is wrapped by a Store when a stored value fails its checksum
// or cannot be decoded.
var ErrCorrupt = errors.New("corrupt record")

// Conversation is the metadata of one conversation.
type Conversation struct {
	ID           ConversationID  `json:"conversation_id"`
	Key          ConversationKey `json:"key"`
	Title        string          `json:"title"`
	Tags         []string        `json:"tags,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	ModelUsed    string          `json:"model_used"`
	TotalTokens  int             `json:"total_tokens"`
	MessageCount int             `json:"message_count"`
	Cost         float64         `json:"cost"`
	Active       bool            `json:"active"` // the key's current conversation
}

// MessageMeta is the metadata of a stored message.
type MessageMeta struct {
	FinishReason string `json:"finish_reason,omitempty"`
	Usage        *Usage `json:"usage,omitempty"`
}

// Message is one stored message, in the seed's export format.
type Message struct {
	ID        string      `json:"id"`
	Role      Role        `json:"role"`
	Content   string      `json:"content"`
	Timestamp time.Time   `json:"timestamp"`
	Model     string      `json:"model,omitempty"`
	Tokens    int         `json:"tokens"`
	Metadata  MessageMeta `json:"metadata"`
}

// ReplyStatus is where a reply is in its life.
type ReplyStatus string

// Reply states. Pending and Streaming are unfinished: a reply found in one of
// them at start-up was interrupted by a crash.
const (
	ReplyPending     ReplyStatus = "pending"
	ReplyStreaming   ReplyStatus = "streaming"
	ReplyDone        ReplyStatus = "done"
	ReplyStopped     ReplyStatus = "stopped"
	ReplyFailed      ReplyStatus = "failed"
	ReplyInterrupted ReplyStatus = "interrupted"
)

// Finished reports whether s is a final state.
func (s ReplyStatus) Finished() bool {
	return s != ReplyPending && s != ReplyStreaming
}

// ReplyState is the stored state of one reply and the platform messages
// that show it.
type ReplyState struct {
	ID           string          `json:"id"`
	Key          ConversationKey `json:"key"`
	Chat         ChatID          `json:"chat"`
	Thread       ThreadID        `json:"thread,omitempty"`
	Conversation ConversationID  `json:"conversation_id"`
	Event        EventID         `json:"event_id,omitempty"`
	Status       ReplyStatus     `json:"status"`
	MessageIDs   []MessageID     `json:"message_ids,omitempty"`
	Text         string          `json:"text,omitempty"` // what was shown so far, for the interrupted edit
	UpdatedAt    time.Time       `json:"updated_at"`
}

// ConfigKey is the key under which changes of the config's defaults are
// recorded; no chat has it.
const ConfigKey ConversationKey = "config"

// ConfigUser is the author of a change of the config's defaults.
const ConfigUser UserID = "config"

// SettingChange is one change of a setting, kept so that /settings history
// and the export can say who changed what and when.
type SettingChange struct {
	ID   string          `json:"id"`
	At   time.Time       `json:"at"`
	Key  ConversationKey `json:"-"` // the chat; ConfigKey for a config default
	User UserID          `json:"user"`
	Name string          `json:"key"`
	Old  string          `json:"old"` // "" for the default
	New  string          `json:"new"` // "" for the default
}

// UsageDay is the usage of one UTC day, overall or of one user.
type UsageDay struct {
	Day      string `json:"day"` // YYYY-MM-DD, UTC
	Requests int    `json:"requests"`
	Usage
}

// StoreStats is a cheap summary for /status.
type StoreStats struct {
	Conversations int
	SizeBytes     int64
	Corrupt       int
}

// Store persists conversations, settings, usage and reply states. All
// methods may block on disk and are safe for concurrent use. Returned
// slices and structs belong to the caller.
type Store interface {
	// ActiveConversation returns the key's current conversation, creating
	// it when there is none.
	ActiveConversation(ctx context.Context, key ConversationKey) (Conversation, error)
	// NewConversation starts a fresh conversation for key; the earlier one
	// is kept.
	NewConversation(ctx context.Context, key ConversationKey) (Conversation, error)
	// Conversation returns one conversation's metadata, or ErrNotFound.
	Conversation(ctx context.Context, id ConversationID) (Conversation, error)
	// Conversations lists the conversations of key (all keys when key is
	// empty), oldest first.
	Conversations(ctx context.Context, key ConversationKey) ([]Conversation, error)
	// UpdateConversation saves metadata such as the title.
	UpdateConversation(ctx context.Context, c Conversation) error
	// AppendMessage stores m at the end of conversation id, assigning m.ID
	// when empty, and updates the conversation's counters (message count,
	// tokens, cost, model, updated time). It returns the stored message.
	AppendMessage(ctx context.Context, id ConversationID, m Message) (Message, error)
	// RecentMessages returns the last n messages, oldest first, in O(n).
	RecentMessages(ctx context.Context, id ConversationID, n int) ([]Message, error)
	// Messages returns every message of the conversation, oldest first.
	Messages(ctx context.Context, id ConversationID) ([]Message, error)
	// DeleteMessagesFrom deletes message id and every later message of the
	// conversation (used by /retry).
	DeleteMessagesFrom(ctx context.Context, conv ConversationID, msgID string) error
	// DeleteConversations deletes every conversation of key, its settings
	// and reply states.
	DeleteConversations(ctx context.Context, key ConversationKey) error

	// Settings returns the values the user set for key (absent names are
	// defaults).
	Settings(ctx context.Context, key ConversationKey) (map[string]string, error)
	// SetSetting applies ch: it sets ch.Name to ch.New for ch.Key (an empty
	// New resets it to the default) and, in the same transaction, stores
	// the change as an operation with Old read from the store, ID assigned
	// and At set to now when zero. It returns the stored operation; when
	// the value does not change, nothing is stored and the returned ID is
	// empty.
	SetSetting(ctx context.Context, ch SettingChange) (SettingChange, error)
	// SettingChanges returns the last n operations on key (every one when
	// n <= 0), oldest first. Key ConfigKey holds the changes of the
	// config's defaults.
	SettingChanges(ctx context.Context, key ConversationKey, n int) ([]SettingChange, error)
	// SetDefaults records the config's defaults of this start: each name
	// whose value differs from the previous start's is stored as an
	// operation on ConfigKey by user "config", and those operations are
	// returned. The first call only records the values.
	SetDefaults(ctx context.Context, defaults map[string]string, at time.Time) ([]SettingChange, error)

	// SetSecret stores value under name encrypted at rest (an empty value
	// deletes it). It is never part of an export.
	SetSecret(ctx context.Context, name, value string) error
	// Secret returns the secret stored under name, or ErrNotFound.
	Secret(ctx context.Context, name string) (string, error)

	// RecordUsage adds u to the totals of the UTC day of at, overall and for
	// user.
	RecordUsage(ctx context.Context, at time.Time, user UserID, u Usage) error
	// UsageOn returns the totals of a day (YYYY-MM-DD), overall when user is
	// empty.
	UsageOn(ctx context.Context, day string, user UserID) (UsageDay, error)

	// PutReply stores a reply's state.
	PutReply(ctx context.Context, r ReplyState) error
	// UnfinishedReplies returns every reply in pending or streaming.
	UnfinishedReplies(ctx context.Context) ([]ReplyState, error)

	// MarkSeen records an inbound event id for ttl and reports whether it
	// had been seen before.
	MarkSeen(ctx context.Context, p Platform, id EventID, ttl time.Duration) (seen bool, err error)

	// Stats summarises the store for /status.
	Stats(ctx context.Context) (StoreStats, error)
}
