package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/chatbridge/chatbridge/engine"
)

// Limits of the HTTP Events mode.
const (
	maxEventBody = 1 << 20
	// maxSkew is how old (or how far ahead) a signed request may be;
	// Slack's advice, and the window in which a replay is remembered.
	maxSkew = 5 * time.Minute
)

// verifier checks Slack's request signatures (v0, HMAC-SHA256 of
// "v0:timestamp:body" with the signing secret) and refuses a replayed
// request: one outside the time window, or a signature seen before. Safe
// for concurrent use.
type verifier struct {
	secret []byte
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // signature → request time
}

func newVerifier(secret string, now func() time.Time) *verifier {
	if now == nil {
		now = time.Now
	}
	return &verifier{secret: []byte(secret), now: now, seen: map[string]time.Time{}}
}

// errUnsigned and errReplay are the reasons a request is refused.
var (
	errUnsigned = errors.New("slack request signature missing or wrong")
	errReplay   = errors.New("slack request replayed or too old")
)

// check verifies one request's headers against its body.
func (v *verifier) check(h http.Header, body []byte) error {
	tsText, sig := h.Get("X-Slack-Request-Timestamp"), h.Get("X-Slack-Signature")
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil || !strings.HasPrefix(sig, "v0=") {
		return errUnsigned
	}
	mac := hmac.New(sha256.New, v.secret)
	fmt.Fprintf(mac, "v0:%s:", tsText)
	mac.Write(body)
	want := "v0=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errUnsigned
	}
	now := v.now()
	at := time.Unix(ts, 0)
	if d := now.Sub(at); d > maxSkew || d < -maxSkew {
		return errReplay
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for s, t := range v.seen {
		if now.Sub(t) > maxSkew {
			delete(v.seen, s)
		}
	}
	if _, dup := v.seen[sig]; dup {
		return errReplay
	}
	v.seen[sig] = at
	return nil
}

// runHTTP serves the Events API, slash commands and interactivity on
// Options.Listen until ctx ends.
func (b *Bridge) runHTTP(ctx context.Context, h engine.Handler) error {
	ln, err := net.Listen("tcp", b.opts.Listen)
	if err != nil {
		return fmt.Errorf("slack: listen on %s: %w", b.opts.Listen, err)
	}
	srv := &http.Server{
		Handler:           b.eventsHandler(ctx, h, newVerifier(b.opts.SigningSecret, nil)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	b.state(nil)
	b.log.Info("slack events over HTTP", "listen", ln.Addr().String())
	if b.opts.OnListen != nil {
		b.opts.OnListen(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
		return nil
	case err := <-done:
		return fmt.Errorf("slack: events server: %w", err)
	}
}

// eventsHandler answers Slack's HTTP requests: every one must be signed
// and fresh; it is acknowledged at once and handled after.
func (b *Bridge) eventsHandler(ctx context.Context, h engine.Handler, v *verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEventBody))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := v.check(r.Header, body); err != nil {
			b.log.Warn("slack: refused an HTTP request", "reason", err, "remote", r.RemoteAddr)
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			b.serveEvent(ctx, w, h, body)
			return
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		if payload := form.Get("payload"); payload != "" {
			var cb slack.InteractionCallback
			if err := json.Unmarshal([]byte(payload), &cb); err != nil {
				b.log.Warn("slack: unreadable interaction", "err", err)
				return
			}
			b.onInteraction(ctx, h, cb, "")
			return
		}
		b.onSlashCommand(ctx, h, slashFromForm(form), "")
	})
}

// serveEvent answers a JSON Events API request: the URL check, or an
// event_callback.
func (b *Bridge) serveEvent(ctx context.Context, w http.ResponseWriter, h engine.Handler, body []byte) {
	var head struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	if head.Type == "url_verification" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, head.Challenge)
		return
	}
	w.WriteHeader(http.StatusOK)
	if head.Type == "event_callback" {
		b.onEventsAPI(ctx, h, body, "")
	}
}

func slashFromForm(f url.Values) slack.SlashCommand {
	return slack.SlashCommand{
		Token: f.Get("token"), TeamID: f.Get("team_id"), TeamDomain: f.Get("team_domain"),
		ChannelID: f.Get("channel_id"), ChannelName: f.Get("channel_name"),
		UserID: f.Get("user_id"), UserName: f.Get("user_name"),
		Command: f.Get("command"), Text: f.Get("text"),
		ResponseURL: f.Get("response_url"), TriggerID: f.Get("trigger_id"), APIAppID: f.Get("api_app_id"),
	}
}
