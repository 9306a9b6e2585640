package discordtest

import (
	"encoding/json"
	"time"
)

// User is a Discord user (or the bot itself).
type User struct {
	ID         string
	Username   string
	GlobalName string
	Bot        bool
}

// Channel types the fake models (Discord's numeric channel types).
const (
	ChannelGuildText     = 0
	ChannelDM            = 1
	ChannelPublicThread  = 11
	ChannelPrivateThread = 12
)

// Channel is a channel the fake knows: a DM, a guild text channel or a
// thread. Sending to any other channel fails with 10003 Unknown Channel.
type Channel struct {
	ID   string
	Type int
	// GuildID is empty for DMs.
	GuildID string
	// ParentID is the text channel a thread belongs to.
	ParentID string
	Name     string
	// OwnerID is the user who started a thread.
	OwnerID string
	// Recipient is the other user of a DM.
	Recipient User
}

// IsThread reports whether c is a thread channel.
func (c Channel) IsThread() bool {
	return c.Type == ChannelPublicThread || c.Type == ChannelPrivateThread || c.Type == 10
}

// Attachment is a file uploaded with a message (multipart files[n]).
type Attachment struct {
	ID          string
	Filename    string
	ContentType string
	Description string
	Data        []byte
}

// AllowedMentions is a message's allowed_mentions object as sent.
type AllowedMentions struct {
	Parse       []string `json:"parse"`
	Users       []string `json:"users"`
	Roles       []string `json:"roles"`
	RepliedUser bool     `json:"replied_user"`
}

// Message flags the fake interprets.
const (
	FlagSuppressEmbeds       = 1 << 2
	FlagEphemeral            = 1 << 6
	FlagLoading              = 1 << 7
	FlagSuppressNotification = 1 << 12
	FlagIsVoiceMessage       = 1 << 13
	FlagIsComponentsV2       = 1 << 15
)

// Message is the current state of a message in a channel.
type Message struct {
	ID        string
	ChannelID string
	GuildID   string
	Author    User
	Content   string
	// Flags is the message's flags bit set (FlagEphemeral, FlagLoading...).
	Flags int
	// Ephemeral is Flags&FlagEphemeral != 0: only the invoking user sees
	// it, and it is never dispatched on the gateway.
	Ephemeral bool
	// Edits counts successful edits (channel PATCH, @original or followup
	// PATCH, a followup that replaced a deferred response).
	Edits    int
	SentAt   time.Time
	EditedAt time.Time
	// AllowedMentions is the allowed_mentions of the request that set the
	// current content, or nil if that request had none.
	AllowedMentions *AllowedMentions
	// Mentions are the user IDs the content actually pings, after
	// allowed_mentions; MentionRoles the role IDs; MentionsEveryone is
	// true when @everyone or @here pings.
	Mentions         []string
	MentionRoles     []string
	MentionsEveryone bool
	Attachments      []Attachment
	// Embeds and Components are the raw JSON values as sent.
	Embeds     []json.RawMessage
	Components json.RawMessage
	// ReplyTo is message_reference.message_id.
	ReplyTo string
	// WebhookID is the application ID for interaction responses and
	// followups.
	WebhookID string
	// InteractionID is set on interaction responses and followups.
	InteractionID string
}

// Pings reports whether the message notifies anyone: a user, a role,
// @everyone or @here.
func (m Message) Pings() bool {
	return len(m.Mentions) > 0 || len(m.MentionRoles) > 0 || m.MentionsEveryone
}

// Call is one HTTP request the fake received.
type Call struct {
	Method string
	// Path is the URL path as received, e.g. /api/v9/channels/1/messages.
	Path string
	// Route is the route name (the Route* constants), or "METHOD path"
	// for an unknown route.
	Route string
	// Version is the API version of the path (9 or 10), 0 if none.
	Version int
	// Bucket is the rate-limit key the call was counted under, e.g.
	// "messages:123" (per channel) or "webhook:app/token".
	Bucket string
	At     time.Time
	// Body is the JSON body, or payload_json of a multipart body.
	Body json.RawMessage
	// Files are the names of the uploaded files, in order.
	Files []string
	// Status is the HTTP status answered.
	Status int
	// Code and Message are the Discord error code and message of an error
	// answer (Code is 0 for 401/404/405 and 429, as on Discord).
	Code    int
	Message string
	// Errors is the "errors" object of a 50035 Invalid Form Body answer.
	Errors json.RawMessage
	// RetryAfter and Global describe a 429 answer.
	RetryAfter time.Duration
	Global     bool
	// Early is true when the call arrived while its bucket (or the global
	// limit) was inside a retry_after window announced by an earlier 429.
	Early bool
}

// Fault is a one-off answer injected by FailNext.
type Fault struct {
	// Status is the HTTP status, e.g. 500 or 429.
	Status int
	// Code and Message are the Discord error body {"message","code"}.
	// For a 429 Message defaults to "You are being rate limited.".
	Code    int
	Message string
	// Errors, if set, is sent as the "errors" object.
	Errors json.RawMessage
	// RetryAfter is the retry_after of a 429 (float seconds on the wire,
	// in whole milliseconds). The fake opens a window of this length for
	// the call's bucket (or for everything if Global), so later calls
	// inside it count as Early.
	RetryAfter time.Duration
	Global     bool
	// Scope is X-RateLimit-Scope of a 429: "user" (default), "global" or
	// "shared".
	Scope string
}

// Command is an application command as registered by a bulk overwrite.
type Command struct {
	ID                       string          `json:"id"`
	ApplicationID            string          `json:"application_id"`
	GuildID                  string          `json:"guild_id,omitempty"`
	Version                  string          `json:"version"`
	Type                     int             `json:"type"`
	Name                     string          `json:"name"`
	Description              string          `json:"description"`
	Options                  []CommandOption `json:"options"`
	DefaultMemberPermissions *string         `json:"default_member_permissions"`
	DMPermission             *bool           `json:"dm_permission,omitempty"`
	Contexts                 []int           `json:"contexts"`
	IntegrationTypes         []int           `json:"integration_types"`
	NSFW                     bool            `json:"nsfw"`
}

// CommandOption is an option (or subcommand) of a Command.
type CommandOption struct {
	Type         int             `json:"type"`
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Required     bool            `json:"required"`
	Autocomplete bool            `json:"autocomplete"`
	Choices      []Choice        `json:"choices"`
	Options      []CommandOption `json:"options"`
	ChannelTypes []int           `json:"channel_types"`
	MinValue     *float64        `json:"min_value,omitempty"`
	MaxValue     *float64        `json:"max_value,omitempty"`
	MinLength    *int            `json:"min_length,omitempty"`
	MaxLength    *int            `json:"max_length,omitempty"`
}

// Choice is a command option choice, or an autocomplete result.
type Choice struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// Option is an option value of an invoked command, as sent in an
// INTERACTION_CREATE. Type is the option type (3 string, 4 integer, 5
// boolean, 10 number, 1 subcommand...).
type Option struct {
	Name    string   `json:"name"`
	Type    int      `json:"type"`
	Value   any      `json:"value,omitempty"`
	Focused bool     `json:"focused,omitempty"`
	Options []Option `json:"options,omitempty"`
}

// StringOption is a string option (type 3).
func StringOption(name, value string) Option { return Option{Name: name, Type: 3, Value: value} }

// IntegerOption is an integer option (type 4).
func IntegerOption(name string, value int64) Option { return Option{Name: name, Type: 4, Value: value} }

// BoolOption is a boolean option (type 5).
func BoolOption(name string, value bool) Option { return Option{Name: name, Type: 5, Value: value} }

// Interaction types the fake can send.
const (
	InteractionApplicationCommand = 2
	InteractionMessageComponent   = 3
	InteractionAutocomplete       = 4
)

// Interaction is an interaction the fake dispatched.
type Interaction struct {
	ID            string
	Token         string
	ApplicationID string
	Type          int
	ChannelID     string
	GuildID       string
	User          User
	// Command is the command name (types 2 and 4); CustomID the component
	// (type 3).
	Command  string
	CustomID string
	// SentAt is when the INTERACTION_CREATE was written to a gateway
	// connection; zero while it waits for one.
	SentAt time.Time
}

// InteractionResponse is what the bot answered to an interaction so far.
type InteractionResponse struct {
	Interaction Interaction
	// CallbackType is the accepted callback's type (4, 5, 6, 7, 8, 9), 0
	// if none was accepted yet.
	CallbackType int
	CallbackAt   time.Time
	// Data is the accepted callback's data as sent.
	Data json.RawMessage
	// Choices are the autocomplete results of a type 8 callback.
	Choices []Choice
	// Callbacks counts every callback request, failed ones included.
	Callbacks int
	// Original is the current @original message, if there is one.
	Original *Message
	// Followups are the followup messages, in order, in their current state.
	Followups []Message
}

// Identify is an IDENTIFY (op 2) the gateway received.
type Identify struct {
	At             time.Time
	Token          string
	Intents        int
	Compress       bool
	LargeThreshold int
	Properties     map[string]string
	// SessionID is the session the fake created, or "" if it refused.
	SessionID string
	// CloseCode is the close code the fake answered with (4004, 4014...),
	// 0 if the IDENTIFY succeeded.
	CloseCode int
}

// Resume is a RESUME (op 6) the gateway received.
type Resume struct {
	At        time.Time
	SessionID string
	Seq       int64
	// OK is true if the session resumed; false if the fake answered op 9.
	OK bool
	// Replayed counts the events sent again before RESUMED.
	Replayed int
}

// Event is a dispatch (op 0) the gateway sent or queued for a session.
type Event struct {
	SessionID string
	Seq       int64
	Type      string
	Data      json.RawMessage
	// Delivered is false while the event waits in a session whose
	// connection dropped.
	Delivered bool
}
