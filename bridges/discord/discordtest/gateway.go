package discordtest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Gateway intents the fake interprets.
const (
	IntentGuilds         = 1 << 0
	IntentGuildMessages  = 1 << 9
	IntentDirectMessages = 1 << 12
	IntentMessageContent = 1 << 15
)

// gatewayWriteTimeout bounds every websocket write.
const gatewayWriteTimeout = 2 * time.Second

// Gateway close codes the fake sends.
const (
	closeAuthFailed       = 4004
	closeAlreadyAuthed    = 4005
	closeNotAuthenticated = 4003
	closeDecodeError      = 4002
	closeUnknownOpcode    = 4001
	closeInvalidVersion   = 4012
	closeInvalidIntents   = 4013
	closeDisallowedIntent = 4014
)

// session is a gateway session: its event log survives dropped
// connections so that RESUME can replay it.
type session struct {
	id      string
	intents int
	version int
	seq     int64
	log     []*logEntry
	conn    *gwConn
	invalid bool
}

type logEntry struct {
	ev     *Event
	onSent func(time.Time)
}

type gwConn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	version int
	// guarded by Server.mu
	sess     *session
	detached bool // the fake closed it: ignore the client's close code
}

// pendingEvent waits for a session: events sent while no session exists
// are delivered after the next READY.
type pendingEvent struct {
	typ    string
	build  func(intents int) (any, bool)
	onSent func(time.Time)
}

func websocketRequest(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p != "/" && p != "/ws" && p != "/ws/" {
		http.Error(w, `{"message": "404: Not Found", "code": 0}`, http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	if e := q.Get("encoding"); e != "" && e != "json" {
		http.Error(w, "discordtest: only encoding=json is supported", http.StatusBadRequest)
		return
	}
	if q.Get("compress") != "" {
		http.Error(w, "discordtest: transport compression is not supported", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	s.wsWG.Add(1)
	s.mu.Unlock()
	defer s.wsWG.Done()
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	conn := &gwConn{ws: ws, version: 9}
	if q.Get("v") == "10" {
		conn.version = 10
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.conns[conn] = struct{}{}
	s.connects++
	s.mu.Unlock()
	defer s.dropConn(conn)
	if v := q.Get("v"); v != "" && v != "9" && v != "10" {
		s.closeConn(conn, closeInvalidVersion, "Invalid API version.")
		return
	}
	ms := s.opts.HeartbeatInterval.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	if conn.write(map[string]any{"op": 10, "d": map[string]any{"heartbeat_interval": ms}, "s": nil, "t": nil}) != nil {
		return
	}
	s.readLoop(conn)
}

// readLoop serves one connection until it closes.
func (s *Server) readLoop(conn *gwConn) {
	for {
		mt, data, err := conn.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) {
				s.mu.Lock()
				if !conn.detached && conn.sess != nil && conn.sess.conn == conn {
					conn.sess.invalid = true
				}
				s.mu.Unlock()
			}
			return
		}
		var p struct {
			Op *int            `json:"op"`
			D  json.RawMessage `json:"d"`
		}
		if mt != websocket.TextMessage || json.Unmarshal(data, &p) != nil || p.Op == nil {
			s.closeConn(conn, closeDecodeError, "Error while decoding payload.")
			return
		}
		switch *p.Op {
		case 1:
			s.mu.Lock()
			s.heartbeats++
			s.mu.Unlock()
			if conn.write(map[string]any{"op": 11}) != nil {
				return
			}
		case 2:
			if !s.identify(conn, p.D) {
				return
			}
		case 6:
			if !s.resume(conn, p.D) {
				return
			}
		case 3, 4, 8:
			s.mu.Lock()
			authed := conn.sess != nil
			s.mu.Unlock()
			if !authed {
				s.closeConn(conn, closeNotAuthenticated, "Not authenticated.")
				return
			}
		default:
			s.closeConn(conn, closeUnknownOpcode, "Unknown opcode.")
			return
		}
	}
}

func (c *gwConn) write(v any) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(gatewayWriteTimeout))
	return c.ws.WriteJSON(v)
}

// closeConn sends a close frame with code and closes the connection.
func (s *Server) closeConn(conn *gwConn, code int, text string) {
	s.mu.Lock()
	s.detachLocked(conn)
	s.mu.Unlock()
	conn.wmu.Lock()
	_ = conn.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(gatewayWriteTimeout))
	conn.wmu.Unlock()
	_ = conn.ws.NetConn().Close()
}

// detachLocked separates conn from its session, which stays resumable.
func (s *Server) detachLocked(conn *gwConn) {
	conn.detached = true
	if conn.sess != nil && conn.sess.conn == conn {
		conn.sess.conn = nil
	}
	conn.sess = nil
}

func (s *Server) dropConn(conn *gwConn) {
	s.mu.Lock()
	if conn.sess != nil && conn.sess.conn == conn {
		conn.sess.conn = nil
	}
	delete(s.conns, conn)
	s.mu.Unlock()
	_ = conn.ws.Close()
}

func gatewayToken(t, want string) bool { return t == want || t == "Bot "+want }

func (s *Server) identify(conn *gwConn, d json.RawMessage) bool {
	var id struct {
		Token          string            `json:"token"`
		Intents        *int              `json:"intents"`
		Compress       bool              `json:"compress"`
		LargeThreshold int               `json:"large_threshold"`
		Properties     map[string]string `json:"properties"`
	}
	if json.Unmarshal(d, &id) != nil {
		s.closeConn(conn, closeDecodeError, "Error while decoding payload.")
		return false
	}
	rec := Identify{At: time.Now(), Token: id.Token, Compress: id.Compress, LargeThreshold: id.LargeThreshold,
		Properties: id.Properties}
	if id.Intents != nil {
		rec.Intents = *id.Intents
	}
	code, text := 0, ""
	s.mu.Lock()
	switch {
	case conn.sess != nil:
		code, text = closeAlreadyAuthed, "Already authenticated."
	case !gatewayToken(id.Token, s.opts.Token):
		code, text = closeAuthFailed, "Authentication failed."
	case id.Intents == nil || *id.Intents < 0 || *id.Intents >= 1<<26:
		code, text = closeInvalidIntents, "Invalid intent(s)."
	case *id.Intents&s.opts.DisallowedIntents != 0:
		code, text = closeDisallowedIntent, "Disallowed intent(s)."
	}
	if code != 0 {
		rec.CloseCode = code
		s.identifies = append(s.identifies, rec)
		s.mu.Unlock()
		s.closeConn(conn, code, text)
		return false
	}
	sess := &session{id: randomHex(16), intents: *id.Intents, version: conn.version, conn: conn}
	conn.sess = sess
	s.sessions[sess.id] = sess
	rec.SessionID = sess.id
	s.identifies = append(s.identifies, rec)

	var guilds []any
	for _, gid := range s.guildOrder {
		guilds = append(guilds, map[string]any{"id": gid, "unavailable": true})
	}
	if guilds == nil {
		guilds = []any{}
	}
	me := userJSON(s.Bot())
	me["verified"], me["mfa_enabled"], me["flags"] = true, false, 0
	s.sendLocked(sess, "READY", map[string]any{
		"v": conn.version, "session_id": sess.id, "resume_gateway_url": s.GatewayURL(), "session_type": "normal",
		"user": me, "application": map[string]any{"id": s.opts.ApplicationID, "flags": 0},
		"guilds": guilds, "private_channels": []any{}, "relationships": []any{}, "presences": []any{},
		"guild_join_requests": []any{}, "geo_ordered_rtc_regions": []any{}, "user_settings": map[string]any{},
		"_trace": []string{"discordtest"},
	}, nil)
	if sess.intents&IntentGuilds != 0 {
		for _, gid := range s.guildOrder {
			s.sendLocked(sess, "GUILD_CREATE", s.guildJSONLocked(gid), nil)
		}
	}
	pending := s.pending
	s.pending = nil
	for _, p := range pending {
		if payload, send := p.build(sess.intents); send {
			s.sendLocked(sess, p.typ, payload, p.onSent)
		}
	}
	s.mu.Unlock()
	return true
}

func (s *Server) resume(conn *gwConn, d json.RawMessage) bool {
	var rs struct {
		Token     string `json:"token"`
		SessionID string `json:"session_id"`
		Seq       int64  `json:"seq"`
	}
	if json.Unmarshal(d, &rs) != nil {
		s.closeConn(conn, closeDecodeError, "Error while decoding payload.")
		return false
	}
	s.mu.Lock()
	rec := Resume{At: time.Now(), SessionID: rs.SessionID, Seq: rs.Seq}
	if conn.sess != nil {
		s.resumes = append(s.resumes, rec)
		s.mu.Unlock()
		s.closeConn(conn, closeAlreadyAuthed, "Already authenticated.")
		return false
	}
	if !gatewayToken(rs.Token, s.opts.Token) {
		s.resumes = append(s.resumes, rec)
		s.mu.Unlock()
		s.closeConn(conn, closeAuthFailed, "Authentication failed.")
		return false
	}
	sess := s.sessions[rs.SessionID]
	if sess == nil || sess.invalid || rs.Seq > sess.seq || rs.Seq < 0 {
		s.resumes = append(s.resumes, rec)
		err := conn.write(map[string]any{"op": 9, "d": false, "s": nil, "t": nil})
		s.mu.Unlock()
		return err == nil
	}
	if old := sess.conn; old != nil && old != conn {
		s.detachLocked(old)
		_ = old.ws.NetConn().Close()
	}
	sess.conn, conn.sess = conn, sess
	for _, e := range sess.log {
		if e.ev.Seq > rs.Seq {
			rec.Replayed++
			s.writeEntryLocked(sess, e)
		}
	}
	rec.OK = true
	s.resumes = append(s.resumes, rec)
	s.sendLocked(sess, "RESUMED", map[string]any{"_trace": []string{"discordtest"}}, nil)
	s.mu.Unlock()
	return true
}

// sendLocked appends a dispatch to sess's log and writes it if sess is
// connected. The caller holds s.mu.
func (s *Server) sendLocked(sess *session, typ string, payload any, onSent func(time.Time)) {
	data, err := json.Marshal(payload)
	if err != nil {
		panic("discordtest: marshal " + typ + ": " + err.Error())
	}
	sess.seq++
	e := &logEntry{ev: &Event{SessionID: sess.id, Seq: sess.seq, Type: typ, Data: data}, onSent: onSent}
	sess.log = append(sess.log, e)
	s.events = append(s.events, e.ev)
	s.writeEntryLocked(sess, e)
}

// writeEntryLocked writes e to sess's connection, if any. A failed write
// drops the connection (the session stays resumable).
func (s *Server) writeEntryLocked(sess *session, e *logEntry) {
	conn := sess.conn
	if conn == nil {
		return
	}
	frame := map[string]any{"op": 0, "s": e.ev.Seq, "t": e.ev.Type, "d": json.RawMessage(e.ev.Data)}
	if conn.write(frame) != nil {
		s.detachLocked(conn)
		_ = conn.ws.NetConn().Close()
		return
	}
	e.ev.Delivered = true
	if e.onSent != nil {
		e.onSent(time.Now())
	}
}

// dispatchLocked sends an event to every live session, built for its
// intents (build returns false to skip a session). With no live session
// the event waits for the next READY. The caller holds s.mu.
func (s *Server) dispatchLocked(typ string, build func(intents int) (any, bool), onSent func(time.Time)) {
	live := false
	for _, sess := range s.sessions {
		if sess.invalid {
			continue
		}
		live = true
		if payload, send := build(sess.intents); send {
			s.sendLocked(sess, typ, payload, onSent)
		}
	}
	if !live {
		s.pending = append(s.pending, pendingEvent{typ: typ, build: build, onSent: onSent})
	}
}

func (s *Server) liveSessionLocked() bool {
	for _, sess := range s.sessions {
		if !sess.invalid {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
