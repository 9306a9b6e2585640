package discord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// transport sends every request of the session to the configured API host
// (discordgo's endpoints are fixed at discord.com process-wide), and makes
// each 429 say how long to wait in the one place discordgo reads it: the
// JSON body's retry_after, raised to the longest of the Retry-After,
// X-RateLimit-Reset-After and X-RateLimit-Reset headers. A 429 without a
// JSON body (a proxy's or Cloudflare's) would otherwise reach us as an
// unmarshal error. Safe for concurrent use.
type transport struct {
	target *url.URL
	base   http.RoundTripper
	now    func() time.Time // nil: time.Now
}

// RoundTrip rewrites r's scheme and host (keeping any path prefix of the
// target) and sends it.
func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	u := *r.URL
	u.Scheme, u.Host = t.target.Scheme, t.target.Host
	if p := strings.TrimSuffix(t.target.Path, "/"); p != "" {
		u.Path = p + u.Path
		u.RawPath = ""
	}
	r2 := r.Clone(r.Context())
	r2.URL, r2.Host = &u, ""
	resp, err := t.base.RoundTrip(r2)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		return resp, err
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if rerr != nil {
		body = nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(normalize429(body, resp.Header, t.clock())))
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (t *transport) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}

// globalBucket is the bucket name normalize429 gives a 429 of the global
// limit, which applies to every channel.
const globalBucket = "chatbridge:global"

// defaultRetry is the wait when a 429 says nothing about how long.
const defaultRetry = 5 * time.Second

// normalize429 returns a JSON 429 body whose retry_after (seconds) is the
// longest wait that the body and the headers announce, and whose bucket is
// globalBucket when the limit is the global one.
func normalize429(body []byte, h http.Header, now time.Time) []byte {
	var doc map[string]any
	if json.Unmarshal(body, &doc) != nil || doc == nil {
		doc = map[string]any{"message": "You are being rate limited."}
	}
	wait := time.Duration(-1)
	if v, ok := doc["retry_after"].(float64); ok && v >= 0 {
		wait = seconds(v)
	}
	for _, name := range []string{"Retry-After", "X-RateLimit-Reset-After"} {
		if v, err := strconv.ParseFloat(strings.TrimSpace(h.Get(name)), 64); err == nil && v >= 0 {
			wait = max(wait, seconds(v))
		}
	}
	if v, err := strconv.ParseFloat(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 64); err == nil && v > 0 {
		reset := time.Unix(0, int64(v*float64(time.Second)))
		// Only a reset within the hour is believable from a skewed clock.
		if d := reset.Sub(now); d > 0 && d < time.Hour {
			wait = max(wait, d)
		}
	}
	if wait < 0 {
		wait = defaultRetry
	}
	// discordgo keeps no "global" flag, but it keeps the bucket name.
	if doc["global"] == true || strings.EqualFold(h.Get("X-RateLimit-Global"), "true") ||
		strings.EqualFold(h.Get("X-RateLimit-Scope"), "global") {
		doc["bucket"] = globalBucket
	}
	doc["retry_after"] = math.Ceil(wait.Seconds()*1000) / 1000
	out, err := json.Marshal(doc)
	if err != nil {
		return fmt.Appendf(nil, `{"message":"You are being rate limited.","retry_after":%.3f}`, wait.Seconds())
	}
	return out
}

func seconds(v float64) time.Duration {
	return time.Duration(math.Min(v, 24*3600) * float64(time.Second))
}
