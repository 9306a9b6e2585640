// Package engine is the platform-neutral core of chatbridge: the types every
// bridge and provider is written against, the middleware chain, the command
// table, the per-conversation workers and the reply stream.
//
// The engine imports no platform SDK, no storage engine and no bridge; those
// depend on it, never the other way round (see deps_test.go).
package engine

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Platform names a chat platform ("telegram", "discord", "slack", "console").
type Platform string

// ChatID identifies a chat, channel or DM on one platform.
type ChatID string

// ThreadID identifies a thread inside a chat; empty when the platform has
// none or the message is top level.
type ThreadID string

// UserID identifies a user on one platform.
type UserID string

// MessageID identifies a message the bot sent, as the platform knows it.
type MessageID string

// EventID identifies an inbound platform event, for deduplication.
type EventID string

// ConversationKey names the place a conversation lives: platform, chat and
// thread. Each key has one active conversation and any number of earlier ones.
type ConversationKey string

// ConversationID identifies one conversation (one /new starts another).
type ConversationID string

// KeyFor builds the conversation key of a chat (and thread) on a platform.
func KeyFor(p Platform, chat ChatID, thread ThreadID) ConversationKey {
	k := string(p) + ":" + string(chat)
	if thread != "" {
		k += ":" + string(thread)
	}
	return ConversationKey(k)
}

// Platform reports the platform part of the key.
func (k ConversationKey) Platform() Platform {
	p, _, _ := strings.Cut(string(k), ":")
	return Platform(p)
}

// Event is one inbound message or command, converted from the platform's SDK
// type by the bridge. The engine owns it once HandleEvent is called.
type Event struct {
	ID EventID // platform event id; empty when the platform has none
	// AltIDs are other ids the platform may deliver the same event under
	// (Slack: the envelope, the event and the client message id). An event
	// any of whose ids was seen before is dropped.
	AltIDs   []EventID
	Platform Platform
	Chat     ChatID
	Thread   ThreadID
	User     UserID
	UserName string // display name, for logs only
	Private  bool   // a DM / private chat
	Text     string // the message text, or the command's arguments
	Command  string // the command name without slash ("model"); empty for a plain turn
	Time     time.Time
	// Message is the platform id of the chat message that carried the
	// event; empty when nothing was posted (a slash command, a button,
	// the console). /apikey deletes it where the platform allows.
	Message MessageID

	// queued is set when the event's work went to a worker, which notes
	// its end (Engine.handled) itself.
	queued bool
}

// Key is the conversation key the event belongs to.
func (e *Event) Key() ConversationKey { return KeyFor(e.Platform, e.Chat, e.Thread) }

// Outgoing is one message body the engine asks a bridge to show. Text is
// CommonMark; the bridge renders it in its own dialect (Caps.Dialect).
type Outgoing struct {
	Text string
	// Plain asks the bridge to send Text without markup, e.g. after the
	// platform refused the rendered form.
	Plain bool
	// Ephemeral asks for a reply only the user sees, where the platform can.
	Ephemeral bool
	// Buttons are rows of choices shown under the message where the
	// platform has them (Telegram inline keyboards). Pressing one comes
	// back as an Event for the button's command. Others ignore them.
	Buttons [][]Button
}

// Button is one choice under a message: pressing it runs Command (with its
// arguments, e.g. "/model openai/gpt-4o") as if the user had sent it.
type Button struct {
	Label   string
	Command string
}

// Replier sends and edits the bot's messages in the chat of one inbound
// event, like an http.ResponseWriter. Methods may block on the network and
// must honour ctx. The engine calls them from one goroutine per reply, but
// several replies to the same chat may call concurrently.
//
// Errors: a *RateLimitError pauses the chat; ErrNotModified counts as
// success; ErrTooLong makes the engine split smaller and try again.
type Replier interface {
	Send(ctx context.Context, m Outgoing) (MessageID, error)
	Edit(ctx context.Context, id MessageID, m Outgoing) error
}

// Typer is a Replier that can show a typing indicator. It may block.
type Typer interface {
	Typing(ctx context.Context) error
}

// Drafter is a Replier that can show the reply in progress as a draft
// (Telegram's sendMessageDraft) instead of editing a sent message. The
// engine drafts while text streams and sends the finished parts as
// messages; any error from Draft makes it fall back to edits. It may block.
type Drafter interface {
	Draft(ctx context.Context, m Outgoing) error
}

// Uploader is a Replier that can send a file (used by /export). It may block;
// the data is owned by the caller and not retained.
type Uploader interface {
	Upload(ctx context.Context, name string, data []byte, caption string) error
}

// Handler receives events from a bridge. HandleEvent returns promptly: long
// work (a model turn) continues on the conversation's worker. Safe for
// concurrent use.
type Handler interface {
	HandleEvent(ctx context.Context, r Replier, ev *Event)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, r Replier, ev *Event)

// HandleEvent calls f.
func (f HandlerFunc) HandleEvent(ctx context.Context, r Replier, ev *Event) { f(ctx, r, ev) }

// Bridge is one chat platform.
type Bridge interface {
	Name() Platform
	Caps() Caps
	// Run receives events and hands them to h until ctx ends. It blocks;
	// transient trouble is retried inside, a returned error is fatal to
	// this run of the bridge.
	Run(ctx context.Context, h Handler) error
}

// CommandRegistrar is a Bridge that registers the command table with the
// platform (Telegram menu, Discord application commands) at start-up.
type CommandRegistrar interface {
	RegisterCommands(ctx context.Context, cmds []CommandSpec) error
}

// CommandSpec describes one chat command to a platform.
type CommandSpec struct {
	Name        string // without slash, lower case
	Usage       string // argument synopsis, e.g. "[id]"
	Description string
	// Ephemeral marks a settings command: platforms that must choose at
	// once whether an answer is private (a deferred Discord interaction)
	// make its answers visible to the user only.
	Ephemeral bool
}

// LenUnit is how a platform counts message length.
type LenUnit int

const (
	// Runes counts Unicode code points (Discord, Slack, console).
	Runes LenUnit = iota
	// UTF16 counts UTF-16 code units (Telegram).
	UTF16
	// Bytes counts UTF-8 bytes.
	Bytes
)

// ForChat returns the caps that apply to one chat: the group values in a
// group chat, where set.
func (c Caps) ForChat(private bool) Caps {
	if private {
		return c
	}
	if c.GroupMinEditInterval > 0 {
		c.MinEditInterval = c.GroupMinEditInterval
	}
	if c.GroupChatBudget.Every > 0 {
		c.ChatBudget = c.GroupChatBudget
	}
	return c
}

// Len measures s in unit u.
func (u LenUnit) Len(s string) int {
	switch u {
	case Bytes:
		return len(s)
	case UTF16:
		n := 0
		for _, r := range s {
			if r >= 0x10000 {
				n += 2
			} else {
				n++
			}
		}
		return n
	default:
		n := 0
		for range s {
			n++
		}
		return n
	}
}

// Dialect is the markup a platform renders.
type Dialect int

const (
	// DialectPlain shows text as is.
	DialectPlain Dialect = iota
	// DialectMarkdown is CommonMark-like (Discord, console).
	DialectMarkdown
	// DialectTelegramHTML is Telegram's HTML subset.
	DialectTelegramHTML
	// DialectSlackMrkdwn is Slack's mrkdwn.
	DialectSlackMrkdwn
)

// RateSpec is a platform's published limit as a token bucket: one token
// every Every, at most Burst saved. The zero value means unlimited. The
// engine keeps one token of a burst in reserve (it sends at most Burst-1
// at once): calls leave here spaced by the limit but arrive with network
// and scheduling jitter, and a platform that counts exactly the same
// bucket would answer a call that arrives a little early with a 429.
type RateSpec struct {
	Every time.Duration
	Burst int
}

// Caps are a platform's differences, as data. The engine applies them the
// same way for every bridge.
type Caps struct {
	MaxLen  int     // longest message, in LenUnit
	LenUnit LenUnit // how MaxLen is counted
	CanEdit bool
	// MinEditInterval is the least time between two edits of one message.
	MinEditInterval time.Duration
	// ChatBudget is shared by every outbound call to one chat: typing,
	// sends, edits and the final edit.
	ChatBudget RateSpec
	// BridgeBudget is shared by every outbound call of the bridge (Telegram
	// ~30/s overall).
	BridgeBudget RateSpec
	// EditBudget, when set, is shared by every edit of the bridge, on top
	// of the other budgets (Slack: chat.update, ~50 a minute per
	// workspace, whatever the channel).
	EditBudget RateSpec
	// GroupMinEditInterval and GroupChatBudget replace MinEditInterval and
	// ChatBudget in group chats (Event.Private false) when set: Telegram
	// allows fewer messages in groups.
	GroupMinEditInterval time.Duration
	GroupChatBudget      RateSpec
	// TypingInterval is how often the typing indicator must be renewed;
	// zero when the platform has none.
	TypingInterval time.Duration
	Dialect        Dialect
	Threads        bool
	NativeCommands bool
}

// RateLimitError is returned by a Replier when the platform asked to wait.
// The engine sends nothing to that chat until RetryAfter has passed; with
// Global (Discord's global limit), nothing through the whole bridge.
type RateLimitError struct {
	RetryAfter time.Duration
	Global     bool
	Err        error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.RetryAfter, e.Err)
}

func (e *RateLimitError) Unwrap() error { return e.Err }
