// Package openrouter is the engine.Provider for OpenRouter's
// OpenAI-compatible chat completions API: a small server-sent-events client
// on net/http, the model catalogue (GET /models) and the key check
// (GET /key).
//
// The client never retries by itself; the engine owns retries and decides
// from the *engine.ProviderError it gets back (Kind, RetryAfter).
package openrouter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// Defaults for Options.
const (
	DefaultBaseURL    = "https://openrouter.ai/api/v1"
	DefaultReferer    = "https://github.com/chatbridge/chatbridge"
	DefaultTitle      = "chatbridge"
	DefaultCatalogTTL = time.Hour
	DefaultTimeout    = 60 * time.Second
)

const (
	maxErrorBody    = 64 << 10 // bytes of an error body read for classification
	maxJSONBody     = 32 << 20 // bytes of a /models or /key body
	catalogFetchMax = 30 * time.Second
	catalogRetryGap = time.Minute // after a failed refresh, serve the stale catalogue this long
)

// Options configures a Client. The zero value of every field means its default.
type Options struct {
	// BaseURL is the API root; a trailing slash is tolerated.
	// Default DefaultBaseURL.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <APIKey>". It can be
	// replaced later with Client.SetAPIKey.
	APIKey string
	// HTTPClient sends the requests. Default: a client with no overall
	// timeout (a stream may last minutes) whose transport bounds dialing,
	// the TLS handshake and the wait for response headers (Timeout).
	// Timeout is ignored when HTTPClient is set.
	HTTPClient *http.Client
	// Timeout bounds the wait for the response headers of the default
	// transport; it does not bound the stream itself. Default DefaultTimeout.
	Timeout time.Duration
	// Referer is sent as HTTP-Referer (OpenRouter app attribution).
	// Default DefaultReferer.
	Referer string
	// Title is sent as X-Title and X-OpenRouter-Title. Default DefaultTitle.
	Title string
	// CatalogTTL is how long Models serves a fetched catalogue from memory.
	// Default DefaultCatalogTTL.
	CatalogTTL time.Duration
	// Logger receives debug and warning records. Default: discard.
	Logger *slog.Logger
}

// Client talks to OpenRouter. It implements engine.Provider. A Client is
// safe for concurrent use by multiple goroutines.
type Client struct {
	base    string
	httpc   *http.Client
	referer string
	title   string
	ttl     time.Duration
	log     *slog.Logger
	key     atomic.Pointer[string]
	// configured is the key the client was created with, for UseAPIKey("").
	configured string
	cat        catalog
}

var _ engine.Provider = (*Client)(nil)

// New returns a Client configured by opts. It does no I/O.
func New(opts Options) *Client {
	c := &Client{
		base:    strings.TrimRight(opts.BaseURL, "/"),
		httpc:   opts.HTTPClient,
		referer: opts.Referer,
		title:   opts.Title,
		ttl:     opts.CatalogTTL,
		log:     opts.Logger,
	}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.httpc == nil {
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		c.httpc = &http.Client{Transport: newTransport(timeout)}
	}
	if c.referer == "" {
		c.referer = DefaultReferer
	}
	if c.title == "" {
		c.title = DefaultTitle
	}
	if c.ttl <= 0 {
		c.ttl = DefaultCatalogTTL
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.configured = opts.APIKey
	c.SetAPIKey(opts.APIKey)
	return c
}

func newTransport(headerTimeout time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          8,
		IdleConnTimeout:       90 * time.Second,
	}
}

// SetAPIKey replaces the API key used by later requests; requests already
// sent keep the old one. Safe for concurrent use; it does not block.
func (c *Client) SetAPIKey(key string) {
	c.key.Store(&key)
}

// UseAPIKey switches later requests to key, or back to the key the client
// was created with when key is empty. Safe for concurrent use; it does not
// block.
func (c *Client) UseAPIKey(key string) {
	if key == "" {
		key = c.configured
	}
	c.SetAPIKey(key)
}

// CheckAPIKey asks OpenRouter whether it accepts key (GET {base}/key with
// it) without switching to it. A rejected key is an *engine.ProviderError
// of kind ErrKeyRejected. It may block and is safe for concurrent use.
func (c *Client) CheckAPIKey(ctx context.Context, key string) error {
	var body struct{}
	return c.getJSONWith(ctx, "/key", &body, key)
}

func (c *Client) apiKey() string { return *c.key.Load() }

// CloseIdleConnections closes the idle keep-alive connections of the
// underlying HTTP client. Requests in flight are not affected.
func (c *Client) CloseIdleConnections() { c.httpc.CloseIdleConnections() }

// newRequest builds a request to {base}{path} with the authentication and
// attribution headers. It returns the key it used, for redaction.
func (c *Client) newRequest(ctx context.Context, method, path string, body []byte, accept string) (*http.Request, string, error) {
	return c.newRequestWith(ctx, method, path, body, accept, c.apiKey())
}

// newRequestWith is newRequest with an explicit key.
func (c *Client) newRequestWith(ctx context.Context, method, path string, body []byte, accept, key string) (*http.Request, string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, "", fmt.Errorf("openrouter: build request: %w", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("HTTP-Referer", c.referer)
	req.Header.Set("X-Title", c.title)
	req.Header.Set("X-OpenRouter-Title", c.title)
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "chatbridge")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, key, nil
}

// do sends req. A transport failure becomes a classified
// *engine.ProviderError, or the context's error when ctx ended.
func (c *Client) do(ctx context.Context, req *http.Request, key, op string) (*http.Response, error) {
	resp, err := c.httpc.Do(req)
	if err == nil {
		return resp, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("openrouter: %s: %w", op, ctxErr)
	}
	kind := engine.ErrUnavailable
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		kind = engine.ErrTimeout
	}
	return nil, &engine.ProviderError{
		Kind:    kind,
		Message: redact(op+" failed", key),
		Err:     &redactedError{err: err, key: key},
	}
}

// statusError reads a bounded part of a failed response and classifies it.
func (c *Client) statusError(resp *http.Response, key string) *engine.ProviderError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	pe := ClassifyStatus(resp.StatusCode, body, resp.Header)
	pe.Message = redact(pe.Message, key)
	return pe
}

// getJSON fetches {base}{path} and decodes the JSON body into v.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	return c.getJSONWith(ctx, path, v, c.apiKey())
}

// getJSONWith is getJSON with an explicit key.
func (c *Client) getJSONWith(ctx context.Context, path string, v any, key string) error {
	req, key, err := c.newRequestWith(ctx, http.MethodGet, path, nil, "application/json", key)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, req, key, "get "+path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c.statusError(resp, key)
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBody))
	if err := dec.Decode(v); err != nil && !isTypeError(err) {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("openrouter: get %s: %w", path, ctxErr)
		}
		return &engine.ProviderError{Kind: engine.ErrUnavailable, Status: resp.StatusCode,
			Message: "decode " + path + " response", Err: err}
	}
	return nil
}

// isTypeError reports a JSON value of an unexpected type: decoding went on
// and the other fields are filled, so callers tolerate it.
func isTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// redact removes key from s.
func redact(s, key string) string {
	if key == "" || !strings.Contains(s, key) {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}

// redactedError hides the API key from an underlying error's text while
// keeping it reachable by errors.Is and errors.As.
type redactedError struct {
	err error
	key string
}

func (e *redactedError) Error() string { return redact(e.err.Error(), e.key) }
func (e *redactedError) Unwrap() error { return e.err }

// catalog is the cached model list. call is the fetch in flight, shared by
// every caller that arrives while it runs.
type catalog struct {
	mu      sync.Mutex
	have    bool // a fetch has succeeded
	models  []engine.ModelInfo
	expires time.Time
	call    *catalogCall
}

type catalogCall struct {
	done   chan struct{}
	models []engine.ModelInfo
	err    error
}
