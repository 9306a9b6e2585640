package discordtest

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/chatbridge/chatbridge/bridges/internal/fakelimit"
)

// Limit is a token bucket: Burst requests at once, then one more every
// Every. The zero value means no limit. A Burst below 1 counts as 1.
type Limit = fakelimit.Limit

// ceilMS rounds d up to whole milliseconds, at least 1 ms, so that the
// float seconds on the wire (3 decimals) say exactly d: discordgo parses
// retry_after to whole milliseconds, and a rounded-down value would make
// a client that waits exactly retry_after arrive early.
func ceilMS(d time.Duration) time.Duration {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	return ms * time.Millisecond
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

func epochSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// limitKind describes the per-route limit of a route.
type limitKind struct {
	name  string // bucket hash sent in X-RateLimit-Bucket, and key prefix
	limit func(o *Options) Limit
}

var (
	limitMessages = &limitKind{"messages", func(o *Options) Limit { return o.ChannelLimit }}
	limitTyping   = &limitKind{"typing", func(o *Options) Limit { return o.TypingLimit }}
	limitWebhook  = &limitKind{"webhook", func(o *Options) Limit { return o.WebhookLimit }}
)

// rateLimit is the outcome of a limit check.
type rateLimit struct {
	// headers for a successful answer (nil: none).
	headers http.Header
	// a 429 answer, when retryAfter > 0.
	retryAfter time.Duration
	global     bool
	limit      int
	hash       string
	until      time.Time
}

// checkLimitsLocked applies the announced windows, the global bucket and
// the route's bucket to call c at now. The caller holds s.mu.
func (s *Server) checkLimitsLocked(c *call, now time.Time) rateLimit {
	rt := c.route
	if rt.global && now.Before(s.globalUntil) {
		return rateLimit{retryAfter: ceilMS(s.globalUntil.Sub(now)), global: true, until: s.globalUntil}
	}
	var kindLimit Limit
	if rt.limit != nil {
		kindLimit = rt.limit.limit(&s.opts)
	}
	if until, open := s.windows[c.rec.Bucket]; open && now.Before(until) {
		return rateLimit{retryAfter: ceilMS(until.Sub(now)), limit: kindLimit.Burst, hash: hashOf(rt), until: until}
	}
	var rb *fakelimit.Bucket
	if kindLimit.Enabled() {
		rb = s.buckets[c.rec.Bucket]
		if rb == nil {
			rb = &fakelimit.Bucket{}
			s.buckets[c.rec.Bucket] = rb
		}
		rb.Refill(kindLimit, now)
	}
	if gl := s.opts.GlobalLimit; rt.global && gl.Enabled() {
		s.globalBucket.Refill(gl, now)
		if w := s.globalBucket.Wait(gl); w > 0 {
			w = ceilMS(w)
			s.globalUntil = now.Add(w)
			return rateLimit{retryAfter: w, global: true, until: s.globalUntil}
		}
	}
	if rb != nil {
		if w := rb.Wait(kindLimit); w > 0 {
			w = ceilMS(w)
			until := now.Add(w)
			s.windows[c.rec.Bucket] = until
			return rateLimit{retryAfter: w, limit: int(kindLimit.Size()), hash: hashOf(rt), until: until}
		}
	}
	if gl := s.opts.GlobalLimit; rt.global && gl.Enabled() {
		s.globalBucket.Take()
	}
	if rb == nil {
		return rateLimit{}
	}
	rb.Take()
	reset := ceilMS(rb.UntilFull(kindLimit))
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(int(kindLimit.Size())))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(int(math.Floor(rb.Tokens()))))
	h.Set("X-RateLimit-Reset", epochSeconds(now.Add(reset)))
	h.Set("X-RateLimit-Reset-After", seconds(reset))
	h.Set("X-RateLimit-Bucket", hashOf(rt))
	return rateLimit{headers: h}
}

func hashOf(rt *route) string {
	if rt.limit != nil {
		return rt.limit.name
	}
	return rt.name
}

// tooMany builds the 429 answer for rl.
func tooMany(rl rateLimit, scope, message string) reply {
	if message == "" {
		message = "You are being rate limited."
	}
	if scope == "" {
		scope = "user"
		if rl.global {
			scope = "global"
		}
	}
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.retryAfter.Seconds()))))
	h.Set("X-RateLimit-Scope", scope)
	if rl.global {
		h.Set("X-RateLimit-Global", "true")
	} else {
		if rl.limit > 0 {
			h.Set("X-RateLimit-Limit", strconv.Itoa(rl.limit))
		}
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", epochSeconds(rl.until))
		h.Set("X-RateLimit-Reset-After", seconds(rl.retryAfter))
		h.Set("X-RateLimit-Bucket", rl.hash)
	}
	return reply{
		status:  http.StatusTooManyRequests,
		headers: h,
		body: map[string]any{
			"message":     message,
			"retry_after": json3(rl.retryAfter),
			"global":      rl.global,
		},
		message:    message,
		retryAfter: rl.retryAfter,
		global:     rl.global,
	}
}

// json3 is a float64 of seconds with 3 decimals exactly.
type json3 time.Duration

func (j json3) MarshalJSON() ([]byte, error) { return []byte(seconds(time.Duration(j))), nil }

// SetChannelLimit replaces Options.ChannelLimit. Buckets start full again;
// open retry_after windows stay.
func (s *Server) SetChannelLimit(l Limit) { s.setLimit(&s.opts.ChannelLimit, l, limitMessages) }

// SetTypingLimit replaces Options.TypingLimit, with fresh buckets.
func (s *Server) SetTypingLimit(l Limit) { s.setLimit(&s.opts.TypingLimit, l, limitTyping) }

// SetWebhookLimit replaces Options.WebhookLimit, with fresh buckets.
func (s *Server) SetWebhookLimit(l Limit) { s.setLimit(&s.opts.WebhookLimit, l, limitWebhook) }

// SetGlobalLimit replaces Options.GlobalLimit, with a fresh bucket.
func (s *Server) SetGlobalLimit(l Limit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.GlobalLimit = l
	s.globalBucket = fakelimit.Bucket{}
}

func (s *Server) setLimit(dst *Limit, l Limit, kind *limitKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*dst = l
	prefix := kind.name + ":"
	for k := range s.buckets {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(s.buckets, k)
		}
	}
}

// FailNext makes the next call to route (a Route* constant) answer with
// f instead of being served. Faults queue up per route. A 429 opens a
// retry_after window for the call's bucket (or a global one), so calls
// inside it count as Early and get 429 too. It panics on an unknown route
// name.
func (s *Server) FailNext(route string, f Fault) {
	if !knownRoute(route) {
		panic("discordtest: FailNext: unknown route " + strconv.Quote(route))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], f)
}

// faultReplyLocked turns an injected fault into the answer for c at now.
// The caller holds s.mu.
func (s *Server) faultReplyLocked(c *call, f Fault, now time.Time) reply {
	if f.Status == http.StatusTooManyRequests {
		ra := time.Duration(0)
		if f.RetryAfter > 0 {
			ra = ceilMS(f.RetryAfter)
		}
		rl := rateLimit{retryAfter: ra, global: f.Global, hash: hashOf(c.route), until: now.Add(ra)}
		if c.route.limit != nil {
			rl.limit = int(c.route.limit.limit(&s.opts).Size())
		}
		if ra > 0 {
			if f.Global {
				s.globalUntil = rl.until
			} else {
				s.windows[c.rec.Bucket] = rl.until
			}
		}
		return tooMany(rl, f.Scope, f.Message)
	}
	rep := apiError(f.Status, f.Code, f.Message)
	if len(f.Errors) > 0 {
		rep.body.(map[string]any)["errors"] = f.Errors
		rep.errors = f.Errors
	}
	return rep
}
