// Package fakelimit is the token bucket the fake platform servers
// (telegramtest, discordtest, slacktest) enforce published rate limits
// with.
package fakelimit

import (
	"math"
	"time"
)

// Limit is a token bucket: Burst requests at once, then one more every
// Every. The zero value means no limit. A Burst below 1 counts as 1.
type Limit struct {
	Every time.Duration
	Burst int
}

// Enabled reports whether l limits anything.
func (l Limit) Enabled() bool { return l.Every > 0 }

// Size is the bucket's capacity: Burst, at least 1.
func (l Limit) Size() float64 {
	if l.Burst < 1 {
		return 1
	}
	return float64(l.Burst)
}

// Bucket is one bucket's state under a Limit. The zero value is a bucket
// not used yet, which its first Refill fills. Not safe for concurrent use.
type Bucket struct {
	tokens float64
	last   time.Time
}

// Refill brings b up to now under l, creating it full.
func (b *Bucket) Refill(l Limit, now time.Time) {
	if b.last.IsZero() {
		b.tokens, b.last = l.Size(), now
		return
	}
	if now.After(b.last) {
		b.tokens = math.Min(l.Size(), b.tokens+float64(now.Sub(b.last))/float64(l.Every))
		b.last = now
	}
}

// Wait is how long until b holds a whole token (0 if it does).
func (b *Bucket) Wait(l Limit) time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(l.Every))
}

// UntilFull is how long until b is full again.
func (b *Bucket) UntilFull(l Limit) time.Duration {
	return time.Duration((l.Size() - b.tokens) * float64(l.Every))
}

// Take uses one token; the caller checked Wait first.
func (b *Bucket) Take() { b.tokens-- }

// Tokens is what b holds, for headers such as X-RateLimit-Remaining.
func (b *Bucket) Tokens() float64 { return b.tokens }
