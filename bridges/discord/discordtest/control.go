package discordtest

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"
)

// ---- connection control for tests ----

// nonResumable are close codes after which Discord does not allow RESUME.
var nonResumable = map[int]bool{
	1000: true, 1001: true, 4004: true, 4007: true, 4009: true, 4010: true, 4011: true, 4012: true, 4013: true, 4014: true,
}

func (s *Server) liveConns() []*gwConn {
	var out []*gwConn
	for c := range s.conns {
		if !c.detached {
			out = append(out, c)
		}
	}
	return out
}

// Disconnect closes every gateway connection with a close frame of code
// (4000 "Unknown error" is a typical resumable one). The sessions stay
// resumable unless code is one after which Discord refuses RESUME
// (1000, 1001, 4004, 4007, 4009-4014).
func (s *Server) Disconnect(code int) {
	s.mu.Lock()
	conns := s.liveConns()
	for _, c := range conns {
		if c.sess != nil && nonResumable[code] {
			c.sess.invalid = true
		}
		s.detachLocked(c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "discordtest disconnect"),
			time.Now().Add(gatewayWriteTimeout))
		c.wmu.Unlock()
		_ = c.ws.NetConn().Close()
	}
}

// DropConnection closes every gateway connection abruptly (no close
// frame), as a network failure would. Sessions stay resumable; events
// sent meanwhile wait in them for a RESUME.
func (s *Server) DropConnection() {
	s.mu.Lock()
	conns := s.liveConns()
	for _, c := range conns {
		s.detachLocked(c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.NetConn().Close()
	}
}

// RequestReconnect sends op 7 Reconnect on every connection; the client
// should close and RESUME.
func (s *Server) RequestReconnect() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.liveConns() {
		_ = c.write(map[string]any{"op": 7, "d": nil, "s": nil, "t": nil})
	}
}

// InvalidateSession sends op 9 Invalid Session with d=resumable on every
// identified connection and detaches it from its session, so the client
// may IDENTIFY again on the same connection. Unless resumable, the
// sessions are invalidated too.
func (s *Server) InvalidateSession(resumable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.liveConns() {
		if c.sess == nil {
			continue
		}
		if !resumable {
			c.sess.invalid = true
		}
		if c.sess.conn == c {
			c.sess.conn = nil
		}
		c.sess = nil
		_ = c.write(map[string]any{"op": 9, "d": resumable, "s": nil, "t": nil})
	}
}

// ExpireSessions invalidates every session without touching the
// connections, as if they had timed out: a later RESUME gets op 9.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		sess.invalid = true
	}
}

// Events returns every dispatch sent or queued in a session, in the order
// the fake created them.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		out[i] = *e
	}
	return out
}

// Resend dispatches ev's type and data again, with new sequence numbers,
// to every live session, as Discord may after a reconnect or restart.
func (s *Server) Resend(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data := ev.Data
	s.dispatchLocked(ev.Type, func(int) (any, bool) { return json.RawMessage(data), true }, nil)
}
