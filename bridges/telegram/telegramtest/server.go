// Package telegramtest is a fake Telegram Bot API server for tests: an
// httptest server on 127.0.0.1 that a real client (telebot.v3) talks to.
//
// It is strict like the real API: it parses and validates HTML,
// MarkdownV2 and Markdown exactly as the Bot API server does (same error
// texts and byte offsets), enforces the 4096/1024 UTF-16 limits after
// entity parsing, refuses edits that change nothing, applies flood limits
// with 429 and retry_after, keeps updates until the client confirms them
// with getUpdates' offset, and answers a second long poll with 409 for
// the first one. Every call is recorded for assertions, with the calls
// made inside a retry_after window singled out by EarlyCalls.
//
// See doc.go for the list of deviations from the real server.
package telegramtest

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/bridges/internal/fakelimit"
)

// DefaultToken is the bot token the fake accepts unless Options.Token says
// otherwise.
const DefaultToken = "123456:TEST-fake-token"

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// Token is the bot token in the URL path. Default DefaultToken.
	Token string
	// BotID is the bot's user id. Default 1000.
	BotID int64
	// BotUsername is the bot's username, without '@'. Default
	// "chatbridge_bot".
	BotUsername string
	// BotName is the bot's first name. Default "ChatBridge".
	BotName string
	// ChatLimit limits each chat, across sendMessage, editMessageText,
	// sendChatAction, sendDocument and sendMessageDraft. Zero: no limit.
	ChatLimit Limit
	// GroupLimit is an extra limit for each group or supergroup chat.
	GroupLimit Limit
	// GlobalLimit limits the whole bot.
	GlobalLimit Limit
	// FirstUpdateID is the update_id of the first update. Default 1.
	FirstUpdateID int64
}

// Chat is a chat the fake knows: one that sent the bot a message, or was
// added with AddChat.
type Chat struct {
	ID int64
	// Type is "private", "group" or "supergroup" (default: "private" for
	// a positive ID, "supergroup" otherwise).
	Type     string
	Title    string
	Username string
}

// User is a Telegram user.
type User struct {
	ID        int64
	FirstName string
	Username  string
	IsBot     bool
}

// PrivateChat is the private chat between the bot and u.
func PrivateChat(u User) Chat { return Chat{ID: u.ID, Type: "private"} }

// BotCommand is one entry of setMyCommands.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// Document is a file the bot sent with sendDocument.
type Document struct {
	FileName string
	MIMEType string
	Data     []byte
	// Caption is the visible caption (entities parsed).
	Caption string
}

// Message is the current state of a message the bot sent.
type Message struct {
	ID     int
	ChatID int64
	// Text is what the user sees: entities parsed, tags removed, HTML
	// entities unescaped, leading and trailing blanks trimmed. Empty for
	// a document (see Document.Caption).
	Text string
	// HTML is the text as sent, when ParseMode is HTML.
	HTML string
	// Raw is the text (or caption) as sent, whatever the parse mode.
	Raw       string
	ParseMode string
	// Entities of Text, or of the caption for a document.
	Entities []Entity
	// Edits counts successful editMessageText and editMessageReplyMarkup
	// calls.
	Edits    int
	SentAt   time.Time
	EditedAt time.Time
	// ReplyMarkup is the inline keyboard, as canonical JSON, or nil.
	ReplyMarkup json.RawMessage
	// ReplyTo is the id of the message this one answers, or 0.
	ReplyTo  int
	Document *Document
}

// Call is one request the fake received.
type Call struct {
	Method string
	At     time.Time
	// Params holds the parameters: decoded JSON values (numbers as
	// float64, strings kept as sent, so "555" stays a string), or form
	// fields as strings. An uploaded file appears as "file <name> (<n>
	// bytes)".
	Params      map[string]any
	Status      int // HTTP status; 0 while a long poll is held or if the client went away
	OK          bool
	ErrorCode   int
	Description string
	RetryAfter  int
}

type callRec struct {
	Call
	chatID  int64
	hasChat bool
	early   bool
}

type fault struct {
	code       int
	desc       string
	retryAfter int
}

type chatState struct {
	chat   Chat
	nextID int
	msgs   []*storedMsg
}

type storedMsg struct {
	Message
	from     User
	fromBot  bool
	threadID int
	date     time.Time
	editDate time.Time
}

type callbackState struct {
	chatID   int64
	answered bool
}

// Server is the fake. Create it with New or NewServer.
type Server struct {
	opts Options
	srv  *httptest.Server

	closeOnce sync.Once
	closed    chan struct{}

	mu    sync.Mutex
	calls []*callRec

	// updates
	updates      []storedUpdate
	head         int // index of the first unconfirmed update
	updWake      chan struct{}
	allowed      map[string]bool // nil: the default set
	poll         *pollWaiter
	nextConflict time.Time

	chats     map[int64]*chatState
	users     map[int64]User
	commands  map[string][]BotCommand
	lastCmds  []BotCommand
	callbacks map[string]*callbackState
	answers   map[string]string
	nextCB    int64
	files     map[string]*Document
	nextFile  int
	faults    map[string][]fault

	// flood control
	windows      map[int64]time.Time // chat -> end of the retry_after it was told
	globalUntil  time.Time
	chatBuckets  map[int64]*fakelimit.Bucket
	groupBuckets map[int64]*fakelimit.Bucket
	globalBucket fakelimit.Bucket
}

// NewServer starts a fake. Call Close when done.
func NewServer(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.BotID == 0 {
		opts.BotID = 1000
	}
	if opts.BotUsername == "" {
		opts.BotUsername = "chatbridge_bot"
	}
	if opts.BotName == "" {
		opts.BotName = "ChatBridge"
	}
	if opts.FirstUpdateID <= 0 {
		opts.FirstUpdateID = 1
	}
	s := &Server{
		opts:         opts,
		closed:       make(chan struct{}),
		updWake:      make(chan struct{}),
		chats:        map[int64]*chatState{},
		users:        map[int64]User{},
		commands:     map[string][]BotCommand{},
		callbacks:    map[string]*callbackState{},
		answers:      map[string]string{},
		files:        map[string]*Document{},
		faults:       map[string][]fault{},
		windows:      map[int64]time.Time{},
		chatBuckets:  map[int64]*fakelimit.Bucket{},
		groupBuckets: map[int64]*fakelimit.Bucket{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// New starts a fake and closes it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := NewServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// URL is the base URL for telebot's Settings.URL (no trailing slash).
func (s *Server) URL() string { return s.srv.URL }

// Token is the bot token the fake accepts.
func (s *Server) Token() string { return s.opts.Token }

// Bot is the bot's own user.
func (s *Server) Bot() User {
	return User{ID: s.opts.BotID, FirstName: s.opts.BotName, Username: s.opts.BotUsername, IsBot: true}
}

// Close releases held long polls and stops the server. It is safe to
// call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.srv.Close()
	})
}

// AddChat makes a chat known without a message from it, as if its user
// had started the bot earlier. Sending to an unknown chat fails with
// "chat not found", as it does for a user who never wrote to the bot.
func (s *Server) AddChat(c Chat) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.registerChat(c)
}

// FailNext makes the next call to method fail with code and description,
// plus parameters.retry_after when retryAfter > 0. Calls queue up: two
// FailNext fail the next two calls. A 429 with retryAfter for a
// rate-limited method opens that chat's retry_after window, so calls to
// the chat before it ends count as EarlyCalls.
func (s *Server) FailNext(method string, code int, description string, retryAfter int) {
	name := method
	if m, ok := methods[strings.ToLower(method)]; ok {
		name = m.name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[name] = append(s.faults[name], fault{code: code, desc: description, retryAfter: retryAfter})
}

// Calls returns every call so far, in arrival order, failed ones too.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.Call
	}
	return out
}

// CallsTo returns the calls to one method (case-insensitive), in order.
func (s *Server) CallsTo(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if strings.EqualFold(c.Method, method) {
			out = append(out, c.Call)
		}
	}
	return out
}

// Messages returns the bot's messages in a chat, in send order, in their
// current state. Deleted messages are gone.
func (s *Server) Messages(chatID int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.chats[chatID]
	if cs == nil {
		return nil
	}
	var out []Message
	for _, m := range cs.msgs {
		if m.fromBot {
			out = append(out, m.snapshot())
		}
	}
	return out
}

// Message returns one message of a chat (the bot's or a user's).
func (s *Server) Message(chatID int64, id int) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findMsg(chatID, id); m != nil {
		return m.snapshot(), true
	}
	return Message{}, false
}

func (m *storedMsg) snapshot() Message {
	out := m.Message
	out.Entities = append([]Entity(nil), m.Entities...)
	out.ReplyMarkup = append(json.RawMessage(nil), m.ReplyMarkup...)
	if len(out.ReplyMarkup) == 0 {
		out.ReplyMarkup = nil
	}
	if m.Document != nil {
		d := *m.Document
		d.Data = append([]byte(nil), d.Data...)
		out.Document = &d
	}
	return out
}

// Drafts returns the successful sendMessageDraft calls for a chat, in
// order.
func (s *Server) Drafts(chatID int64) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Method == "sendMessageDraft" && c.OK && c.hasChat && c.chatID == chatID {
			out = append(out, c.Call)
		}
	}
	return out
}

// Commands returns the commands of the last successful setMyCommands.
func (s *Server) Commands() []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BotCommand(nil), s.lastCmds...)
}

// CallbackAnswers maps each answered callback query id to the text of its
// answer.
func (s *Server) CallbackAnswers() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.answers))
	for k, v := range s.answers {
		out[k] = v
	}
	return out
}

// ---- HTTP plumbing ----

// reply is a method's answer.
type reply struct {
	result     any
	code       int // error_code; 0 for success
	desc       string
	retryAfter int
	hold       bool // getUpdates: the handler wrote the answer itself
}

func ok(result any) reply { return reply{result: result} }

func bad(desc string) reply { return reply{code: 400, desc: "Bad Request: " + desc} }

func fail(code int, desc string) reply { return reply{code: code, desc: desc} }

type upload struct {
	name string
	data []byte
}

// call is one request being served.
type call struct {
	r      *http.Request
	now    time.Time
	params map[string]any
	files  map[string]upload
	rec    *callRec
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	rest, isBot := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, hasMethod := strings.Cut(rest, "/")
	if !isBot || !hasMethod {
		s.finish(w, s.record(r.URL.Path, now, nil), fail(http.StatusNotFound, "Not Found"))
		return
	}
	if token != s.opts.Token {
		s.finish(w, s.record(method, now, nil), fail(http.StatusUnauthorized, "Unauthorized"))
		return
	}
	m, known := methods[strings.ToLower(method)]
	if !known {
		s.finish(w, s.record(method, now, nil), fail(http.StatusNotFound, "Not Found"))
		return
	}
	params, files, perr := readParams(r)
	c := &call{r: r, now: now, params: params, files: files}
	c.rec = s.record(m.name, now, params)
	if perr != "" {
		s.finish(w, c.rec, bad(perr))
		return
	}

	s.mu.Lock()
	if id, ok := chatIDOf(params); ok {
		c.rec.chatID, c.rec.hasChat = id, true
		if rateLimited[m.name] {
			if until, open := s.windows[id]; open && now.Before(until) {
				c.rec.early = true
			}
		}
	}
	if q := s.faults[m.name]; len(q) > 0 {
		f := q[0]
		s.faults[m.name] = q[1:]
		if f.code == http.StatusTooManyRequests && f.retryAfter > 0 && rateLimited[m.name] && c.rec.hasChat {
			s.windows[c.rec.chatID] = now.Add(time.Duration(f.retryAfter) * time.Second)
		}
		s.mu.Unlock()
		s.finish(w, c.rec, reply{code: f.code, desc: f.desc, retryAfter: f.retryAfter})
		return
	}
	if m.name == "getUpdates" {
		s.mu.Unlock()
		s.finish(w, c.rec, s.getUpdates(c))
		return
	}
	rep := m.fn(s, c)
	s.mu.Unlock()
	s.finish(w, c.rec, rep)
}

func (s *Server) record(method string, at time.Time, params map[string]any) *callRec {
	rec := &callRec{Call: Call{Method: method, At: at, Params: params}}
	s.mu.Lock()
	s.calls = append(s.calls, rec)
	s.mu.Unlock()
	return rec
}

// finish writes rep and completes the call record.
func (s *Server) finish(w http.ResponseWriter, rec *callRec, rep reply) {
	status := http.StatusOK
	var body []byte
	if rep.code == 0 {
		body, _ = json.Marshal(struct {
			OK     bool `json:"ok"`
			Result any  `json:"result"`
		}{true, rep.result})
	} else {
		status = rep.code
		type params struct {
			RetryAfter int `json:"retry_after,omitempty"`
		}
		e := struct {
			OK          bool    `json:"ok"`
			ErrorCode   int     `json:"error_code"`
			Description string  `json:"description"`
			Parameters  *params `json:"parameters,omitempty"`
		}{ErrorCode: rep.code, Description: rep.desc}
		if rep.retryAfter > 0 {
			e.Parameters = &params{RetryAfter: rep.retryAfter}
		}
		body, _ = json.Marshal(e)
	}
	s.mu.Lock()
	if rep.hold {
		// the client went away before the answer
		rec.Description = "client went away"
	} else {
		rec.Status = status
		rec.OK = rep.code == 0
		rec.ErrorCode = rep.code
		if rep.code != 0 {
			rec.Description = rep.desc
		}
		rec.RetryAfter = rep.retryAfter
	}
	s.mu.Unlock()
	if rep.hold {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// readParams merges the query string with a JSON, urlencoded or
// multipart body. It returns a Bad Request description on failure.
func readParams(r *http.Request) (map[string]any, map[string]upload, string) {
	params := map[string]any{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return params, nil, "can't read the request body"
		}
		trimmed := strings.TrimSpace(string(data))
		if trimmed == "" || trimmed == "null" {
			return params, nil, ""
		}
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			return params, nil, "can't parse JSON object"
		}
		for k, v := range body {
			params[k] = v
		}
	case "application/x-www-form-urlencoded":
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return params, nil, "can't read the request body"
		}
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return params, nil, "can't parse the request body"
		}
		for k, v := range form {
			if len(v) > 0 {
				params[k] = v[0]
			}
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(64 << 20); err != nil {
			return params, nil, "can't parse the multipart request body"
		}
		defer func() { _ = r.MultipartForm.RemoveAll() }()
		for k, v := range r.MultipartForm.Value {
			if len(v) > 0 {
				params[k] = v[0]
			}
		}
		files := map[string]upload{}
		for k, fhs := range r.MultipartForm.File {
			if len(fhs) == 0 {
				continue
			}
			f, err := fhs[0].Open()
			if err != nil {
				return params, nil, "can't read an uploaded file"
			}
			data, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil {
				return params, nil, "can't read an uploaded file"
			}
			files[k] = upload{name: fhs[0].Filename, data: data}
			params[k] = "file " + fhs[0].Filename + " (" + strconv.Itoa(len(data)) + " bytes)"
		}
		return params, files, ""
	}
	return params, nil, ""
}

// ---- parameter helpers ----

// str returns a parameter as a string: strings as sent, numbers and
// booleans formatted, objects and arrays as JSON.
func str(p map[string]any, k string) (string, bool) {
	v, ok := p[k]
	if !ok || v == nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	default:
		b, _ := json.Marshal(x)
		return string(b), true
	}
}

// integer reads an integer parameter given as a JSON number or a numeric
// string. ok is false if it is absent or not an integer.
func integer(p map[string]any, k string) (int64, bool) {
	v, present := p[k]
	if !present || v == nil {
		return 0, false
	}
	switch x := v.(type) {
	case float64:
		if x != float64(int64(x)) {
			return 0, false
		}
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func boolean(p map[string]any, k string) bool {
	switch x := p[k].(type) {
	case bool:
		return x
	case string:
		return x == "true" || x == "1" || x == "True"
	case float64:
		return x != 0
	}
	return false
}

// jsonParam returns a parameter that holds JSON, sent either as a JSON
// value or as a string containing JSON.
func jsonParam(p map[string]any, k string) (json.RawMessage, bool) {
	v, ok := p[k]
	if !ok || v == nil {
		return nil, false
	}
	if s, isStr := v.(string); isStr {
		s = strings.TrimSpace(s)
		if s == "" || s == "null" {
			return nil, false
		}
		return json.RawMessage(s), true
	}
	b, _ := json.Marshal(v)
	return b, true
}

func chatIDOf(p map[string]any) (int64, bool) {
	return integer(p, "chat_id")
}

// Recipient makes a Chat usable as a telebot Recipient.
func (c Chat) Recipient() string { return strconv.FormatInt(c.ID, 10) }
