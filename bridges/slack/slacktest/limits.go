package slacktest

import (
	"math"
	"net/http"
	"time"

	"github.com/chatbridge/chatbridge/bridges/internal/fakelimit"
)

// Limit is a token bucket: Burst requests at once, then one more every
// Every. The zero value means no limit. A Burst below 1 counts as 1.
type Limit = fakelimit.Limit

// PerMinute is a limit of n requests a minute with bursts of n, the shape
// of Slack's tiers (Tier 1: 1, Tier 2: 20, Tier 3: 50, Tier 4: 100).
func PerMinute(n int) Limit {
	if n < 1 {
		n = 1
	}
	return Limit{Every: time.Minute / time.Duration(n), Burst: n}
}

// SlackLimits returns the documented limits of the methods a bridge uses,
// for Options.Limits (workspace-wide, per method) and
// Options.ChannelLimits (per method and channel): chat.update Tier 3,
// chat.delete and conversations.open Tier 3, chat.appendStream, files.*,
// and users.info Tier 4, chat.startStream and chat.stopStream
// Tier 2 (workspace-wide); chat.postMessage and chat.postEphemeral about
// one a second per channel with bursts of 3 (per channel).
// assistant.threads.setStatus and auth.test ("special", unpublished) and
// apps.connections.open are left unlimited.
func SlackLimits() (perMethod, perChannel map[string]Limit) {
	return map[string]Limit{
			"chat.update":                  PerMinute(50),
			"chat.delete":                  PerMinute(50),
			"chat.appendStream":            PerMinute(100),
			"chat.startStream":             PerMinute(20),
			"chat.stopStream":              PerMinute(20),
			"conversations.open":           PerMinute(50),
			"files.getUploadURLExternal":   PerMinute(100),
			"files.completeUploadExternal": PerMinute(100),
			"users.info":                   PerMinute(100),
		}, map[string]Limit{
			"chat.postMessage":   {Every: time.Second, Burst: 3},
			"chat.postEphemeral": {Every: time.Second, Burst: 3},
		}
}

// limitKey names a bucket or a Retry-After window: a method, and a
// channel for per-channel ones ("" for workspace-wide).
type limitKey struct {
	method, channel string
}

// perChannelFaults lists the methods whose injected 429s apply to one
// channel (Slack's "special" per-channel posting limit); the others'
// apply to the whole method.
var perChannelFaults = map[string]bool{"chat.postMessage": true, "chat.postEphemeral": true}

type fault struct {
	status     int
	code       string
	retryAfter int
}

// retrySeconds is Retry-After for a wait: whole seconds, rounded up, at
// least 1.
func retrySeconds(d time.Duration) int {
	n := int(math.Ceil(d.Seconds()))
	if n < 1 {
		n = 1
	}
	return n
}

// admitLocked applies the open Retry-After windows, the injected faults
// and the token buckets to c. It returns the reply and true when the call
// must not reach its handler.
func (s *Server) admitLocked(c *call) (reply, bool) {
	method, ch := c.rec.Method, c.rec.Channel
	wide, narrow := limitKey{method, ""}, limitKey{method, ch}
	var until time.Time
	for _, k := range []limitKey{wide, narrow} {
		if u, open := s.windows[k]; open && c.now.Before(u) && u.After(until) {
			until = u
		}
	}
	if !until.IsZero() {
		c.rec.Early = true
		return reply{status: http.StatusTooManyRequests, err: "ratelimited", retryAfter: retrySeconds(until.Sub(c.now))}, true
	}
	if q := s.faults[method]; len(q) > 0 {
		f := q[0]
		s.faults[method] = q[1:]
		if f.status == http.StatusTooManyRequests && f.retryAfter > 0 {
			k := wide
			if perChannelFaults[method] && ch != "" {
				k = narrow
			}
			s.windows[k] = c.now.Add(time.Duration(f.retryAfter) * time.Second)
		}
		return reply{status: f.status, err: f.code, retryAfter: f.retryAfter}, true
	}
	type use struct {
		k limitKey
		l Limit
	}
	var uses []use
	if l := s.opts.Limits[method]; l.Enabled() {
		uses = append(uses, use{wide, l})
	}
	if l := s.opts.ChannelLimits[method]; l.Enabled() && ch != "" {
		uses = append(uses, use{narrow, l})
	}
	var wait time.Duration
	var worst limitKey
	for _, u := range uses {
		b := s.buckets[u.k]
		if b == nil {
			b = &fakelimit.Bucket{}
			s.buckets[u.k] = b
		}
		b.Refill(u.l, c.now)
		if w := b.Wait(u.l); w > wait {
			wait, worst = w, u.k
		}
	}
	if wait > 0 {
		n := retrySeconds(wait)
		s.windows[worst] = c.now.Add(time.Duration(n) * time.Second)
		return reply{status: http.StatusTooManyRequests, err: "ratelimited", retryAfter: n}, true
	}
	for _, u := range uses {
		s.buckets[u.k].Take()
	}
	return reply{}, false
}

// FailNext makes the next call to method fail: HTTP status (200 for an
// {"ok":false} answer), error code (the "error" field) and, when
// retryAfter > 0, a Retry-After header. Failures queue up: two FailNext
// fail the next two calls. A 429 with retryAfter opens a Retry-After
// window like a real limit does: for the call's channel for
// chat.postMessage and chat.postEphemeral, for the whole method
// otherwise; calls inside it are answered 429 and listed by EarlyCalls.
// An empty code means "ratelimited" for a 429 and "fatal_error"
// otherwise.
func (s *Server) FailNext(method string, status int, code string, retryAfter int) {
	if status == 0 {
		status = http.StatusOK
	}
	if code == "" {
		code = "fatal_error"
		if status == http.StatusTooManyRequests {
			code = "ratelimited"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], fault{status: status, code: code, retryAfter: retryAfter})
}

// SetLimit replaces the workspace-wide limit of a method (zero Limit: no
// limit), with a fresh bucket. Open Retry-After windows stay.
func (s *Server) SetLimit(method string, l Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Limits = cloneLimits(s.opts.Limits)
	s.opts.Limits[method] = l
	delete(s.buckets, limitKey{method, ""})
}

// SetChannelLimit replaces the per-channel limit of a method, with fresh
// buckets. Open Retry-After windows stay.
func (s *Server) SetChannelLimit(method string, l Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.ChannelLimits = cloneLimits(s.opts.ChannelLimits)
	s.opts.ChannelLimits[method] = l
	for k := range s.buckets {
		if k.method == method && k.channel != "" {
			delete(s.buckets, k)
		}
	}
}

func cloneLimits(m map[string]Limit) map[string]Limit {
	out := make(map[string]Limit, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// EarlyCalls returns, in order, the calls that arrived while a
// Retry-After window the client had been told about (by a 429 from a
// limit or from FailNext) was open for their method, or their method and
// channel. A well-behaved client makes none: this is the number to
// assert on.
func (s *Server) EarlyCalls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Early {
			out = append(out, c.copy())
		}
	}
	return out
}
