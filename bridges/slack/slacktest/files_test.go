package slacktest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
)

func TestUploadFile(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	dm := s.SendDM("U0ANN", "export please")
	data := []byte("# chat export\nhello\n")

	f, err := api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader: bytes.NewReader(data), Filename: "export.md", FileSize: len(data), Title: "Export",
		Channel: dm.Channel, ThreadTimestamp: dm.TS, InitialComment: "here it is",
	})
	if err != nil {
		t.Fatal(err)
	}
	files := s.Files()
	if len(files) != 1 {
		t.Fatalf("files = %+v", files)
	}
	got := files[0]
	if f.ID != got.ID || f.Title != "Export" || got.Name != "export.md" || !bytes.Equal(got.Data, data) || got.Length != len(data) ||
		!got.Uploaded || !got.Completed || got.ThreadTS != dm.TS || got.InitialComment != "here it is" ||
		len(got.Channels) != 1 || got.Channels[0] != dm.Channel {
		t.Fatalf("file = %+v (summary %+v)", got, f)
	}
	msgs := s.ThreadMessages(dm.Channel, dm.TS)
	if len(msgs) != 1 || msgs[0].Text != "here it is" || len(msgs[0].FileIDs) != 1 || msgs[0].FileIDs[0] != f.ID || msgs[0].TS != got.MessageTS[0] {
		t.Errorf("share message = %+v", msgs)
	}

	t.Run("unknown channel fails at completion", func(t *testing.T) {
		_, err := api.UploadFileContext(ctx, slack.UploadFileParameters{Content: "x", Filename: "a.txt", FileSize: 1, Channel: "C0NOPE"})
		wantErr(t, err, "channel_not_found")
		if !strings.Contains(err.Error(), "CompleteUploadExternal") || len(s.Files()) != 2 || s.Files()[1].Completed {
			t.Errorf("files = %+v", s.Files())
		}
	})
	t.Run("completing an unknown file", func(t *testing.T) {
		_, err := api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: "F0NOPE"}}, Channel: dm.Channel})
		wantErr(t, err, "file_not_found")
	})
	t.Run("completing before the upload", func(t *testing.T) {
		u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "b.txt", FileSize: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.UploadURL, s.URL()+"/upload/") {
			t.Errorf("upload url = %q", u.UploadURL)
		}
		_, err = api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: u.FileID}}})
		wantErr(t, err, "file_not_found")
	})
}

func TestResponseURL(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	api := newAPI(t, s, s.BotToken())
	ctx := ctxT(t)
	cmd := s.SendSlashCommand("U0ANN", "", "/model", "gpt")
	if cmd.Channel != slacktest.DMChannel("U0ANN") || !strings.HasPrefix(cmd.ResponseURL, s.URL()+"/commands/") || cmd.TriggerID == "" {
		t.Fatalf("sent = %+v", cmd)
	}
	_, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeInChannel), slack.MsgOptionText("model set", false))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(cmd.ResponseURL), slack.MsgOptionText("replaced", false))
	if err != nil {
		t.Fatal(err)
	}
	posts := s.ResponseURLPosts()
	if len(posts) != 2 || posts[0].Text != "model set" || posts[0].ResponseType != "in_channel" || posts[0].ReplaceOriginal ||
		posts[1].ResponseType != "ephemeral" || !posts[1].ReplaceOriginal || posts[0].Channel != cmd.Channel || posts[0].Status != 200 {
		t.Fatalf("posts = %+v", posts)
	}
	_, _, err = api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cmd.ResponseURL, slack.ResponseTypeEphemeral), slack.MsgOptionText("", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusBadRequest {
		t.Errorf("empty text: %v", err)
	}
	for i := 0; i < 3; i++ {
		if _, _, err := api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cmd.ResponseURL, ""), slack.MsgOptionText("n", false)); err != nil {
			t.Fatalf("use %d: %v", i+3, err)
		}
	}
	_, _, err = api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(cmd.ResponseURL, ""), slack.MsgOptionText("sixth", false))
	if !errors.As(err, &sc) || sc.Code != http.StatusNotFound {
		t.Fatalf("sixth use: %v", err)
	}
	if last := s.ResponseURLPosts(); last[len(last)-1].Error != "used_url" {
		t.Errorf("last post = %+v", last[len(last)-1])
	}
}

func TestEventsHTTP(t *testing.T) {
	s := slacktest.New(t, slacktest.Options{})
	const secret = "8f742231b10e8888abcd99yyyzzz85a5"
	body, eventID := s.EventBody(s.DMEvent("U0ANN", "over http", ""))
	ts := time.Now()

	// A tiny Events endpoint that verifies like a bridge would.
	var got slackevents.EventsAPIEvent
	var verr error
	endpoint := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		sv, err := slack.NewSecretsVerifier(r.Header, secret)
		if err == nil {
			_, _ = sv.Write(data)
			err = sv.Ensure()
		}
		if err == nil {
			got, err = slackevents.ParseEvent(data, slackevents.OptionVerifyToken(&slackevents.TokenComparator{VerificationToken: slacktest.DefaultVerificationToken}))
		}
		verr = err
	})
	req, err := slacktest.NewEventRequest("http://bridge.invalid/slack/events", secret, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	endpoint.ServeHTTP(nopWriter{}, req)
	if verr != nil {
		t.Fatal(verr)
	}
	cb, _ := got.Data.(*slackevents.EventsAPICallbackEvent)
	msg, _ := got.InnerEvent.Data.(*slackevents.MessageEvent)
	if cb == nil || cb.EventID != eventID || msg == nil || msg.Text != "over http" || msg.ChannelType != "im" || msg.ClientMsgID == "" {
		t.Fatalf("parsed = %+v / %+v", cb, msg)
	}

	t.Run("bad signature", func(t *testing.T) {
		req.Header.Set(slacktest.SignatureHeader, slacktest.Sign("other", ts, body))
		sv, _ := slack.NewSecretsVerifier(req.Header, secret)
		_, _ = sv.Write(body)
		if sv.Ensure() == nil {
			t.Error("a signature with another secret verified")
		}
	})
	t.Run("known vector", func(t *testing.T) {
		// From Slack's "Verifying requests" guide.
		b := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
		got := slacktest.Sign(secret, time.Unix(1531420618, 0), b)
		if want := "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"; got != want {
			t.Errorf("Sign = %s, want %s", got, want)
		}
	})
	t.Run("url_verification", func(t *testing.T) {
		var v map[string]string
		if err := json.Unmarshal(slacktest.URLVerificationBody("tok", "ch4l"), &v); err != nil || v["type"] != "url_verification" || v["challenge"] != "ch4l" {
			t.Errorf("body = %v, %v", v, err)
		}
	})
}

type nopWriter struct{}

func (nopWriter) Header() http.Header         { return http.Header{} }
func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (nopWriter) WriteHeader(int)             {}
