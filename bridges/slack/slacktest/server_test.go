package slacktest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newAPI connects a slack-go client to s with its own transport, whose
// idle connections are closed when the test ends.
func newAPI(t *testing.T, s *slacktest.Server, token string) *slack.Client {
	t.Helper()
	return slack.New(token,
		slack.OptionAPIURL(s.APIURL()),
		slack.OptionAppLevelToken(s.AppToken()),
		slack.OptionHTTPClient(newAPIClient(t)),
	)
}

// newAPIClient is an HTTP client with a timeout (slack-go's default has
// none) and its own transport, closed when the test ends.
func newAPIClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantErr checks that err is Slack's {"ok":false,"error":code}.
func wantErr(t *testing.T, err error, code string) {
	t.Helper()
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != code {
		t.Fatalf("error = %v (%T), want Slack error %q", err, err, code)
	}
}

// rawCall posts a form (or a JSON body when jsonBody is set) to a method.
func rawCall(t *testing.T, s *slacktest.Server, method, bearer string, form url.Values, jsonBody string) (int, map[string]any) {
	t.Helper()
	var req *http.Request
	var err error
	if jsonBody != "" {
		req, err = http.NewRequest(http.MethodPost, s.APIURL()+method, strings.NewReader(jsonBody))
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	} else {
		req, err = http.NewRequest(http.MethodPost, s.APIURL()+method, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("%s: body %q: %v", method, data, err)
	}
	return resp.StatusCode, body
}

func TestAuth(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	ctx := ctxT(t)

	t.Run("auth.test", func(t *testing.T) {
		r, err := newAPI(t, s, s.BotToken()).AuthTestContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.UserID != slacktest.DefaultBotUserID || r.BotID != slacktest.DefaultBotID || r.TeamID != slacktest.DefaultTeamID {
			t.Errorf("auth.test = %+v", r)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		_, err := newAPI(t, s, "xoxb-wrong").AuthTestContext(ctx)
		wantErr(t, err, "invalid_auth")
	})
	t.Run("no token", func(t *testing.T) {
		code, body := rawCall(t, s, "auth.test", "", url.Values{}, "")
		if code != 200 || body["ok"] != false || body["error"] != "not_authed" {
			t.Errorf("got %d %v", code, body)
		}
	})
	t.Run("app token on a bot method", func(t *testing.T) {
		_, _, err := newAPI(t, s, s.AppToken()).PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false))
		wantErr(t, err, "not_allowed_token_type")
	})
	t.Run("bot token for apps.connections.open", func(t *testing.T) {
		api := slack.New(s.BotToken(), slack.OptionAPIURL(s.APIURL()), slack.OptionAppLevelToken(s.BotToken()),
			slack.OptionHTTPClient(newAPIClient(t)))
		_, _, err := api.StartSocketModeContext(ctx)
		wantErr(t, err, "not_allowed_token_type")
	})
	t.Run("JSON body with bearer", func(t *testing.T) {
		s.AddChannel(slacktest.Channel{ID: "C0JSON"})
		code, body := rawCall(t, s, "chat.postMessage", s.BotToken(), nil, `{"channel":"C0JSON","text":"hi","unfurl_links":false}`)
		if code != 200 || body["ok"] != true || body["channel"] != "C0JSON" {
			t.Fatalf("got %d %v", code, body)
		}
		m := s.Messages("C0JSON")
		if len(m) != 1 || m[0].UnfurlLinks == nil || *m[0].UnfurlLinks {
			t.Errorf("messages = %+v", m)
		}
	})
	t.Run("JSON body token is ignored", func(t *testing.T) {
		_, body := rawCall(t, s, "auth.test", "", nil, `{"token":"`+s.BotToken()+`"}`)
		if body["error"] != "not_authed" {
			t.Errorf("got %v", body)
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		_, body := rawCall(t, s, "chat.postMessages", s.BotToken(), url.Values{}, "")
		if body["error"] != "unknown_method" {
			t.Errorf("got %v", body)
		}
	})
	t.Run("calls are recorded without the token", func(t *testing.T) {
		calls := s.CallsTo("auth.test")
		if len(calls) < 3 {
			t.Fatalf("calls = %+v", calls)
		}
		for _, c := range calls {
			if _, has := c.Params["token"]; has {
				t.Errorf("token recorded: %+v", c)
			}
		}
		if !calls[0].OK || calls[1].OK || calls[1].Error != "invalid_auth" || calls[0].Status != 200 {
			t.Errorf("calls = %+v", calls[:2])
		}
	})
}

func TestPostMessage(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{MaxTextLen: 50})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	dm := s.SendDM("U0ANN", "hello bot")

	t.Run("thread reply with flags", func(t *testing.T) {
		ch, ts, err := api.PostMessageContext(ctx, dm.Channel,
			slack.MsgOptionText("*hi*", false), slack.MsgOptionTS(dm.TS), slack.MsgOptionDisableLinkUnfurl(), slack.MsgOptionDisableMediaUnfurl())
		if err != nil {
			t.Fatal(err)
		}
		if ch != dm.Channel || ts == "" {
			t.Fatalf("PostMessage = %q %q", ch, ts)
		}
		got := s.ThreadMessages(dm.Channel, dm.TS)
		if len(got) != 1 {
			t.Fatalf("thread = %+v", got)
		}
		m := got[0]
		if m.TS != ts || m.Text != "*hi*" || !m.Mrkdwn || m.User != slacktest.DefaultBotUserID || m.BotID != slacktest.DefaultBotID ||
			m.UnfurlLinks == nil || *m.UnfurlLinks || m.UnfurlMedia == nil || *m.UnfurlMedia || m.Streamed || m.Ephemeral {
			t.Errorf("message = %+v", m)
		}
	})
	t.Run("reply to a reply goes to the parent thread", func(t *testing.T) {
		_, first, _ := api.PostMessageContext(ctx, dm.Channel, slack.MsgOptionText("a", false), slack.MsgOptionTS(dm.TS))
		_, _, msg, err := api.PostMessageWithResponseContext(ctx, dm.Channel, slack.MsgOptionText("b", false), slack.MsgOptionTS(first))
		if err != nil || msg.ThreadTimestamp != dm.TS {
			t.Errorf("thread_ts = %q, %v; want %q", msg.ThreadTimestamp, err, dm.TS)
		}
	})
	t.Run("user ID as channel means the DM", func(t *testing.T) {
		ch, _, err := api.PostMessageContext(ctx, "U0ANN", slack.MsgOptionText("dm", false), slack.MsgOptionDisableMarkdown())
		if err != nil || ch != dm.Channel {
			t.Fatalf("PostMessage = %q, %v", ch, err)
		}
		all := s.Messages(dm.Channel)
		if last := all[len(all)-1]; last.Mrkdwn || last.ThreadTS != "" || last.UnfurlLinks != nil {
			t.Errorf("last = %+v", last)
		}
	})
	t.Run("blocks only", func(t *testing.T) {
		_, _, err := api.PostMessageContext(ctx, dm.Channel, slack.MsgOptionBlocks(slack.NewMarkdownBlock("", "**md**")))
		if err != nil {
			t.Fatal(err)
		}
		all := s.Messages(dm.Channel)
		if b := string(all[len(all)-1].Blocks); !strings.Contains(b, `"markdown"`) {
			t.Errorf("blocks = %s", b)
		}
	})

	s.AddChannel(slacktest.Channel{ID: "C0OUT", BotAbsent: true})
	long := strings.Repeat("é", 51)
	for _, tc := range []struct {
		name, channel string
		opts          []slack.MsgOption
		code          string
	}{
		{"unknown channel", "C0NOPE", []slack.MsgOption{slack.MsgOptionText("x", false)}, "channel_not_found"},
		{"bot not in channel", "C0OUT", []slack.MsgOption{slack.MsgOptionText("x", false)}, "not_in_channel"},
		{"no text", dm.Channel, nil, "no_text"},
		{"blank text", dm.Channel, []slack.MsgOption{slack.MsgOptionText(" \n", false)}, "no_text"},
		{"too long", dm.Channel, []slack.MsgOption{slack.MsgOptionText(long, false)}, "msg_too_long"},
		{"section too long", dm.Channel, []slack.MsgOption{slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("x", 3001), false, false), nil, nil))}, "invalid_blocks"},
		{"markdown blocks too long", dm.Channel, []slack.MsgOption{slack.MsgOptionBlocks(slack.NewMarkdownBlock("", strings.Repeat("x", 6001)), slack.NewMarkdownBlock("", strings.Repeat("x", 6000)))}, "msg_blocks_too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := api.PostMessageContext(ctx, tc.channel, tc.opts...)
			wantErr(t, err, tc.code)
		})
	}
	t.Run("limit counts characters", func(t *testing.T) {
		if _, _, err := api.PostMessageContext(ctx, dm.Channel, slack.MsgOptionText(long[2:], false)); err != nil {
			t.Errorf("50 characters: %v", err)
		}
	})
	t.Run("user messages are not listed", func(t *testing.T) {
		for _, m := range s.Messages(dm.Channel) {
			if m.User != slacktest.DefaultBotUserID {
				t.Errorf("listed %+v", m)
			}
		}
		if m, found := s.Message(dm.Channel, dm.TS); !found || m.Text != "hello bot" || m.User != "U0ANN" {
			t.Errorf("Message(user's) = %+v, %v", m, found)
		}
	})
}

func TestPostMessage_DefaultLimit(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	api := newAPI(t, s, s.BotToken())
	dm := s.SendDM("U0ANN", "hi")
	if _, _, err := api.PostMessageContext(ctxT(t), dm.Channel, slack.MsgOptionText(strings.Repeat("x", 40000), false)); err != nil {
		t.Errorf("40000 characters: %v", err)
	}
	_, _, err := api.PostMessageContext(ctxT(t), dm.Channel, slack.MsgOptionText(strings.Repeat("x", 40001), false))
	wantErr(t, err, "msg_too_long")
}

func TestUpdate(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	dm := s.SendDM("U0ANN", "question")
	_, ts, err := api.PostMessageContext(ctx, dm.Channel, slack.MsgOptionText("thinking", false))
	if err != nil {
		t.Fatal(err)
	}
	ch, gotTS, text, err := api.UpdateMessageContext(ctx, dm.Channel, ts, slack.MsgOptionText("answer", false))
	if err != nil || ch != dm.Channel || gotTS != ts || text != "answer" {
		t.Fatalf("update = %q %q %q %v", ch, gotTS, text, err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, dm.Channel, ts, slack.MsgOptionText("answer!", false)); err != nil {
		t.Fatal(err)
	}
	m, _ := s.Message(dm.Channel, ts)
	if m.Text != "answer!" || m.Edits != 2 || strings.Join(m.Versions, "|") != "thinking|answer|answer!" || m.EditedAt.IsZero() {
		t.Errorf("message = %+v", m)
	}

	eph, err := api.PostEphemeralContext(ctx, dm.Channel, "U0ANN", slack.MsgOptionText("only you", false))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, channel, ts string
		opts              []slack.MsgOption
		code              string
	}{
		{"unknown ts", dm.Channel, "1.000001", []slack.MsgOption{slack.MsgOptionText("x", false)}, "message_not_found"},
		{"wrong channel", "C0NOPE", ts, []slack.MsgOption{slack.MsgOptionText("x", false)}, "channel_not_found"},
		{"user's message", dm.Channel, dm.TS, []slack.MsgOption{slack.MsgOptionText("x", false)}, "cant_update_message"},
		{"ephemeral", dm.Channel, eph, []slack.MsgOption{slack.MsgOptionText("x", false)}, "message_not_found"},
		{"no text", dm.Channel, ts, []slack.MsgOption{slack.MsgOptionText("", false)}, "no_text"},
		{"too long", dm.Channel, ts, []slack.MsgOption{slack.MsgOptionText(strings.Repeat("x", 40001), false)}, "msg_too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := api.UpdateMessageContext(ctx, tc.channel, tc.ts, tc.opts...)
			wantErr(t, err, tc.code)
		})
	}

	t.Run("ephemeral is listed with its flag", func(t *testing.T) {
		all := s.Messages(dm.Channel)
		last := all[len(all)-1]
		if !last.Ephemeral || last.EphemeralUser != "U0ANN" || last.TS != eph {
			t.Errorf("last = %+v", last)
		}
		_, err := api.PostEphemeralContext(ctx, dm.Channel, "U0BOB", slack.MsgOptionText("x", false))
		wantErr(t, err, "user_not_in_channel")
	})
	t.Run("delete", func(t *testing.T) {
		if _, _, err := api.DeleteMessageContext(ctx, dm.Channel, ts); err != nil {
			t.Fatal(err)
		}
		if _, found := s.Message(dm.Channel, ts); found {
			t.Error("deleted message still there")
		}
		_, _, err := api.DeleteMessageContext(ctx, dm.Channel, dm.TS)
		wantErr(t, err, "cant_delete_message")
	})
}

func TestConversationsAndUsers(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	s.AddUser(slacktest.User{ID: "U0ANN", Name: "ann", RealName: "Ann A."})

	ch, noOp, already, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U0ANN"}})
	if err != nil || ch.ID != slacktest.DMChannel("U0ANN") || noOp || already {
		t.Fatalf("open = %+v %v %v %v", ch, noOp, already, err)
	}
	_, _, _, err = api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U0NOBODY"}})
	wantErr(t, err, "user_not_found")
	_, _, _, err = api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U0ANN", "U0BOB"}})
	wantErr(t, err, "method_not_supported_for_channel_type")
	ch, _, already, err = api.OpenConversationContext(ctx, &slack.OpenConversationParameters{ChannelID: ch.ID})
	if err != nil || ch.ID != slacktest.DMChannel("U0ANN") || !already {
		t.Errorf("open by channel = %+v %v %v", ch, already, err)
	}

	u, err := api.GetUserInfoContext(ctx, "U0ANN")
	if err != nil || u.Name != "ann" || u.RealName != "Ann A." || u.IsBot || u.TeamID != slacktest.DefaultTeamID {
		t.Fatalf("users.info = %+v, %v", u, err)
	}
	bot, err := api.GetUserInfoContext(ctx, slacktest.DefaultBotUserID)
	if err != nil || !bot.IsBot || bot.Profile.BotID != slacktest.DefaultBotID {
		t.Fatalf("users.info(bot) = %+v, %v", bot, err)
	}
	_, err = api.GetUserInfoContext(ctx, "U0NOBODY")
	wantErr(t, err, "user_not_found")
}

func TestAssistantStatus(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	dm := s.SendDM("U0ANN", "hi")

	err := api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{
		ChannelID: dm.Channel, ThreadTS: dm.TS, Status: "is thinking…", LoadingMessages: []string{"Reading", "Writing"},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := s.Statuses()
	if len(st) != 1 || st[0].Status != "is thinking…" || st[0].ThreadTS != dm.TS || strings.Join(st[0].LoadingMessages, "|") != "Reading|Writing" {
		t.Fatalf("statuses = %+v", st)
	}
	if got := s.CurrentStatus(dm.Channel, dm.TS); got != "is thinking…" {
		t.Errorf("current = %q", got)
	}
	if _, _, err := api.PostMessageContext(ctx, dm.Channel, slack.MsgOptionText("done", false), slack.MsgOptionTS(dm.TS)); err != nil {
		t.Fatal(err)
	}
	if got := s.CurrentStatus(dm.Channel, dm.TS); got != "" {
		t.Errorf("status after the reply = %q", got)
	}
	err = api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{ChannelID: "C0NOPE", ThreadTS: dm.TS, Status: "x"})
	wantErr(t, err, "channel_not_found")
	err = api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{ChannelID: dm.Channel, Status: "x"})
	wantErr(t, err, "invalid_arguments")
}
