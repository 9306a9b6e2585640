package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/chatbridge/chatbridge/bridges/internal/fakelimit"
)

// Default credentials and identities, used when Options leaves them empty.
const (
	DefaultBotToken          = "xoxb-1000000001-2000000002-fakebottoken"
	DefaultAppToken          = "xapp-1-A0FAKEAPP1-3000000003-fakeapptoken"
	DefaultVerificationToken = "fake-verification-token"
	DefaultTeamID            = "T0FAKETEAM"
	DefaultTeamDomain        = "fake"
	DefaultAppID             = "A0FAKEAPP1"
	DefaultBotID             = "B0FAKEBOT1"
	DefaultBotUserID         = "U0FAKEBOT1"
	DefaultBotName           = "chatbridge"
)

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// BotToken is the xoxb- token the Web API accepts. Default
	// DefaultBotToken.
	BotToken string
	// AppToken is the xapp- token apps.connections.open accepts. Default
	// DefaultAppToken.
	AppToken string
	// VerificationToken is the "token" field of event payloads. Default
	// DefaultVerificationToken.
	VerificationToken string
	// Team, app and bot identities reported by auth.test and put in
	// events. Defaults: the Default* constants.
	TeamID, TeamDomain, AppID, BotID, BotUserID, BotName string

	// MaxTextLen is the longest text (in characters, i.e. runes) that
	// chat.postMessage, chat.postEphemeral and chat.update accept; longer
	// gives msg_too_long. Default 40000.
	MaxTextLen int
	// MaxMarkdownLen is the longest markdown_text one chat.*Stream call
	// accepts (msg_too_long beyond). Default 12000.
	MaxMarkdownLen int

	// PingInterval is how often the Socket Mode server sends a WebSocket
	// ping. Default 5s; negative: never (the client then reconnects when
	// its own ping timeout fires).
	PingInterval time.Duration
	// RedeliverAfter makes the fake redeliver an events_api envelope that
	// was not acked within this time of being sent (and whose event no
	// other delivery had acked), with retry_attempt incremented and
	// retry_reason "timeout", up to MaxRetries times. Zero: no automatic
	// redelivery (see Redeliver).
	RedeliverAfter time.Duration
	// MaxRetries caps automatic redeliveries of one event. Default 3.
	MaxRetries int
	// StreamTimeout ends a chat.startStream stream that saw no call for
	// this long; later appends fail with message_not_in_streaming_state.
	// Zero: streams never expire.
	StreamTimeout time.Duration

	// Limits are workspace-wide token buckets per method name (for
	// example "chat.update": PerMinute(50)). Nil: no limit.
	Limits map[string]Limit
	// ChannelLimits are token buckets per method and channel (for example
	// "chat.postMessage": Limit{Every: time.Second, Burst: 3}).
	ChannelLimits map[string]Limit
}

// User is a workspace member.
type User struct {
	ID       string
	Name     string // handle; default: the ID lower-cased
	RealName string
	IsBot    bool
}

// Channel is a conversation the fake knows.
type Channel struct {
	ID   string // C… public, G… private, D… direct message
	Name string // without '#'; empty for a DM
	// User is the other member of a DM.
	User string
	// BotAbsent makes posting fail with not_in_channel.
	BotAbsent bool
}

// IsIM reports whether c is a direct message with the bot.
func (c Channel) IsIM() bool { return strings.HasPrefix(c.ID, "D") }

// DMChannel is the ID of the direct message between the bot and a user:
// "D" followed by the user ID without its leading "U".
func DMChannel(userID string) string { return "D" + strings.TrimPrefix(userID, "U") }

// Call is one Web API request the fake received.
type Call struct {
	Method string
	At     time.Time
	// Params holds the request parameters (query, form or JSON body),
	// without the token. JSON objects and arrays are kept as JSON text,
	// numbers and booleans formatted.
	Params map[string]string
	// Channel is the call's channel or channel_id parameter.
	Channel string
	// Status is the HTTP status; OK and Error mirror the JSON body.
	Status int
	OK     bool
	Error  string
	// RetryAfter is the Retry-After header in seconds, or 0.
	RetryAfter int
	// Early is true when the call arrived while a Retry-After window
	// announced for its method (and channel) was still open.
	Early bool
}

// Message is the current state of a message: one the bot posted, or (from
// Server.Message) a user's message the fake delivered.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // empty for a top-level message
	// User is the author's user ID (the bot user for bot messages).
	User  string
	BotID string
	// Text is the current text: the text parameter, or for a streamed
	// message the markdown_text of all its stream calls joined.
	Text string
	// Versions lists every text the message had, first one first.
	Versions []string
	// Blocks and Attachments are the current JSON arrays, or nil.
	Blocks      json.RawMessage
	Attachments json.RawMessage
	// Mrkdwn is false when the post said mrkdwn=false.
	Mrkdwn bool
	// UnfurlLinks and UnfurlMedia are the flags as sent, nil if absent.
	UnfurlLinks, UnfurlMedia *bool
	ReplyBroadcast           bool
	// Edits counts successful chat.update calls.
	Edits    int
	PostedAt time.Time
	EditedAt time.Time
	// Streamed is true for a message made by chat.startStream; Streaming
	// while it has not been stopped (or expired).
	Streamed, Streaming bool
	// Chunks are the chunks parameters of the stream calls, as sent.
	Chunks []json.RawMessage
	// Ephemeral messages (chat.postEphemeral) are seen by EphemeralUser
	// only.
	Ephemeral     bool
	EphemeralUser string
	// FileIDs are the files shared with the message.
	FileIDs []string
}

type storedMsg struct {
	Message
	human    bool
	lastCall time.Time // streams: last start/append
}

type channelState struct {
	Channel
	msgs []*storedMsg
}

// Server is the fake Slack. Create it with New or NewServer. All methods
// are safe for concurrent use.
type Server struct {
	opts     Options
	srv      *httptest.Server
	upgrader websocket.Upgrader
	wg       sync.WaitGroup // websocket goroutines and redelivery callbacks

	mu      sync.Mutex
	closed  bool
	changed chan struct{} // closed and replaced on every change

	calls   []*Call
	faults  map[string][]fault
	windows map[limitKey]time.Time
	buckets map[limitKey]*fakelimit.Bucket

	users    map[string]User
	channels map[string]*channelState
	byTS     map[string]*storedMsg
	lastTS   int64 // microseconds of the last ts handed out
	seq      int

	statuses  []Status
	current   map[[2]string]string
	files     map[string]*fileState
	fileOrder []string
	responses map[string]*responseURL
	posts     []ResponsePost

	sock socketState
}

// NewServer starts a fake on 127.0.0.1. Call Close when done.
func NewServer(opts Options) *Server {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.BotToken, DefaultBotToken)
	def(&opts.AppToken, DefaultAppToken)
	def(&opts.VerificationToken, DefaultVerificationToken)
	def(&opts.TeamID, DefaultTeamID)
	def(&opts.TeamDomain, DefaultTeamDomain)
	def(&opts.AppID, DefaultAppID)
	def(&opts.BotID, DefaultBotID)
	def(&opts.BotUserID, DefaultBotUserID)
	def(&opts.BotName, DefaultBotName)
	if opts.MaxTextLen <= 0 {
		opts.MaxTextLen = 40000
	}
	if opts.MaxMarkdownLen <= 0 {
		opts.MaxMarkdownLen = 12000
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = 5 * time.Second
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 3
	}
	s := &Server{
		opts:      opts,
		changed:   make(chan struct{}),
		faults:    map[string][]fault{},
		windows:   map[limitKey]time.Time{},
		buckets:   map[limitKey]*fakelimit.Bucket{},
		users:     map[string]User{},
		channels:  map[string]*channelState{},
		byTS:      map[string]*storedMsg{},
		current:   map[[2]string]string{},
		files:     map[string]*fileState{},
		responses: map[string]*responseURL{},
		sock:      newSocketState(),
	}
	s.upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.users[opts.BotUserID] = User{ID: opts.BotUserID, Name: opts.BotName, RealName: opts.BotName, IsBot: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", s.serveAPI)
	mux.HandleFunc("/link/", s.serveLink)
	mux.HandleFunc("/upload/v1/{id}", s.serveUpload)
	mux.HandleFunc("/commands/{id}", s.serveResponseURL)
	mux.HandleFunc("/actions/{id}", s.serveResponseURL)
	s.srv = httptest.NewServer(mux)
	return s
}

// New starts a fake and closes it when the test ends.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := NewServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// URL is the server's base URL, http://127.0.0.1:port (no trailing slash).
func (s *Server) URL() string { return s.srv.URL }

// APIURL is the Web API endpoint for slack.OptionAPIURL: URL()+"/api/",
// with the trailing slash slack-go needs.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// BotToken is the bot token the fake accepts.
func (s *Server) BotToken() string { return s.opts.BotToken }

// AppToken is the app-level token the fake accepts.
func (s *Server) AppToken() string { return s.opts.AppToken }

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// Close drops every WebSocket connection, stops the server and waits for
// its goroutines. Held requests are answered. It is safe to call more
// than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := s.closeSocketsLocked()
	s.notifyLocked()
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
	s.srv.Close()
	s.wg.Wait()
}

// Wait blocks until cond returns true or ctx ends. cond is called without
// the fake's lock, after every change of the fake's state (a call, an
// ack, a connection...), so it may use the other methods.
func (s *Server) Wait(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("slacktest: wait: %w", ctx.Err())
		}
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// AddUser makes a user known (users.info, conversations.open) and opens
// its DM with the bot.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(u)
}

func (s *Server) addUserLocked(u User) User {
	if old, ok := s.users[u.ID]; ok && u.Name == "" && u.RealName == "" {
		return old
	}
	if u.Name == "" {
		u.Name = strings.ToLower(u.ID)
	}
	if u.RealName == "" {
		u.RealName = u.Name
	}
	s.users[u.ID] = u
	if !u.IsBot {
		s.addChannelLocked(Channel{ID: DMChannel(u.ID), User: u.ID})
	}
	return u
}

// AddChannel makes a channel known. Posting to an unknown channel fails
// with channel_not_found.
func (s *Server) AddChannel(c Channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addChannelLocked(c)
}

func (s *Server) addChannelLocked(c Channel) *channelState {
	if cs, ok := s.channels[c.ID]; ok {
		return cs
	}
	if c.Name == "" && !c.IsIM() {
		c.Name = strings.ToLower(c.ID)
	}
	cs := &channelState{Channel: c}
	s.channels[c.ID] = cs
	return cs
}

// Calls returns every Web API call so far, in arrival order, failed ones
// too.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.copy()
	}
	return out
}

func (c *Call) copy() Call {
	out := *c
	out.Params = make(map[string]string, len(c.Params))
	for k, v := range c.Params {
		out.Params[k] = v
	}
	return out
}

// CallsTo returns the calls to one method, in order.
func (s *Server) CallsTo(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Method == method {
			out = append(out, c.copy())
		}
	}
	return out
}

// Messages returns the bot's messages in a channel (ephemeral ones
// included, deleted ones gone), in post order, in their current state.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.botMessagesLocked(channel, func(*storedMsg) bool { return true })
}

// ThreadMessages returns the bot's replies in the thread of threadTS, in
// post order.
func (s *Server) ThreadMessages(channel, threadTS string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.botMessagesLocked(channel, func(m *storedMsg) bool { return m.ThreadTS == threadTS })
}

// Message returns any message (the bot's or a user's) by channel and ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byTS[ts]
	if !ok || m.Channel != channel {
		return Message{}, false
	}
	s.expireLocked(m, time.Now())
	return m.snapshot(), true
}

func (s *Server) botMessagesLocked(channel string, keep func(*storedMsg) bool) []Message {
	cs := s.channels[channel]
	if cs == nil {
		return nil
	}
	now := time.Now()
	var out []Message
	for _, m := range cs.msgs {
		if !m.human && keep(m) {
			s.expireLocked(m, now)
			out = append(out, m.snapshot())
		}
	}
	return out
}

func (m *storedMsg) snapshot() Message {
	out := m.Message
	out.Versions = append([]string(nil), m.Versions...)
	out.Blocks = append(json.RawMessage(nil), m.Blocks...)
	out.Attachments = append(json.RawMessage(nil), m.Attachments...)
	out.Chunks = append([]json.RawMessage(nil), m.Chunks...)
	out.FileIDs = append([]string(nil), m.FileIDs...)
	if len(out.Blocks) == 0 {
		out.Blocks = nil
	}
	if len(out.Attachments) == 0 {
		out.Attachments = nil
	}
	return out
}

// nextTS hands out a message timestamp, unique and increasing.
func (s *Server) nextTS(now time.Time) string {
	us := now.UnixMicro()
	if us <= s.lastTS {
		us = s.lastTS + 1
	}
	s.lastTS = us
	return tsOf(time.UnixMicro(us))
}

// tsOf formats t as a Slack timestamp, seconds.microseconds.
func tsOf(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// nextID returns a fresh number for IDs.
func (s *Server) nextID() int {
	s.seq++
	return s.seq
}

func uuidFor(n int) string {
	return fmt.Sprintf("5ac1a7e5-0000-4000-8000-%012d", n)
}

// wsURL turns the http base URL into a ws one.
func (s *Server) wsURL(path string, q url.Values) string {
	return "ws" + strings.TrimPrefix(s.srv.URL, "http") + path + "?" + q.Encode()
}
