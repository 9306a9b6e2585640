// Package openroutertest is a fake OpenRouter API for tests: an httptest
// server on 127.0.0.1 that serves POST /api/v1/chat/completions (streamed
// or not), GET /api/v1/models and GET /api/v1/key.
//
// Chat requests are answered by Scripts: a queue filled with Enqueue, then
// per-model scripts set with SetModelScript, then a default that echoes
// "You said: <last user message>" word by word. The fake is strict like
// the real API about the method, the bearer token, the content type, the
// model and the messages, and records every request for assertions.
package openroutertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultAPIKey is the API key the fake accepts unless Options.APIKey says
// otherwise.
const DefaultAPIKey = "sk-or-v1-fake0000000000000000000000000000000000000000000000000000test"

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// APIKey is the bearer token the fake accepts. Default DefaultAPIKey.
	APIKey string
	// Models is the catalogue served at /models. Default DefaultModels().
	Models []Model
	// Key is served at /key. Default: a pay-as-you-go key without a limit.
	Key *KeyInfo
	// StrictModels rejects chat requests for models not in the catalogue
	// with a 400 "is not a valid model ID", as the real API does.
	StrictModels bool
	// EchoDelay is the pause before each word of the default echo reply.
	EchoDelay time.Duration
	// OnContent, when set, is called after each content chunk of a
	// streamed reply has been written and flushed to the client, with the
	// decoded request, the chunk's index in Script.Tokens and the time
	// the flush returned. It is an observer only: it changes nothing the
	// client sees. It runs on the request's goroutine, so it must be quick
	// and safe for concurrent use. A load tool uses it to timestamp each
	// reply's first token.
	OnContent func(req *ChatRequest, index int, at time.Time)
}

// Model is one catalogue entry. Prices are decimal strings in USD per
// token, as OpenRouter sends them.
type Model struct {
	ID              string
	Name            string
	Description     string
	ContextLength   int
	PromptPrice     string
	CompletionPrice string
}

// DefaultModels returns the default catalogue, in the (unsorted) order
// the fake serves it.
func DefaultModels() []Model {
	return []Model{
		{ID: "openai/gpt-4o-mini", Name: "OpenAI: GPT-4o-mini", ContextLength: 128000,
			PromptPrice: "0.00000015", CompletionPrice: "0.0000006"},
		{ID: "openai/gpt-4o", Name: "OpenAI: GPT-4o", ContextLength: 128000,
			PromptPrice: "0.0000025", CompletionPrice: "0.00001"},
		{ID: "anthropic/claude-3.5-sonnet", Name: "Anthropic: Claude 3.5 Sonnet", ContextLength: 200000,
			PromptPrice: "0.000003", CompletionPrice: "0.000015"},
		{ID: "meta-llama/llama-3.1-8b-instruct", Name: "Meta: Llama 3.1 8B Instruct", ContextLength: 131072,
			PromptPrice: "0.00000002", CompletionPrice: "0.00000005"},
		{ID: "google/gemini-flash-1.5", Name: "Google: Gemini 1.5 Flash", ContextLength: 1000000,
			PromptPrice: "0.000000075", CompletionPrice: "0.0000003"},
	}
}

// KeyInfo is what GET /key reports. A nil Limit means unlimited.
type KeyInfo struct {
	Label          string
	Limit          *float64
	LimitRemaining *float64
	Usage          float64
	IsFreeTier     bool
}

// Request is one request the fake received.
type Request struct {
	Method  string
	Path    string
	Header  http.Header
	RawBody []byte
	// Body is the decoded chat completion request (zero for other paths
	// or an undecodable body).
	Body ChatRequest
	// At is when the request arrived.
	At time.Time
}

// ChatRequest is a decoded POST /chat/completions body.
type ChatRequest struct {
	Model       string    `json:"model"`
	Models      []string  `json:"models"`
	Messages    []Message `json:"messages"`
	Stream      bool      `json:"stream"`
	Temperature *float64  `json:"temperature"`
	MaxTokens   *int      `json:"max_tokens"`
	Usage       *struct {
		Include bool `json:"include"`
	} `json:"usage"`
	// Fields holds every top-level field as sent, to check presence.
	Fields map[string]json.RawMessage `json:"-"`
}

// Message is one chat message. Content given as an array of parts is
// flattened to its text.
type Message struct {
	Role    string
	Content string
}

// UnmarshalJSON accepts content as a string or an array of parts.
func (m *Message) UnmarshalJSON(b []byte) error {
	var w struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	m.Role = w.Role
	if len(w.Content) == 0 || string(w.Content) == "null" {
		return nil
	}
	if w.Content[0] == '"' {
		return json.Unmarshal(w.Content, &m.Content)
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(w.Content, &parts); err != nil {
		return fmt.Errorf("content: %w", err)
	}
	for _, p := range parts {
		m.Content += p.Text
	}
	return nil
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	srv       *httptest.Server
	opts      Options
	done      chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	apiKey    string
	models    []Model
	key       KeyInfo
	queue     []Script
	perModel  map[string]Script
	requests  []Request
	cancelled int
	seq       int
}

// NewServer starts a fake on 127.0.0.1. Close it when done.
func NewServer(opts Options) *Server {
	s := &Server{
		opts:     opts,
		done:     make(chan struct{}),
		apiKey:   opts.APIKey,
		models:   opts.Models,
		perModel: make(map[string]Script),
	}
	if s.apiKey == "" {
		s.apiKey = DefaultAPIKey
	}
	if s.models == nil {
		s.models = DefaultModels()
	}
	if opts.Key != nil {
		s.key = *opts.Key
	} else {
		s.key = KeyInfo{Label: "sk-or-v1-fak...test", Usage: 0.5}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/chat/completions", s.handleChat)
	mux.HandleFunc("/api/v1/models", s.handleModels)
	mux.HandleFunc("/api/v1/key", s.handleKey)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.record(r, nil)
		writeError(w, http.StatusNotFound, 404, "Not Found", "not_found", "")
	})
	s.srv = httptest.NewServer(mux)
	return s
}

// New starts a fake for a test and closes it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := NewServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// URL is the API base URL, ending in /api/v1.
func (s *Server) URL() string { return s.srv.URL + "/api/v1" }

// Close stops the server, ending scripted streams still running. It blocks
// until their handlers return and may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// APIKey is the accepted key.
func (s *Server) APIKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiKey
}

// SetAPIKey changes the accepted key.
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// SetModels replaces the /models catalogue.
func (s *Server) SetModels(models []Model) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = models
}

// SetKeyInfo replaces what /key reports.
func (s *Server) SetKeyInfo(k KeyInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = k
}

// Enqueue adds scripts to the queue. A chat request takes the first queued
// script whose Model is empty or equal to the request's model.
func (s *Server) Enqueue(scripts ...Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, scripts...)
}

// Pending is the number of queued scripts not yet used.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// SetModelScript answers every request for model with sc (when no queued
// script matches first), until changed. A zero Script removes it.
func (s *Server) SetModelScript(model string, sc Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc.isZero() {
		delete(s.perModel, model)
		return
	}
	s.perModel[model] = sc
}

// Requests returns copies of the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// Cancellations is the number of streams the client abandoned (its
// connection closed or its context ended) before they finished.
func (s *Server) Cancellations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

func (s *Server) noteCancel() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancelled++
}

func (s *Server) record(r *http.Request, body []byte) Request {
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), RawBody: body, At: time.Now()}
	if len(body) > 0 && strings.HasSuffix(r.URL.Path, "/chat/completions") {
		if json.Unmarshal(body, &req.Body) == nil {
			_ = json.Unmarshal(body, &req.Body.Fields)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	return req
}

// authorized checks the bearer token, answering 401 when it is wrong.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && got != "" && got == s.APIKey() {
		return true
	}
	writeError(w, http.StatusUnauthorized, 401, "No auth credentials found", "", "")
	return false
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	req := s.record(r, body)
	switch {
	case r.Method != http.MethodPost:
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, 405, "Method Not Allowed", "invalid_request", "")
		return
	case !s.authorized(w, r):
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, 400, "Could not read the request body", "invalid_request", "")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusBadRequest, 400, "Content-Type must be application/json", "invalid_request", "")
		return
	}
	if !json.Valid(body) || req.Body.Fields == nil {
		writeError(w, http.StatusBadRequest, 400, "Invalid JSON in request body", "invalid_request", "")
		return
	}
	cr := req.Body
	switch {
	case cr.Model == "":
		writeError(w, http.StatusBadRequest, 400, "No model specified: model is required", "invalid_request", "")
		return
	case len(cr.Messages) == 0:
		writeError(w, http.StatusBadRequest, 400, "Input required: specify \"messages\" as a non-empty array", "invalid_prompt", "")
		return
	}
	for i, m := range cr.Messages {
		switch m.Role {
		case "system", "user", "assistant", "developer", "tool":
		default:
			writeError(w, http.StatusBadRequest, 400,
				fmt.Sprintf("messages[%d].role: invalid role %q", i, m.Role), "invalid_prompt", "")
			return
		}
	}
	if s.opts.StrictModels && !s.knownModel(cr.Model) {
		writeError(w, http.StatusBadRequest, 400, cr.Model+" is not a valid model ID", "invalid_request", "")
		return
	}
	s.run(w, r, &cr, s.script(&cr))
}

func (s *Server) knownModel(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.models {
		if m.ID == id {
			return true
		}
	}
	return false
}

// script picks the script for a request: the queue, then the per-model
// scripts, then the echo.
func (s *Server) script(cr *ChatRequest) Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sc := range s.queue {
		if sc.Model == "" || sc.Model == cr.Model {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return sc
		}
	}
	if sc, ok := s.perModel[cr.Model]; ok {
		return sc
	}
	return echoScript(cr, s.opts.EchoDelay)
}

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	s.record(r, nil)
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, 405, "Method Not Allowed", "invalid_request", "")
		return
	}
	s.mu.Lock()
	models := append([]Model(nil), s.models...)
	s.mu.Unlock()
	data := make([]map[string]any, 0, len(models))
	for i, m := range models {
		data = append(data, modelJSON(m, i))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func modelJSON(m Model, i int) map[string]any {
	name := m.Name
	if name == "" {
		name = m.ID
	}
	return map[string]any{
		"id":              m.ID,
		"canonical_slug":  m.ID,
		"hugging_face_id": "",
		"name":            name,
		"created":         1720000000 - i*86400,
		"description":     m.Description,
		"context_length":  m.ContextLength,
		"architecture": map[string]any{
			"modality":          "text->text",
			"input_modalities":  []string{"text"},
			"output_modalities": []string{"text"},
			"tokenizer":         "Other",
			"instruct_type":     nil,
		},
		"pricing": map[string]any{
			"prompt":     m.PromptPrice,
			"completion": m.CompletionPrice,
			"request":    "0",
			"image":      "0",
		},
		"top_provider": map[string]any{
			"context_length":        m.ContextLength,
			"max_completion_tokens": 16384,
			"is_moderated":          false,
		},
		"per_request_limits":   nil,
		"supported_parameters": []string{"max_tokens", "temperature", "top_p", "stop"},
		"default_parameters":   map[string]any{},
	}
}

func (s *Server) handleKey(w http.ResponseWriter, r *http.Request) {
	s.record(r, nil)
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, 405, "Method Not Allowed", "invalid_request", "")
		return
	}
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	k := s.key
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
		"label":                 k.Label,
		"limit":                 k.Limit,
		"limit_remaining":       k.LimitRemaining,
		"limit_reset":           nil,
		"include_byok_in_limit": false,
		"usage":                 k.Usage,
		"usage_daily":           k.Usage,
		"usage_weekly":          k.Usage,
		"usage_monthly":         k.Usage,
		"byok_usage":            0,
		"is_free_tier":          k.IsFreeTier,
		"is_management_key":     false,
		"expires_at":            nil,
	}})
}

// writeError writes OpenRouter's JSON error body.
func writeError(w http.ResponseWriter, status int, code any, msg, errType, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	e := map[string]any{"code": code, "message": msg}
	if errType != "" {
		e["metadata"] = map[string]any{"error_type": errType}
	}
	writeJSON(w, status, map[string]any{"error": e, "user_id": "user_fake"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// sleep waits for d, the request's end or the server's close. It reports
// whether the full time passed.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	}
}
