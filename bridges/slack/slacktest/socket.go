package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
)

// Envelope is one Socket Mode envelope the fake created: a first
// delivery or a redelivery.
type Envelope struct {
	ID string
	// Type is "events_api", "slash_commands" or "interactive".
	Type                   string
	Payload                json.RawMessage
	AcceptsResponsePayload bool
	RetryAttempt           int
	RetryReason            string
	// Original is the ID of the first delivery this one repeats, or "".
	Original string
	// EventID is the payload's event_id (events_api only).
	EventID   string
	CreatedAt time.Time
	// SentAt is when it was queued on a connection; zero while no
	// connection was open. AckedAt is the first ack's arrival, or zero.
	SentAt, AckedAt time.Time
}

// Ack is one message the client sent on a Socket Mode connection.
type Ack struct {
	EnvelopeID string
	// Payload is the ack's payload, nil when absent.
	Payload json.RawMessage
	At      time.Time
	// Known is false when no envelope has this ID (or the frame was not
	// an ack at all; Raw then shows it).
	Known bool
	Raw   json.RawMessage
}

type envelope struct {
	Envelope
	timer *time.Timer // automatic redelivery
}

type wsConn struct {
	ws       *websocket.Conn
	queue    [][]byte // frames waiting for the writer
	wake     chan struct{}
	done     chan struct{} // closed when the reader exits
	retiring bool          // told to disconnect: gets no new envelopes
}

type socketState struct {
	tickets map[string]bool
	conns   []*wsConn
	dials   int
	envs    []*envelope
	byID    map[string]*envelope
	acks    []Ack
}

func newSocketState() socketState {
	return socketState{tickets: map[string]bool{}, byID: map[string]*envelope{}}
}

// closeSocketsLocked stops the redelivery timers and returns the
// connections to close.
func (s *Server) closeSocketsLocked() []*wsConn {
	for _, e := range s.sock.envs {
		s.stopTimerLocked(e)
	}
	return append([]*wsConn(nil), s.sock.conns...)
}

func (s *Server) connectionsOpen(c *call) reply {
	ticket := uuidFor(s.nextID())
	s.sock.tickets[ticket] = true
	return ok(map[string]any{"url": s.wsURL("/link/", url.Values{"ticket": {ticket}, "app_id": {s.opts.AppID}})})
}

// serveLink accepts a Socket Mode connection with a ticket from
// apps.connections.open (each ticket works once), says hello, then
// delivers the envelopes that were waiting for a connection.
func (s *Server) serveLink(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	s.mu.Lock()
	valid := !s.closed && s.sock.tickets[ticket]
	delete(s.sock.tickets, ticket)
	s.mu.Unlock()
	if !valid {
		http.Error(w, "invalid or used ticket", http.StatusUnauthorized)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = ws.Close()
		return
	}
	wc := &wsConn{ws: ws, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.sock.dials++
	s.sock.conns = append(s.sock.conns, wc)
	hello, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": s.liveConnsLocked(),
		"debug_info":      map[string]any{"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
		"connection_info": map[string]any{"app_id": s.opts.AppID},
	})
	wc.queue = append(wc.queue, hello)
	for _, e := range s.sock.envs {
		if e.SentAt.IsZero() {
			s.enqueueLocked(wc, e)
		}
	}
	wake(wc)
	s.notifyLocked()
	s.wg.Add(2)
	go s.readLoop(wc)
	go s.writeLoop(wc)
}

func (s *Server) liveConnsLocked() int {
	n := 0
	for _, c := range s.sock.conns {
		if !c.retiring {
			n++
		}
	}
	return n
}

// readLoop records what the client sends until the connection fails.
func (s *Server) readLoop(wc *wsConn) {
	defer s.wg.Done()
	for {
		_, data, err := wc.ws.ReadMessage()
		if err != nil {
			break
		}
		s.recordAck(data)
	}
	_ = wc.ws.Close()
	s.mu.Lock()
	for i, c := range s.sock.conns {
		if c == wc {
			s.sock.conns = append(s.sock.conns[:i], s.sock.conns[i+1:]...)
			break
		}
	}
	close(wc.done)
	s.notifyLocked()
	s.mu.Unlock()
}

// writeLoop writes queued frames in order and pings every PingInterval.
func (s *Server) writeLoop(wc *wsConn) {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.opts.PingInterval > 0 {
		t := time.NewTicker(s.opts.PingInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-wc.done:
			return
		case <-tick:
			if err := wc.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second)); err != nil {
				_ = wc.ws.Close()
				return
			}
		case <-wc.wake:
			s.mu.Lock()
			frames := wc.queue
			wc.queue = nil
			s.mu.Unlock()
			for _, f := range frames {
				_ = wc.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if err := wc.ws.WriteMessage(websocket.TextMessage, f); err != nil {
					_ = wc.ws.Close()
					return
				}
			}
		}
	}
}

func (s *Server) recordAck(data []byte) {
	var msg struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	a := Ack{At: time.Now(), Raw: append(json.RawMessage(nil), data...)}
	if json.Unmarshal(data, &msg) == nil {
		a.EnvelopeID = msg.EnvelopeID
		if p := string(msg.Payload); p != "" && p != "null" {
			a.Payload = msg.Payload
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.sock.byID[a.EnvelopeID]; e != nil {
		a.Known = true
		if e.AckedAt.IsZero() {
			e.AckedAt = a.At
		}
		s.stopTimerLocked(e)
	}
	s.sock.acks = append(s.sock.acks, a)
	s.notifyLocked()
}

// newEnvelopeLocked creates an envelope and delivers it (or keeps it
// until a connection opens).
func (s *Server) newEnvelopeLocked(typ string, payload any, accepts bool, eventID string) *envelope {
	data, _ := json.Marshal(payload)
	e := &envelope{Envelope: Envelope{
		ID:                     uuidFor(s.nextID()),
		Type:                   typ,
		Payload:                data,
		AcceptsResponsePayload: accepts,
		EventID:                eventID,
		CreatedAt:              time.Now(),
	}}
	s.addEnvelopeLocked(e)
	return e
}

func (s *Server) addEnvelopeLocked(e *envelope) {
	s.sock.envs = append(s.sock.envs, e)
	s.sock.byID[e.ID] = e
	for i := len(s.sock.conns) - 1; i >= 0 && !s.closed; i-- {
		if c := s.sock.conns[i]; !c.retiring {
			s.enqueueLocked(c, e)
			break
		}
	}
	s.notifyLocked()
}

// enqueueLocked queues e on wc and arms its automatic redelivery.
func (s *Server) enqueueLocked(wc *wsConn, e *envelope) {
	frame, _ := json.Marshal(map[string]any{
		"envelope_id":              e.ID,
		"type":                     e.Type,
		"payload":                  e.Payload,
		"accepts_response_payload": e.AcceptsResponsePayload,
		"retry_attempt":            e.RetryAttempt,
		"retry_reason":             e.RetryReason,
	})
	e.SentAt = time.Now()
	wc.queue = append(wc.queue, frame)
	wake(wc)
	if e.Type == "events_api" && s.opts.RedeliverAfter > 0 && e.RetryAttempt < s.opts.MaxRetries && e.timer == nil && e.AckedAt.IsZero() {
		s.wg.Add(1)
		e.timer = time.AfterFunc(s.opts.RedeliverAfter, func() {
			defer s.wg.Done()
			s.mu.Lock()
			defer s.mu.Unlock()
			e.timer = nil
			if !s.closed && !s.chainAckedLocked(e) {
				s.redeliverLocked(e)
			}
		})
	}
}

// wake tells wc's writer that frames are queued.
func wake(wc *wsConn) {
	select {
	case wc.wake <- struct{}{}:
	default:
	}
}

func (s *Server) stopTimerLocked(e *envelope) {
	if e.timer != nil && e.timer.Stop() {
		s.wg.Done() // the callback will not run
	}
	e.timer = nil
}

// chainAckedLocked reports whether e or any other delivery of the same
// event was acked.
func (s *Server) chainAckedLocked(e *envelope) bool {
	orig := e.Original
	if orig == "" {
		orig = e.ID
	}
	for _, x := range s.sock.envs {
		if (x.ID == orig || x.Original == orig) && !x.AckedAt.IsZero() {
			return true
		}
	}
	return false
}

// redeliverLocked sends the event of e again, with retry_attempt one
// above the highest of its deliveries so far.
func (s *Server) redeliverLocked(e *envelope) *envelope {
	orig := e.Original
	if orig == "" {
		orig = e.ID
	}
	attempt := 0
	for _, x := range s.sock.envs {
		if x.ID == orig || x.Original == orig {
			attempt = max(attempt, x.RetryAttempt)
		}
	}
	r := &envelope{Envelope: e.Envelope}
	r.ID = uuidFor(s.nextID())
	r.Original = orig
	r.RetryAttempt = attempt + 1
	r.RetryReason = "timeout"
	r.CreatedAt, r.SentAt, r.AckedAt = time.Now(), time.Time{}, time.Time{}
	s.addEnvelopeLocked(r)
	return r
}

// Redeliver sends the envelope envelopeID again, as Slack does when an
// ack does not come in time: same type and payload (same event_id), a new
// envelope ID, retry_attempt one more than the highest so far,
// retry_reason "timeout". It works for acked envelopes too, and returns
// the new envelope's ID.
func (s *Server) Redeliver(envelopeID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.sock.byID[envelopeID]
	if e == nil {
		return "", fmt.Errorf("slacktest: no envelope %q", envelopeID)
	}
	return s.redeliverLocked(e).ID, nil
}

// Disconnect sends {"type":"disconnect","reason":reason} on every open
// connection, as Slack does before it rotates a connection; slack-go then
// closes the socket and reconnects through apps.connections.open. New
// envelopes wait for the next connection. An empty reason means
// "refresh_requested".
func (s *Server) Disconnect(reason string) {
	if reason == "" {
		reason = "refresh_requested"
	}
	frame, _ := json.Marshal(map[string]any{"type": "disconnect", "reason": reason, "debug_info": map[string]any{"host": "applink-fake"}})
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.sock.conns {
		if !c.retiring {
			c.retiring = true
			c.queue = append(c.queue, frame)
			wake(c)
		}
	}
	s.notifyLocked()
}

// DropConnections closes every Socket Mode connection without a word, as
// a network failure would. slack-go notices when a read fails and
// reconnects.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := append([]*wsConn(nil), s.sock.conns...)
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
}

// Connections is the number of open Socket Mode connections, not
// counting those told to disconnect that the client has not closed yet.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.liveConnsLocked()
}

// Dials is the number of Socket Mode connections accepted so far.
func (s *Server) Dials() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sock.dials
}

// WaitForConnection blocks until a Socket Mode connection is open or ctx
// ends. The connection's hello is queued before anything else, so an
// envelope sent afterwards reaches the client after its hello.
func (s *Server) WaitForConnection(ctx context.Context) error {
	return s.Wait(ctx, func() bool { return s.Connections() > 0 })
}

// Envelopes returns every envelope created, redeliveries included, in
// order.
func (s *Server) Envelopes() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Envelope, len(s.sock.envs))
	for i, e := range s.sock.envs {
		out[i] = e.Envelope
	}
	return out
}

// Acks returns every frame the client sent, in arrival order.
func (s *Server) Acks() []Ack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ack(nil), s.sock.acks...)
}

// WaitForAck blocks until envelopeID is acked and returns the first ack,
// or fails when ctx ends.
func (s *Server) WaitForAck(ctx context.Context, envelopeID string) (Ack, error) {
	var found Ack
	err := s.Wait(ctx, func() bool {
		for _, a := range s.Acks() {
			if a.EnvelopeID == envelopeID && a.Known {
				found = a
				return true
			}
		}
		return false
	})
	return found, err
}
