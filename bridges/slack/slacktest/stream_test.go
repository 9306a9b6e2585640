package slacktest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
)

func TestStream(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	dm := s.SendDM("U0ANN", "tell me")
	if err := api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{
		ChannelID: dm.Channel, ThreadTS: dm.TS, Status: "is typing…",
	}); err != nil {
		t.Fatal(err)
	}

	ch, ts, err := api.StartStreamContext(ctx, dm.Channel, slack.MsgOptionMarkdownText("Hel"), slack.MsgOptionTS(dm.TS))
	if err != nil || ch != dm.Channel || ts == "" {
		t.Fatalf("start = %q %q %v", ch, ts, err)
	}
	if got := s.CurrentStatus(dm.Channel, dm.TS); got != "" {
		t.Errorf("status after startStream = %q", got)
	}
	if _, _, err := api.AppendStreamContext(ctx, dm.Channel, ts, slack.MsgOptionMarkdownText("lo **wor")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.AppendStreamContext(ctx, dm.Channel, ts, slack.MsgOptionChunks(slack.NewMarkdownTextChunk("ld**"))); err != nil {
		t.Fatal(err)
	}
	m, _ := s.Message(dm.Channel, ts)
	if !m.Streamed || !m.Streaming || m.Text != "Hello **world**" || m.ThreadTS != dm.TS || len(m.Chunks) != 1 {
		t.Fatalf("while streaming: %+v", m)
	}
	if _, _, err := api.StopStreamContext(ctx, dm.Channel, ts, slack.MsgOptionMarkdownText("!")); err != nil {
		t.Fatal(err)
	}
	m, _ = s.Message(dm.Channel, ts)
	if m.Streaming || m.Text != "Hello **world**!" || strings.Join(m.Versions, "|") != "Hel|Hello **wor|Hello **world**|Hello **world**!" {
		t.Fatalf("stopped: %+v", m)
	}
	if got := s.ThreadMessages(dm.Channel, dm.TS); len(got) != 1 || got[0].TS != ts {
		t.Errorf("thread = %+v", got)
	}

	s.AddChannel(slacktest.Channel{ID: "C0GEN", Name: "general"})
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"append after stop", func() error {
			_, _, err := api.AppendStreamContext(ctx, dm.Channel, ts, slack.MsgOptionMarkdownText("x"))
			return err
		}, "message_not_in_streaming_state"},
		{"stop after stop", func() error {
			_, _, err := api.StopStreamContext(ctx, dm.Channel, ts)
			return err
		}, "message_not_in_streaming_state"},
		{"append to unknown ts", func() error {
			_, _, err := api.AppendStreamContext(ctx, dm.Channel, "1.000002", slack.MsgOptionMarkdownText("x"))
			return err
		}, "message_not_found"},
		{"stop unknown ts", func() error {
			_, _, err := api.StopStreamContext(ctx, dm.Channel, "1.000002")
			return err
		}, "message_not_found"},
		{"append to a plain message", func() error {
			_, plain, _ := api.PostMessageContext(ctx, dm.Channel, slack.MsgOptionText("plain", false))
			_, _, err := api.AppendStreamContext(ctx, dm.Channel, plain, slack.MsgOptionMarkdownText("x"))
			return err
		}, "message_not_in_streaming_state"},
		{"start in unknown channel", func() error {
			_, _, err := api.StartStreamContext(ctx, "C0NOPE", slack.MsgOptionMarkdownText("x"))
			return err
		}, "channel_not_found"},
		{"channel without recipient team", func() error {
			_, _, err := api.StartStreamContext(ctx, "C0GEN", slack.MsgOptionMarkdownText("x"), slack.MsgOptionTS(dm.TS))
			return err
		}, "missing_recipient_team_id"},
		{"channel without recipient user", func() error {
			_, _, err := api.StartStreamContext(ctx, "C0GEN", slack.MsgOptionMarkdownText("x"), slack.MsgOptionRecipientTeamID(slacktest.DefaultTeamID))
			return err
		}, "missing_recipient_user_id"},
		{"markdown over 12000", func() error {
			_, _, err := api.StartStreamContext(ctx, dm.Channel, slack.MsgOptionMarkdownText(strings.Repeat("x", 12001)))
			return err
		}, "msg_too_long"},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.call(), tc.code) })
	}

	t.Run("stop with chunks and blocks", func(t *testing.T) {
		_, sts, err := api.StartStreamContext(ctx, dm.Channel, slack.MsgOptionTS(dm.TS))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = api.StopStreamContext(ctx, dm.Channel, sts,
			slack.MsgOptionChunks(slack.NewMarkdownTextChunk("done"), slack.NewPlanUpdateChunk("plan")),
			slack.MsgOptionBlocks(slack.NewDividerBlock()))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := s.Message(dm.Channel, sts)
		if m.Streaming || m.Text != "done" || !strings.Contains(string(m.Blocks), "divider") || len(m.Chunks) != 1 {
			t.Errorf("stopped = %+v", m)
		}
		_, _, err = api.StartStreamContext(ctx, dm.Channel, slack.MsgOptionChunks(slack.MarkdownTextChunk{Type: "bogus"}))
		wantErr(t, err, "invalid_chunks")
	})
	t.Run("channel stream with recipients", func(t *testing.T) {
		_, cts, err := api.StartStreamContext(ctx, "C0GEN", slack.MsgOptionMarkdownText("x"),
			slack.MsgOptionRecipientTeamID(slacktest.DefaultTeamID), slack.MsgOptionRecipientUserID("U0ANN"))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = api.AppendStreamContext(ctx, "C0GEN", cts)
		wantErr(t, err, "invalid_arguments")
		_, _, err = api.AppendStreamContext(ctx, dm.Channel, cts, slack.MsgOptionMarkdownText("y"))
		wantErr(t, err, "message_not_found")
	})
}

func TestStream_Timeout(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{StreamTimeout: time.Nanosecond})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	dm := s.SendDM("U0ANN", "x")
	_, ts, err := api.StartStreamContext(ctx, dm.Channel, slack.MsgOptionMarkdownText("a"), slack.MsgOptionTS(dm.TS))
	if err != nil {
		t.Fatal(err)
	}
	// Any later call is more than a nanosecond later.
	_, _, err = api.AppendStreamContext(ctx, dm.Channel, ts, slack.MsgOptionMarkdownText("b"))
	wantErr(t, err, "message_not_in_streaming_state")
	if m, _ := s.Message(dm.Channel, ts); m.Streaming || m.Text != "a" {
		t.Errorf("expired stream = %+v", m)
	}
}
