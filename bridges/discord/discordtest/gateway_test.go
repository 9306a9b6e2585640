package discordtest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"github.com/gorilla/websocket"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
)

// The resume tests use a long heartbeat interval and break the connection
// only after the first heartbeat: discordgo's heartbeat goroutine, when it
// wakes during Close's one-second sleep, fails its write on the old
// connection and then closes the new one (code 1000, which ends the
// session) and starts a second reconnect loop that can outlive the
// session. That is a discordgo race, not the fake's.
func TestServer_Resume(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{HeartbeatInterval: time.Minute})
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	dg.ShouldReconnectOnError = true
	got := make(chan *discordgo.MessageCreate, 4)
	dg.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { got <- m })
	open(t, dg)
	waitFor(t, "first heartbeat", func() bool { return fake.Heartbeats() > 0 })

	// One session, broken three ways in turn; each time discordgo resumes.
	for i, tc := range []struct {
		name   string
		break_ func(*discordtest.Server)
		replay int // events sent while away
	}{
		{"dropped", (*discordtest.Server).DropConnection, 1},
		{"closed 4000", func(f *discordtest.Server) { f.Disconnect(4000) }, 1},
		{"op 7", (*discordtest.Server).RequestReconnect, 0},
	} {
		beats := fake.Heartbeats()
		tc.break_(fake)
		text := tc.name
		if tc.replay > 0 {
			fake.SendDM(alice, text) // waits in the session for the RESUME
		}
		waitFor(t, tc.name+": RESUME", func() bool { return len(fake.Resumes()) == i+1 })
		if tc.replay == 0 {
			fake.SendDM(alice, text)
		}
		if m := receive(t, got, tc.name+": message"); m.Content != text {
			t.Errorf("%s: got %q", tc.name, m.Content)
		}
		// Let the new heartbeat goroutine make its first beat.
		waitFor(t, tc.name+": heartbeat", func() bool { return fake.Heartbeats() > beats })
		r := fake.Resumes()[i]
		if !r.OK || r.SessionID != fake.Identifies()[0].SessionID || r.Replayed != tc.replay {
			t.Errorf("%s: Resume = %+v", tc.name, r)
		}
	}
	if len(fake.Identifies()) != 1 || fake.Connections() != 4 {
		t.Errorf("Identifies = %d, Connections = %d", len(fake.Identifies()), fake.Connections())
	}
}

func TestServer_ResumeRefused(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{HeartbeatInterval: time.Minute})
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	dg.ShouldReconnectOnError = true
	readies := make(chan *discordgo.Ready, 2)
	dg.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) { readies <- r })
	open(t, dg)
	first := receive(t, readies, "first READY")
	waitFor(t, "first heartbeat", func() bool { return fake.Heartbeats() > 0 })
	fake.ExpireSessions()
	fake.DropConnection()
	second := receive(t, readies, "READY after op 9")
	if second.SessionID == first.SessionID {
		t.Errorf("same session after op 9")
	}
	waitFor(t, "a heartbeat on the new connection", func() bool { return fake.Heartbeats() >= 2 })
	if rs := fake.Resumes(); len(rs) != 1 || rs[0].OK {
		t.Errorf("Resumes = %+v", rs)
	}
	if len(fake.Identifies()) != 2 {
		t.Errorf("Identifies = %d", len(fake.Identifies()))
	}
}

// gatewayEvents collects what the session's handlers receive. The
// channels are large so that SyncEvents handlers never block.
type gatewayEvents struct {
	ready    chan *discordgo.Ready
	messages chan *discordgo.MessageCreate
	inter    chan *discordgo.InteractionCreate
}

// TestServer_Gateway drives one discordgo session (each costs a second
// in Close) through the handshake, user messages and interactions.
func TestServer_Gateway(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{HeartbeatInterval: 20 * time.Millisecond})
	dg := newSession(t, fake, fake.Token(), defaultIntents) // no MESSAGE_CONTENT
	ev := &gatewayEvents{
		ready:    make(chan *discordgo.Ready, 4),
		messages: make(chan *discordgo.MessageCreate, 1024),
		inter:    make(chan *discordgo.InteractionCreate, 1024),
	}
	dg.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) { ev.ready <- r })
	dg.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { ev.messages <- m })
	dg.AddHandler(func(_ *discordgo.Session, i *discordgo.InteractionCreate) { ev.inter <- i })
	open(t, dg)
	t.Run("handshake", func(t *testing.T) { testHandshake(t, fake, dg, ev) })
	t.Run("user messages", func(t *testing.T) { testUserMessages(t, fake, dg, ev) })
	t.Run("interactions", func(t *testing.T) { testInteractions(t, fake, dg, ev) })
}

func testHandshake(t *testing.T, fake *discordtest.Server, dg *discordgo.Session, ev *gatewayEvents) {
	r := receive(t, ev.ready, "READY")
	if r.User.ID != fake.Bot().ID || !r.User.Bot || r.Application.ID != fake.ApplicationID() || r.SessionID == "" {
		t.Errorf("READY = user %+v app %+v session %q", r.User, r.Application, r.SessionID)
	}
	if dg.State.User.ID != fake.Bot().ID {
		t.Errorf("State.User = %+v", dg.State.User)
	}
	ids := fake.Identifies()
	if len(ids) != 1 || ids[0].Intents != int(defaultIntents) || ids[0].Token != "Bot "+fake.Token() ||
		ids[0].SessionID != r.SessionID || !ids[0].Compress || ids[0].Properties["$browser"] == "" {
		t.Errorf("Identifies = %+v", ids)
	}
	waitFor(t, "3 heartbeats", func() bool { return fake.Heartbeats() >= 3 })
	if !fake.Connected() || fake.Connections() != 1 {
		t.Errorf("Connected = %v, Connections = %d", fake.Connected(), fake.Connections())
	}
	gw := fake.CallsTo(discordtest.RouteGateway)
	if len(gw) != 1 || gw[0].Status != 200 || gw[0].Version != 9 || gw[0].Path != "/api/v9/gateway" {
		t.Errorf("gateway calls = %+v", gw)
	}
	if evs := fake.Events(); len(evs) == 0 || evs[0].Type != "READY" || evs[0].Seq != 1 || !evs[0].Delivered {
		t.Errorf("Events = %+v", evs)
	}
}

func TestServer_GatewayRefusesIdentify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		opts    discordtest.Options
		token   string
		intents discordgo.Intent
		code    int
	}{
		{"wrong token", discordtest.Options{}, "nope", defaultIntents, 4004},
		{"disallowed intent", discordtest.Options{DisallowedIntents: discordtest.IntentMessageContent}, "",
			defaultIntents | discordgo.IntentsMessageContent, 4014},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t, tc.opts)
			token := tc.token
			if token == "" {
				token = fake.Token()
			}
			dg := newSession(t, fake, token, tc.intents)
			err := dg.Open()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != tc.code {
				t.Fatalf("Open = %v, want close %d", err, tc.code)
			}
			if ids := fake.Identifies(); len(ids) != 1 || ids[0].CloseCode != tc.code {
				t.Errorf("Identifies = %+v", ids)
			}
		})
	}
}

func testUserMessages(t *testing.T, fake *discordtest.Server, dg *discordgo.Session, ev *gatewayEvents) {
	got := ev.messages
	fake.SendDM(alice, "hello bot")
	m := receive(t, got, "DM")
	if m.GuildID != "" || m.Content != "hello bot" || m.Author.ID != alice.ID || m.ChannelID != fake.DM(alice).ID {
		t.Errorf("DM = %+v", m.Message)
	}

	fake.SendGuildMessage("500", "600", bob, "chatter", false)
	m = receive(t, got, "guild message")
	if m.GuildID != "500" || m.ChannelID != "600" || m.Content != "" {
		t.Errorf("guild message without MESSAGE_CONTENT = %+v", m.Message)
	}
	if _, err := dg.State.Channel("600"); err != nil {
		t.Errorf("GUILD_CREATE did not reach the state: %v", err)
	}

	fake.SendGuildMessage("500", "600", bob, "hi", true)
	m = receive(t, got, "mention")
	want := "<@" + fake.Bot().ID + "> hi"
	if m.Content != want || len(m.Mentions) != 1 || m.Mentions[0].ID != fake.Bot().ID {
		t.Errorf("mention = %q %+v", m.Content, m.Mentions)
	}

	sent, err := dg.ChannelMessageSend(fake.DM(alice).ID, "reply")
	if err != nil {
		t.Fatal(err)
	}
	m = receive(t, got, "echo of the bot's message")
	if m.ID != sent.ID || m.Author.ID != fake.Bot().ID || !m.Author.Bot {
		t.Errorf("echo = %+v", m.Message)
	}

	var dm discordtest.Event
	for _, ev := range fake.Events() {
		if ev.Type == "MESSAGE_CREATE" && strings.Contains(string(ev.Data), "hello bot") {
			dm = ev
		}
	}
	fake.Resend(dm)
	m = receive(t, got, "redelivered DM")
	if m.Content != "hello bot" {
		t.Errorf("redelivered = %+v", m.Message)
	}
}

// rawGateway is a bare websocket client, for what discordgo cannot be
// made to send.
type rawGateway struct {
	t *testing.T
	c *websocket.Conn
}

// dialGateway connects with query and reads HELLO (unless the fake
// closes first, which read then reports).
func dialGateway(t *testing.T, fake *discordtest.Server, query string) *rawGateway {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(fake.GatewayURL()+"/"+query, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = c.Close() })
	return &rawGateway{t: t, c: c}
}

func (g *rawGateway) send(v any) {
	g.t.Helper()
	if err := g.c.WriteJSON(v); err != nil {
		g.t.Fatal(err)
	}
}

// read returns the next payload, or the close code the fake sent.
func (g *rawGateway) read() (map[string]any, int) {
	g.t.Helper()
	_ = g.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := g.c.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return nil, ce.Code
		}
		g.t.Fatalf("read: %v", err)
	}
	var p map[string]any
	if err := json.Unmarshal(data, &p); err != nil {
		g.t.Fatalf("payload %s: %v", data, err)
	}
	return p, 0
}

func (g *rawGateway) expect(op int, typ string) map[string]any {
	g.t.Helper()
	p, code := g.read()
	if code != 0 || p["op"] != float64(op) || (typ != "" && p["t"] != typ) {
		g.t.Fatalf("got %v (close %d), want op %d %s", p, code, op, typ)
	}
	return p
}

func (g *rawGateway) expectClose(code int) {
	g.t.Helper()
	for {
		p, got := g.read()
		if got == code {
			return
		}
		if got != 0 || p == nil {
			g.t.Fatalf("close %d, want %d", got, code)
		}
	}
}

func (g *rawGateway) identify(token string, intents int) map[string]any {
	g.t.Helper()
	g.send(map[string]any{"op": 2, "d": map[string]any{"token": token, "intents": intents,
		"properties": map[string]string{"os": "linux"}}})
	return g.expect(0, "READY")["d"].(map[string]any)
}

func TestServer_RawGateway(t *testing.T) {
	t.Parallel()
	const dmOnly = discordtest.IntentDirectMessages

	t.Run("ready, pending events, heartbeat", func(t *testing.T) {
		fake := newFake(t, discordtest.Options{HeartbeatInterval: 1234 * time.Millisecond})
		fake.AddChannel(discordtest.Channel{ID: "600", GuildID: "500"})
		fake.SendDM(alice, "sent before anyone connected")
		g := dialGateway(t, fake, "?v=10&encoding=json")
		hello, _ := g.read()
		if d := hello["d"].(map[string]any); hello["op"] != 10.0 || d["heartbeat_interval"] != 1234.0 {
			t.Fatalf("HELLO = %v", hello)
		}
		ready := g.identify(fake.Token(), discordtest.IntentGuilds|dmOnly)
		if ready["resume_gateway_url"] != fake.GatewayURL() || ready["v"] != 10.0 || ready["session_id"] == "" {
			t.Errorf("READY = %v", ready)
		}
		g.expect(0, "GUILD_CREATE")
		msg := g.expect(0, "MESSAGE_CREATE")
		if d := msg["d"].(map[string]any); d["content"] != "sent before anyone connected" || msg["s"] != 3.0 {
			t.Errorf("pending MESSAGE_CREATE = %v", msg)
		}
		g.send(map[string]any{"op": 1, "d": 3})
		g.expect(11, "")
		// Without GUILD_MESSAGES, guild messages are not sent at all.
		fake.SendGuildMessage("500", "600", bob, "not for you", true)
		fake.SendDM(alice, "for you")
		if d := g.expect(0, "MESSAGE_CREATE")["d"].(map[string]any); d["content"] != "for you" {
			t.Errorf("got %v", d)
		}
	})

	for _, tc := range []struct {
		name  string
		query string
		send  []any
		code  int
	}{
		{"not authenticated", "", []any{map[string]any{"op": 3, "d": map[string]any{}}}, 4003},
		{"decode error", "", []any{"not a payload"}, 4002},
		{"unknown opcode", "", []any{map[string]any{"op": 99}}, 4001},
		{"missing intents", "", []any{map[string]any{"op": 2, "d": map[string]any{"token": discordtest.DefaultToken}}}, 4013},
		{"identify twice", "", []any{
			map[string]any{"op": 2, "d": map[string]any{"token": discordtest.DefaultToken, "intents": 0}},
			map[string]any{"op": 2, "d": map[string]any{"token": discordtest.DefaultToken, "intents": 0}},
		}, 4005},
		{"bad version", "?v=8&encoding=json", nil, 4012},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t, discordtest.Options{})
			g := dialGateway(t, fake, tc.query)
			for _, v := range tc.send {
				g.send(v)
			}
			g.expectClose(tc.code)
		})
	}

	t.Run("resume refused with op 9", func(t *testing.T) {
		fake := newFake(t, discordtest.Options{})
		g := dialGateway(t, fake, "?v=9&encoding=json")
		g.expect(10, "")
		g.send(map[string]any{"op": 6, "d": map[string]any{"token": "Bot " + fake.Token(), "session_id": "nope", "seq": 1}})
		if p := g.expect(9, ""); p["d"] != false {
			t.Errorf("op 9 = %v", p)
		}
		g.identify("Bot "+fake.Token(), dmOnly) // the same connection may IDENTIFY now
	})

	t.Run("interaction deadline", func(t *testing.T) {
		fake := newFake(t, discordtest.Options{InteractionDeadline: time.Nanosecond})
		g := dialGateway(t, fake, "")
		g.expect(10, "")
		g.identify(fake.Token(), dmOnly)
		in := fake.SendInteraction(alice, fake.DM(alice).ID, "ask")
		g.expect(0, "INTERACTION_CREATE")
		resp, body := raw(t, fake, "POST", "/api/v10/interactions/"+in.ID+"/"+in.Token+"/callback", map[string]any{"type": 5}, false)
		if resp.StatusCode != 404 || body["code"] != 10062.0 {
			t.Errorf("late callback = %d %v", resp.StatusCode, body)
		}
	})

	t.Run("interaction token expiry", func(t *testing.T) {
		fake := newFake(t, discordtest.Options{InteractionTokenTTL: time.Nanosecond})
		g := dialGateway(t, fake, "")
		g.expect(10, "")
		g.identify(fake.Token(), dmOnly)
		in := fake.SendInteraction(alice, fake.DM(alice).ID, "ask")
		resp, _ := raw(t, fake, "POST", "/api/v10/interactions/"+in.ID+"/"+in.Token+"/callback?with_response=true",
			map[string]any{"type": 4, "data": map[string]any{"content": "hi"}}, false)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("callback = %d", resp.StatusCode)
		}
		resp, body := raw(t, fake, "PATCH", "/api/v10/webhooks/"+fake.ApplicationID()+"/"+in.Token+"/messages/@original",
			map[string]any{"content": "late"}, false)
		if resp.StatusCode != 401 || body["code"] != 50027.0 || !strings.Contains(body["message"].(string), "Invalid Webhook Token") {
			t.Errorf("expired token = %d %v", resp.StatusCode, body)
		}
	})
}
