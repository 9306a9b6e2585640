package discordtest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/bridges/internal/fakelimit"
)

// Defaults used when the matching Options field is zero.
const (
	DefaultToken               = "discordtest.bot.token"
	DefaultBotID               = "1300000000000000001"
	DefaultBotUsername         = "chatbridge"
	DefaultHeartbeatInterval   = 41250 * time.Millisecond
	DefaultInteractionDeadline = 3 * time.Second
	DefaultInteractionTokenTTL = 15 * time.Minute
	DefaultMaxFileSize         = 10 << 20
	// MaxContentLength is the limit of message content, in Unicode code
	// points.
	MaxContentLength = 2000
)

// Options configures a Server. The zero value is ready to use.
type Options struct {
	// Token is the bot token, without "Bot ". Default DefaultToken.
	Token string
	// BotID and BotUsername describe the bot user. ApplicationID defaults
	// to BotID, as for modern Discord apps.
	BotID         string
	BotUsername   string
	ApplicationID string
	// HeartbeatInterval is sent in HELLO (whole milliseconds, at least 1).
	// Default DefaultHeartbeatInterval; tests set it small.
	HeartbeatInterval time.Duration
	// InteractionDeadline is how long after INTERACTION_CREATE a callback
	// is accepted (default 3 s). InteractionTokenTTL is how long the
	// interaction's webhook token works (default 15 min).
	InteractionDeadline time.Duration
	InteractionTokenTTL time.Duration
	// DisallowedIntents are intents the app is not approved for: an
	// IDENTIFY asking for any of them is closed with 4014.
	DisallowedIntents int
	// ChannelLimit limits message create and edit, per channel.
	ChannelLimit Limit
	// TypingLimit limits POST /channels/{id}/typing, per channel.
	TypingLimit Limit
	// WebhookLimit limits the interaction webhook routes (@original,
	// followups), per interaction token.
	WebhookLimit Limit
	// GlobalLimit limits every authenticated request except the
	// interaction callback and webhook routes.
	GlobalLimit Limit
	// MaxFileSize is the largest accepted upload, per file. Default 10 MiB.
	MaxFileSize int64
	// NoEcho stops the fake from dispatching MESSAGE_CREATE and
	// MESSAGE_UPDATE for the bot's own messages (Discord sends them).
	NoEcho bool
}

// Server is a fake Discord: REST API v9/v10 and a websocket gateway on
// 127.0.0.1. Create it with New or NewServer. All methods are safe for
// concurrent use.
type Server struct {
	opts      Options
	srv       *httptest.Server
	transport *http.Transport
	closeOnce sync.Once
	wsWG      sync.WaitGroup

	mu     sync.Mutex
	closed bool
	lastID uint64
	calls  []*Call

	users        map[string]User
	guilds       map[string]*guildState
	guildOrder   []string
	channels     map[string]*channelState
	dms          map[string]string // user ID -> DM channel ID
	commands     map[string][]Command
	interactions map[string]*interactionState
	tokens       map[string]*interactionState
	faults       map[string][]Fault

	windows      map[string]time.Time // bucket key -> end of announced retry_after
	globalUntil  time.Time
	buckets      map[string]*fakelimit.Bucket
	globalBucket fakelimit.Bucket

	conns      map[*gwConn]struct{}
	sessions   map[string]*session
	pending    []pendingEvent
	events     []*Event
	identifies []Identify
	resumes    []Resume
	heartbeats int
	connects   int
}

type guildState struct {
	id, name string
}

type channelState struct {
	ch   Channel
	msgs []*storedMsg
}

// NewServer starts a fake on 127.0.0.1. Call Close when done.
func NewServer(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.BotID == "" {
		opts.BotID = DefaultBotID
	}
	if opts.BotUsername == "" {
		opts.BotUsername = DefaultBotUsername
	}
	if opts.ApplicationID == "" {
		opts.ApplicationID = opts.BotID
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.InteractionDeadline <= 0 {
		opts.InteractionDeadline = DefaultInteractionDeadline
	}
	if opts.InteractionTokenTTL <= 0 {
		opts.InteractionTokenTTL = DefaultInteractionTokenTTL
	}
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	s := &Server{
		opts:         opts,
		users:        map[string]User{},
		guilds:       map[string]*guildState{},
		channels:     map[string]*channelState{},
		dms:          map[string]string{},
		commands:     map[string][]Command{},
		interactions: map[string]*interactionState{},
		tokens:       map[string]*interactionState{},
		faults:       map[string][]Fault{},
		windows:      map[string]time.Time{},
		buckets:      map[string]*fakelimit.Bucket{},
		conns:        map[*gwConn]struct{}{},
		sessions:     map[string]*session{},
		transport:    &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second},
	}
	s.users[opts.BotID] = s.Bot()
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// New starts a fake and closes it when the test ends. Register it before
// the discordgo session, so that cleanup closes the session first.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := NewServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// Close drops every gateway connection, stops the HTTP server and waits
// for the fake's goroutines. It is safe to call more than once. Close the
// discordgo session first: one that reconnects on errors would otherwise
// keep trying.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*gwConn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		for _, c := range conns {
			_ = c.ws.NetConn().Close()
		}
		s.wsWG.Wait()
		s.srv.Close()
		s.transport.CloseIdleConnections()
	})
}

// URL is the fake's base URL, http://127.0.0.1:PORT (no trailing slash).
func (s *Server) URL() string { return s.srv.URL }

// GatewayURL is the websocket URL GET /gateway returns, ws://127.0.0.1:PORT.
func (s *Server) GatewayURL() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") }

// Token is the bot token the fake accepts (without "Bot ").
func (s *Server) Token() string { return s.opts.Token }

// ApplicationID is the bot's application ID.
func (s *Server) ApplicationID() string { return s.opts.ApplicationID }

// Bot is the bot's own user.
func (s *Server) Bot() User {
	return User{ID: s.opts.BotID, Username: s.opts.BotUsername, Bot: true}
}

// Transport returns a RoundTripper that sends every request to the fake:
// it keeps method, path, query, headers and body and replaces scheme and
// host, so discordgo's https://discord.com/api/v9/... reaches the fake.
// base nil uses a transport owned by the fake, whose idle connections
// Close closes.
func (s *Server) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = s.transport
	}
	return &RewriteTransport{Base: base, Scheme: "http", Host: strings.TrimPrefix(s.srv.URL, "http://")}
}

// Client returns an http.Client using Transport(nil), for
// discordgo.Session.Client.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: s.Transport(nil), Timeout: 20 * time.Second}
}

// RewriteTransport is an http.RoundTripper that sends each request to
// Scheme://Host, keeping everything else. It does not modify the caller's
// request.
type RewriteTransport struct {
	Base   http.RoundTripper
	Scheme string
	Host   string
}

// RoundTrip implements http.RoundTripper.
func (t *RewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.URL.Scheme = t.Scheme
	r2.URL.Host = t.Host
	r2.Host = ""
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r2)
}

// discordEpoch is 2015-01-01T00:00:00Z in Unix milliseconds.
const discordEpoch = 1420070400000

// newIDLocked returns a fresh snowflake, increasing. The caller holds s.mu.
func (s *Server) newIDLocked(now time.Time) string {
	id := uint64(now.UnixMilli()-discordEpoch) << 22
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return strconv.FormatUint(id, 10)
}

// ---- introspection ----

// Calls returns every request so far, in arrival order, failed ones too.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = *c
	}
	return out
}

// CallsTo returns the calls to one route (a Route* constant), in order.
func (s *Server) CallsTo(route string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Route == route {
			out = append(out, *c)
		}
	}
	return out
}

// EarlyCalls returns the calls that arrived while their bucket (or the
// global limit) was inside a retry_after window the client had been told
// about by a 429, in order. A well-behaved client makes none.
func (s *Server) EarlyCalls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Early {
			out = append(out, *c)
		}
	}
	return out
}

// Messages returns the bot's messages in a channel (interaction responses
// and followups included, ephemeral ones too), in send order, in their
// current state. Deleted messages are gone.
func (s *Server) Messages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.channels[channelID]
	if cs == nil {
		return nil
	}
	var out []Message
	for _, m := range cs.msgs {
		if m.Author.ID == s.opts.BotID {
			out = append(out, m.snapshot())
		}
	}
	return out
}

// Message returns one message of a channel, the bot's or a user's.
func (s *Server) Message(channelID, messageID string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findMsgLocked(channelID, messageID); m != nil {
		return m.snapshot(), true
	}
	return Message{}, false
}

// Channel returns a channel the fake knows.
func (s *Server) Channel(id string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.channels[id]; cs != nil {
		return cs.ch, true
	}
	return Channel{}, false
}

// Commands returns the global commands of the last successful bulk
// overwrite, in order.
func (s *Server) Commands() []Command { return s.GuildCommands("") }

// GuildCommands returns a guild's commands ("" for the global ones).
func (s *Server) GuildCommands(guildID string) []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Command(nil), s.commands[guildID]...)
}

// InteractionResponse returns what the bot answered to an interaction.
func (s *Server) InteractionResponse(interactionID string) (InteractionResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.interactions[interactionID]
	if st == nil {
		return InteractionResponse{}, false
	}
	out := InteractionResponse{
		Interaction:  st.Interaction,
		CallbackType: st.callbackType,
		CallbackAt:   st.callbackAt,
		Data:         st.data,
		Choices:      append([]Choice(nil), st.choices...),
		Callbacks:    st.callbacks,
	}
	if st.original != nil {
		m := st.original.snapshot()
		out.Original = &m
	}
	for _, f := range st.followups {
		out.Followups = append(out.Followups, f.snapshot())
	}
	return out, true
}

// Identifies returns every IDENTIFY received, in order.
func (s *Server) Identifies() []Identify {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Identify(nil), s.identifies...)
}

// Resumes returns every RESUME received, in order.
func (s *Server) Resumes() []Resume {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Resume(nil), s.resumes...)
}

// Heartbeats counts the heartbeats (op 1) received.
func (s *Server) Heartbeats() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heartbeats
}

// Connections counts the websocket connections accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// Connected reports whether a gateway connection with a live session
// (identified or resumed) is open.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if ss.conn != nil && !ss.invalid {
			return true
		}
	}
	return false
}
