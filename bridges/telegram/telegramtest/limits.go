package telegramtest

import (
	"math"
	"time"

	"github.com/chatbridge/chatbridge/bridges/internal/fakelimit"
)

// Limit is a token bucket: Burst requests at once, then one more every
// Every. The zero value means no limit. A Burst below 1 counts as 1.
type Limit = fakelimit.Limit

// rateLimited lists the methods the flood limits apply to.
var rateLimited = map[string]bool{
	"sendMessage":      true,
	"editMessageText":  true,
	"sendChatAction":   true,
	"sendDocument":     true,
	"sendMessageDraft": true,
}

// retrySeconds is retry_after for a wait: whole seconds, rounded up, at
// least 1.
func retrySeconds(d time.Duration) int {
	n := int(math.Ceil(d.Seconds()))
	if n < 1 {
		n = 1
	}
	return n
}

// floodCheck applies the flood windows and the token buckets to a call
// for chat at now. It returns retry_after > 0 when the call must get a
// 429. The caller holds s.mu.
func (s *Server) floodCheck(chat Chat, now time.Time) int {
	if until, ok := s.windows[chat.ID]; ok && now.Before(until) {
		return retrySeconds(until.Sub(now))
	}
	if now.Before(s.globalUntil) {
		n := retrySeconds(s.globalUntil.Sub(now))
		s.windows[chat.ID] = now.Add(time.Duration(n) * time.Second)
		return n
	}
	type use struct {
		b *fakelimit.Bucket
		l Limit
	}
	var uses []use
	if l := s.opts.ChatLimit; l.Enabled() {
		b := s.chatBuckets[chat.ID]
		if b == nil {
			b = &fakelimit.Bucket{}
			s.chatBuckets[chat.ID] = b
		}
		uses = append(uses, use{b, l})
	}
	if l := s.opts.GroupLimit; l.Enabled() && (chat.Type == "group" || chat.Type == "supergroup") {
		b := s.groupBuckets[chat.ID]
		if b == nil {
			b = &fakelimit.Bucket{}
			s.groupBuckets[chat.ID] = b
		}
		uses = append(uses, use{b, l})
	}
	globalIdx := -1
	if l := s.opts.GlobalLimit; l.Enabled() {
		globalIdx = len(uses)
		uses = append(uses, use{&s.globalBucket, l})
	}
	var wait time.Duration
	global := false
	for i, u := range uses {
		u.b.Refill(u.l, now)
		if w := u.b.Wait(u.l); w > wait {
			wait = w
			global = i == globalIdx
		}
	}
	if wait > 0 {
		n := retrySeconds(wait)
		until := now.Add(time.Duration(n) * time.Second)
		s.windows[chat.ID] = until
		if global {
			s.globalUntil = until
		}
		return n
	}
	for _, u := range uses {
		u.b.Take()
	}
	return 0
}

// SetChatLimit replaces Options.ChatLimit. The per-chat buckets start
// full again; open retry_after windows stay.
func (s *Server) SetChatLimit(l Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ChatLimit = l
	s.chatBuckets = map[int64]*fakelimit.Bucket{}
}

// SetGroupLimit replaces Options.GroupLimit, with fresh buckets.
func (s *Server) SetGroupLimit(l Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.GroupLimit = l
	s.groupBuckets = map[int64]*fakelimit.Bucket{}
}

// SetGlobalLimit replaces Options.GlobalLimit, with a fresh bucket.
func (s *Server) SetGlobalLimit(l Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.GlobalLimit = l
	s.globalBucket = fakelimit.Bucket{}
}

// EarlyCalls returns the calls that arrived while their chat was inside a
// retry_after window the client had been told about (by a 429 for that
// chat, from a limit or from FailNext), in order. A well-behaved client
// makes none: this is the number to assert on.
func (s *Server) EarlyCalls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.early {
			out = append(out, c.Call)
		}
	}
	return out
}
