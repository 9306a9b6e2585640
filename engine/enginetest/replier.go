// Package enginetest holds fakes for testing the engine and its users: a
// recording Replier, a scripted Provider and an in-memory Store.
package enginetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// CallKind names a Replier call.
type CallKind string

// The calls a Replier records.
const (
	CallSend   CallKind = "send"
	CallEdit   CallKind = "edit"
	CallTyping CallKind = "typing"
	CallUpload CallKind = "upload"
	CallDraft  CallKind = "draft"
)

// Call is one recorded Replier call.
type Call struct {
	Kind CallKind
	ID   engine.MessageID // the message sent or edited
	Msg  engine.Outgoing
	At   time.Time
	Err  error // what the call returned
}

// Replier is a recording engine.Replier (with Typer and Uploader) that
// enforces a length limit like a platform would. Safe for concurrent use.
type Replier struct {
	// MaxLen and Unit: a longer text gets engine.ErrTooLong. 0: no limit.
	MaxLen int
	Unit   engine.LenUnit
	// Fault, when set, is asked before each call; a non-nil error is
	// returned instead of performing the call.
	Fault func(c Call) error

	mu    sync.Mutex
	calls []Call
	order []engine.MessageID
	texts map[engine.MessageID]string
	files map[string][]byte
	next  int
}

// NewReplier returns a Replier limited to maxLen in unit (0: no limit).
func NewReplier(maxLen int, unit engine.LenUnit) *Replier {
	return &Replier{MaxLen: maxLen, Unit: unit}
}

func (r *Replier) record(c Call) (Call, error) {
	c.At = time.Now()
	if r.Fault != nil {
		if err := r.Fault(c); err != nil {
			c.Err = err
			r.calls = append(r.calls, c)
			return c, err
		}
	}
	if (c.Kind == CallSend || c.Kind == CallEdit) && r.MaxLen > 0 && r.Unit.Len(c.Msg.Text) > r.MaxLen {
		c.Err = engine.ErrTooLong
		r.calls = append(r.calls, c)
		return c, c.Err
	}
	return c, nil
}

// Send records a new message.
func (r *Replier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	id := engine.MessageID(fmt.Sprintf("m%d", r.next))
	c, err := r.record(Call{Kind: CallSend, ID: id, Msg: m})
	if err != nil {
		return "", err
	}
	if r.texts == nil {
		r.texts = make(map[engine.MessageID]string)
	}
	r.texts[id] = m.Text
	r.order = append(r.order, id)
	r.calls = append(r.calls, c)
	return id, nil
}

// Edit records an edit. An edit that changes nothing returns
// engine.ErrNotModified, like Telegram.
func (r *Replier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, ok := r.texts[id]
	if !ok {
		return fmt.Errorf("edit of unknown message %s", id)
	}
	c, err := r.record(Call{Kind: CallEdit, ID: id, Msg: m})
	if err != nil {
		return err
	}
	if old == m.Text {
		c.Err = engine.ErrNotModified
		r.calls = append(r.calls, c)
		return engine.ErrNotModified
	}
	r.texts[id] = m.Text
	r.calls = append(r.calls, c)
	return nil
}

// Typing records a typing indicator.
func (r *Replier) Typing(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.record(Call{Kind: CallTyping})
	if err != nil {
		return err
	}
	r.calls = append(r.calls, c)
	return nil
}

// Upload records a file.
func (r *Replier) Upload(ctx context.Context, name string, data []byte, caption string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.record(Call{Kind: CallUpload, Msg: engine.Outgoing{Text: caption}})
	if err != nil {
		return err
	}
	if r.files == nil {
		r.files = make(map[string][]byte)
	}
	r.files[name] = append([]byte(nil), data...)
	r.calls = append(r.calls, c)
	return nil
}

// Calls returns a copy of every call so far, failed ones included.
func (r *Replier) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Messages returns the current text of each message, in the order sent.
func (r *Replier) Messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.order))
	for i, id := range r.order {
		out[i] = r.texts[id]
	}
	return out
}

// Last returns the current text of the last message sent, or "".
func (r *Replier) Last() string {
	msgs := r.Messages()
	if len(msgs) == 0 {
		return ""
	}
	return msgs[len(msgs)-1]
}

// Files returns the uploaded files by name.
func (r *Replier) Files() map[string][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]byte, len(r.files))
	for k, v := range r.files {
		out[k] = v
	}
	return out
}

// DraftReplier is a Replier that also implements engine.Drafter, like a
// Telegram private chat in draft mode. DraftErr, when set, is returned by
// every Draft call.
type DraftReplier struct {
	*Replier
	DraftErr error
}

// Draft records a draft of the reply in progress.
func (r *DraftReplier) Draft(ctx context.Context, m engine.Outgoing) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.record(Call{Kind: CallDraft, Msg: m})
	if err == nil {
		err = r.DraftErr
	}
	c.Err = err
	r.calls = append(r.calls, c)
	return err
}
