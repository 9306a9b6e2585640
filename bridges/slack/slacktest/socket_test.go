package slacktest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
)

// The fake pings every serverPing, well within the client's watchdog
// interval clientPing.
const (
	serverPing = 20 * time.Millisecond
	clientPing = 2 * time.Second
)

// runSocket starts a Socket Mode client and, when the test ends, cancels
// it and waits for RunContext to return, so no goroutine outlives the
// test. The returned channel gets RunContext's error.
func runSocket(t *testing.T, api *slack.Client, opts ...socketmode.Option) (*socketmode.Client, <-chan error) {
	t.Helper()
	sm := socketmode.New(api, append([]socketmode.Option{socketmode.OptionPingInterval(clientPing)}, opts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- sm.RunContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("RunContext did not return after cancel")
		}
	})
	return sm, done
}

// next returns the next client event of type typ, skipping others.
func next(t *testing.T, sm *socketmode.Client, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-sm.Events:
			if ev.Type == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

func newSocketFake(t *testing.T, opts slacktest.Options) (*slacktest.Server, *slack.Client) {
	t.Helper()
	if opts.PingInterval == 0 {
		opts.PingInterval = serverPing
	}
	s := slacktest.New(t, opts)
	return s, newAPI(t, s, s.BotToken())
}

func TestSocketMode_DM(t *testing.T) {
	s, api := newSocketFake(t, slacktest.Options{})
	sm, _ := runSocket(t, api)

	hello := next(t, sm, socketmode.EventTypeHello)
	if hello.Request.NumConnections != 1 || hello.Request.ConnectionInfo.AppID != slacktest.DefaultAppID {
		t.Errorf("hello = %+v", hello.Request)
	}
	if err := s.WaitForConnection(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sent := s.SendDM("U0ANN", "hi bot")
	ev := next(t, sm, socketmode.EventTypeEventsAPI)
	api2, _ := ev.Data.(slackevents.EventsAPIEvent)
	msg, _ := api2.InnerEvent.Data.(*slackevents.MessageEvent)
	cb, _ := api2.Data.(*slackevents.EventsAPICallbackEvent)
	if ev.Request.EnvelopeID != sent.EnvelopeID || cb == nil || cb.EventID != sent.EventID || msg == nil ||
		msg.ChannelType != "im" || msg.Channel != sent.Channel || msg.User != "U0ANN" || msg.Text != "hi bot" ||
		msg.TimeStamp != sent.TS || msg.ClientMsgID == "" || msg.BotID != "" || msg.SubType != "" || ev.Request.RetryAttempt != 0 {
		t.Fatalf("event = %+v / %+v / %+v", ev.Request, cb, msg)
	}
	if err := sm.Ack(*ev.Request); err != nil {
		t.Fatal(err)
	}
	ack, err := s.WaitForAck(ctxT(t), sent.EnvelopeID)
	if err != nil || ack.Payload != nil {
		t.Fatalf("ack = %+v, %v", ack, err)
	}
	env := s.Envelopes()
	if len(env) != 1 || env[0].AckedAt.IsZero() || env[0].SentAt.IsZero() || env[0].Type != "events_api" || env[0].EventID != sent.EventID {
		t.Errorf("envelopes = %+v", env)
	}

	t.Run("unknown ack", func(t *testing.T) {
		if err := sm.Ack(socketmode.Request{EnvelopeID: "bogus"}); err != nil {
			t.Fatal(err)
		}
		err := s.Wait(ctxT(t), func() bool {
			a := s.Acks()
			return len(a) == 2 && a[1].EnvelopeID == "bogus" && !a[1].Known
		})
		if err != nil {
			t.Fatalf("acks = %+v: %v", s.Acks(), err)
		}
	})
	t.Run("thread reply", func(t *testing.T) {
		r := s.SendDMInThread("U0ANN", "more", sent.TS)
		msg := next(t, sm, socketmode.EventTypeEventsAPI).Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.MessageEvent)
		if msg.ThreadTimeStamp != sent.TS || r.ThreadTS != sent.TS || msg.TimeStamp != r.TS {
			t.Errorf("thread event = %+v", msg)
		}
	})
	t.Run("mention", func(t *testing.T) {
		r := s.SendMention("C0GEN", "U0BOB", "what's up?", "")
		ev := next(t, sm, socketmode.EventTypeEventsAPI)
		m, _ := ev.Data.(slackevents.EventsAPIEvent).InnerEvent.Data.(*slackevents.AppMentionEvent)
		if m == nil || m.Channel != "C0GEN" || m.User != "U0BOB" || m.Text != "<@"+slacktest.DefaultBotUserID+"> what's up?" || m.TimeStamp != r.TS {
			t.Fatalf("mention = %+v", m)
		}
		// The bot may answer in the channel the mention came from.
		if _, _, err := api.PostMessageContext(ctxT(t), "C0GEN", slack.MsgOptionText("hi", false), slack.MsgOptionTS(r.TS)); err != nil {
			t.Error(err)
		}
	})
}

func TestSocketMode_SlashCommandAndAction(t *testing.T) {
	s, api := newSocketFake(t, slacktest.Options{})
	sm, _ := runSocket(t, api)
	s.AddChannel(slacktest.Channel{ID: "C0GEN", Name: "general"})

	sent := s.SendSlashCommand("U0ANN", "C0GEN", "/ask", "why?")
	ev := next(t, sm, socketmode.EventTypeSlashCommand)
	cmd, _ := ev.Data.(slack.SlashCommand)
	if cmd.Command != "/ask" || cmd.Text != "why?" || cmd.UserID != "U0ANN" || cmd.ChannelID != "C0GEN" || cmd.ChannelName != "general" ||
		cmd.ResponseURL != sent.ResponseURL || cmd.TriggerID != sent.TriggerID || !ev.Request.AcceptsResponsePayload || cmd.TeamID != slacktest.DefaultTeamID {
		t.Fatalf("command = %+v", cmd)
	}
	if err := sm.Ack(*ev.Request, map[string]any{"response_type": "ephemeral", "text": "working…"}); err != nil {
		t.Fatal(err)
	}
	ack, err := s.WaitForAck(ctxT(t), sent.EnvelopeID)
	var p map[string]string
	if err != nil || json.Unmarshal(ack.Payload, &p) != nil || p["text"] != "working…" {
		t.Fatalf("ack = %s, %v", ack.Payload, err)
	}

	_, ts, _ := api.PostMessageContext(ctxT(t), "C0GEN", slack.MsgOptionText("pick", false))
	act := s.SendBlockAction("U0ANN", "C0GEN", ts, "retry", "42")
	ev = next(t, sm, socketmode.EventTypeInteractive)
	cb, _ := ev.Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) != 1 ||
		cb.ActionCallback.BlockActions[0].ActionID != "retry" || cb.ActionCallback.BlockActions[0].Value != "42" ||
		cb.Channel.ID != "C0GEN" || cb.User.ID != "U0ANN" || cb.Message.Text != "pick" || cb.Container.MessageTs != ts || cb.ResponseURL != act.ResponseURL {
		t.Fatalf("interaction = %+v", cb)
	}
	_ = sm.Ack(*ev.Request)
	if _, err := s.WaitForAck(ctxT(t), act.EnvelopeID); err != nil {
		t.Fatal(err)
	}
}

func TestSocketMode_Redelivery(t *testing.T) {
	t.Run("Redeliver", func(t *testing.T) {
		s, api := newSocketFake(t, slacktest.Options{})
		sm, _ := runSocket(t, api)
		sent := s.SendDM("U0ANN", "hi")
		first := next(t, sm, socketmode.EventTypeEventsAPI)
		id, err := s.Redeliver(sent.EnvelopeID)
		if err != nil {
			t.Fatal(err)
		}
		again := next(t, sm, socketmode.EventTypeEventsAPI)
		cb1 := first.Data.(slackevents.EventsAPIEvent).Data.(*slackevents.EventsAPICallbackEvent)
		cb2 := again.Data.(slackevents.EventsAPIEvent).Data.(*slackevents.EventsAPICallbackEvent)
		if again.Request.EnvelopeID != id || id == sent.EnvelopeID || again.Request.RetryAttempt != 1 || again.Request.RetryReason != "timeout" || cb1.EventID != cb2.EventID {
			t.Fatalf("redelivery = %+v (%s vs %s)", again.Request, cb1.EventID, cb2.EventID)
		}
		if _, err := s.Redeliver("nope"); err == nil {
			t.Error("Redeliver of an unknown envelope worked")
		}
	})
	t.Run("automatic", func(t *testing.T) {
		s, api := newSocketFake(t, slacktest.Options{RedeliverAfter: 20 * time.Millisecond, MaxRetries: 2})
		sm, _ := runSocket(t, api)
		sent := s.SendDM("U0ANN", "hi")
		for want := range 3 {
			ev := next(t, sm, socketmode.EventTypeEventsAPI)
			if ev.Request.RetryAttempt != want {
				t.Fatalf("attempt = %d, want %d", ev.Request.RetryAttempt, want)
			}
		}
		// The last retry arms no timer: the set is complete.
		env := s.Envelopes()
		if len(env) != 3 || env[1].Original != sent.EnvelopeID || env[2].Original != sent.EnvelopeID || env[2].EventID != sent.EventID {
			t.Errorf("envelopes = %+v", env)
		}
	})
	t.Run("queued until a connection opens", func(t *testing.T) {
		s, api := newSocketFake(t, slacktest.Options{})
		sent := s.SendDM("U0ANN", "early bird")
		if env := s.Envelopes(); len(env) != 1 || !env[0].SentAt.IsZero() {
			t.Fatalf("envelopes = %+v", env)
		}
		sm, _ := runSocket(t, api)
		next(t, sm, socketmode.EventTypeHello)
		ev := next(t, sm, socketmode.EventTypeEventsAPI)
		if ev.Request.EnvelopeID != sent.EnvelopeID {
			t.Errorf("got %+v", ev.Request)
		}
	})
}

func TestSocketMode_Reconnect(t *testing.T) {
	ctx := ctxT(t)
	t.Run("disconnect message", func(t *testing.T) {
		s, api := newSocketFake(t, slacktest.Options{})
		sm, _ := runSocket(t, api)
		next(t, sm, socketmode.EventTypeHello)
		s.Disconnect("")
		if err := s.Wait(ctx, func() bool { return s.Dials() == 2 && s.Connections() == 1 }); err != nil {
			t.Fatalf("dials %d, connections %d: %v", s.Dials(), s.Connections(), err)
		}
		if n := len(s.CallsTo("apps.connections.open")); n != 2 {
			t.Errorf("apps.connections.open calls = %d", n)
		}
		sent := s.SendDM("U0ANN", "after the refresh")
		ev := next(t, sm, socketmode.EventTypeEventsAPI)
		_ = sm.Ack(*ev.Request)
		if _, err := s.WaitForAck(ctx, sent.EnvelopeID); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		s, api := newSocketFake(t, slacktest.Options{})
		sm, _ := runSocket(t, api)
		next(t, sm, socketmode.EventTypeHello)
		s.DropConnections()
		next(t, sm, socketmode.EventTypeHello)
		if s.Dials() != 2 {
			t.Errorf("dials = %d", s.Dials())
		}
	})
	t.Run("no pings", func(t *testing.T) {
		s, api := newSocketFake(t, slacktest.Options{PingInterval: -1})
		sm, _ := runSocket(t, api, socketmode.OptionPingInterval(50*time.Millisecond))
		next(t, sm, socketmode.EventTypeHello)
		next(t, sm, socketmode.EventTypeHello) // the watchdog gave up and reconnected
		if s.Dials() < 2 {
			t.Errorf("dials = %d", s.Dials())
		}
	})
	t.Run("tickets work once", func(t *testing.T) {
		s := slacktest.New(t, slacktest.Options{})
		info, wsURL, err := newAPI(t, s, s.BotToken()).StartSocketModeContext(ctx)
		if err != nil || info.URL != wsURL || !strings.HasPrefix(wsURL, "ws://127.0.0.1:") {
			t.Fatalf("open = %q, %v", wsURL, err)
		}
		hdr := http.Header{"Origin": {"https://api.slack.com"}}
		c, _, err := websocket.DefaultDialer.DialContext(ctx, wsURL, hdr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var hello map[string]any
		if err := c.ReadJSON(&hello); err != nil || hello["type"] != "hello" {
			t.Fatalf("hello = %v, %v", hello, err)
		}
		_, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, hdr)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("second dial: %v %v", resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	})
	t.Run("invalid app token is fatal", func(t *testing.T) {
		s := slacktest.New(t, slacktest.Options{PingInterval: serverPing})
		api := slack.New(s.BotToken(), slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken("xapp-wrong"),
			slack.OptionHTTPClient(newAPIClient(t)))
		_, done := runSocket(t, api)
		select {
		case err := <-done:
			if err == nil || err.Error() != "invalid_auth" {
				t.Errorf("RunContext = %v", err)
			}
		case <-ctx.Done():
			t.Fatal("RunContext kept running")
		}
	})
}
