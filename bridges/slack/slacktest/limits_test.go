package slacktest_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
)

// wantRateLimited checks that err is slack-go's *RateLimitedError with
// the given Retry-After.
func wantRateLimited(t *testing.T, err error, retryAfter time.Duration) {
	t.Helper()
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != retryAfter {
		t.Fatalf("error = %v (%T), want RateLimitedError{%v}", err, err, retryAfter)
	}
}

func TestRateLimit_PerChannel(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{ChannelLimits: map[string]slacktest.Limit{
		"chat.postMessage": {Every: time.Hour, Burst: 2},
	}})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	a, b := s.SendDM("U0ANN", "x").Channel, s.SendDM("U0BOB", "x").Channel
	post := func(ch string) error {
		_, _, err := api.PostMessageContext(ctx, ch, slack.MsgOptionText("hi", false))
		return err
	}
	for i := range 2 {
		if err := post(a); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	wantRateLimited(t, post(a), time.Hour)
	if len(s.EarlyCalls()) != 0 {
		t.Fatalf("early after the first 429: %+v", s.EarlyCalls())
	}
	if err := post(b); err != nil {
		t.Fatalf("another channel: %v", err)
	}
	wantRateLimited(t, post(a), time.Hour)
	early := s.EarlyCalls()
	if len(early) != 1 || early[0].Channel != a || early[0].Status != http.StatusTooManyRequests || early[0].RetryAfter != 3600 {
		t.Fatalf("early = %+v", early)
	}
	last := s.CallsTo("chat.postMessage")
	if c := last[2]; c.OK || c.Error != "ratelimited" || c.RetryAfter != 3600 || c.Early {
		t.Errorf("the first 429 call = %+v", c)
	}

	t.Run("SetChannelLimit gives fresh buckets", func(t *testing.T) {
		s.SetChannelLimit("chat.postMessage", slacktest.Limit{Every: time.Hour, Burst: 1})
		c := s.SendDM("U0CAT", "x").Channel
		if err := post(c); err != nil {
			t.Fatal(err)
		}
		wantRateLimited(t, post(c), time.Hour)
	})
	t.Run("calls are in order", func(t *testing.T) {
		calls := s.Calls()
		for i := 1; i < len(calls); i++ {
			if calls[i].At.Before(calls[i-1].At) {
				t.Fatalf("call %d at %v before call %d at %v", i, calls[i].At, i-1, calls[i-1].At)
			}
		}
		calls[0].Params["channel"] = "changed"
		if s.Calls()[0].Params["channel"] == "changed" {
			t.Error("Calls shares its maps")
		}
	})
}

func TestRateLimit_Workspace(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{Limits: map[string]slacktest.Limit{"chat.update": {Every: time.Hour, Burst: 1}}})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	a, b := s.SendDM("U0ANN", "x").Channel, s.SendDM("U0BOB", "x").Channel
	_, tsA, _ := api.PostMessageContext(ctx, a, slack.MsgOptionText("a", false))
	_, tsB, _ := api.PostMessageContext(ctx, b, slack.MsgOptionText("b", false))
	if _, _, _, err := api.UpdateMessageContext(ctx, a, tsA, slack.MsgOptionText("a2", false)); err != nil {
		t.Fatal(err)
	}
	_, _, _, err := api.UpdateMessageContext(ctx, b, tsB, slack.MsgOptionText("b2", false))
	wantRateLimited(t, err, time.Hour)
	_, _, _, err = api.UpdateMessageContext(ctx, a, tsA, slack.MsgOptionText("a3", false))
	wantRateLimited(t, err, time.Hour)
	if e := s.EarlyCalls(); len(e) != 1 || e[0].Channel != a {
		t.Errorf("early = %+v", e)
	}
	if m, _ := s.Message(b, tsB); m.Text != "b" || m.Edits != 0 {
		t.Errorf("a limited update changed the message: %+v", m)
	}

	t.Run("SetLimit lifts it, windows stay", func(t *testing.T) {
		s.SetLimit("chat.update", slacktest.Limit{})
		_, _, _, err := api.UpdateMessageContext(ctx, b, tsB, slack.MsgOptionText("b2", false))
		wantRateLimited(t, err, time.Hour)
	})
}

func TestFailNext(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	dm := s.SendDM("U0ANN", "x")
	post := func() error {
		_, _, err := api.PostMessageContext(ctx, dm.Channel, slack.MsgOptionText("hi", false))
		return err
	}

	s.FailNext("chat.postMessage", http.StatusOK, "fatal_error", 0)
	s.FailNext("chat.postMessage", http.StatusServiceUnavailable, "", 0)
	wantErr(t, post(), "fatal_error")
	var sc slack.StatusCodeError
	if err := post(); !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable || !sc.Retryable() {
		t.Fatalf("503: %v", err)
	}
	if err := post(); err != nil {
		t.Fatalf("faults are one-off: %v", err)
	}

	s.FailNext("chat.postMessage", http.StatusTooManyRequests, "", 1)
	wantRateLimited(t, post(), time.Second)
	wantRateLimited(t, post(), time.Second) // inside the window: early
	if e := s.EarlyCalls(); len(e) != 1 {
		t.Fatalf("early = %+v", e)
	}
	// A client that honours Retry-After is not early (a wait for the
	// window to end, not a timing assertion).
	calls := s.CallsTo("chat.postMessage")
	told := calls[len(calls)-2] // the 429 that opened the window
	select {
	case <-time.After(time.Until(told.At.Add(time.Duration(told.RetryAfter) * time.Second))):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if err := post(); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if e := s.EarlyCalls(); len(e) != 1 {
		t.Errorf("early = %+v", e)
	}

	t.Run("429 without Retry-After", func(t *testing.T) {
		s.FailNext("chat.update", http.StatusTooManyRequests, "ratelimited", 0)
		_, _, _, err := api.UpdateMessageContext(ctx, dm.Channel, "1.000001", slack.MsgOptionText("x", false))
		if !errors.As(err, &sc) || sc.Code != http.StatusTooManyRequests {
			t.Errorf("error = %v (%T)", err, err)
		}
	})
}

func TestSlackLimits(t *testing.T) {
	perMethod, perChannel := slacktest.SlackLimits()
	if l := perMethod["chat.update"]; l.Burst != 50 || l.Every != 1200*time.Millisecond {
		t.Errorf("chat.update = %+v", l)
	}
	if l := perChannel["chat.postMessage"]; l.Every != time.Second {
		t.Errorf("chat.postMessage = %+v", l)
	}
}
