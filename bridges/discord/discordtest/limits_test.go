package discordtest_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
)

func TestServer_ChannelLimit(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{ChannelLimit: discordtest.Limit{Every: time.Hour, Burst: 2}})
	ch := fake.AddChannel(discordtest.Channel{GuildID: "500"})
	other := fake.AddChannel(discordtest.Channel{GuildID: "500"})
	path := "/api/v9/channels/" + ch.ID + "/messages"
	body := map[string]any{"content": "hi"}

	for i, remaining := range []string{"1", "0"} {
		resp, _ := raw(t, fake, "POST", path, body, true)
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != remaining ||
			h.Get("X-RateLimit-Bucket") != "messages" || h.Get("X-RateLimit-Reset-After") == "" || h.Get("X-RateLimit-Reset") == "" {
			t.Fatalf("send %d: %d %v", i, resp.StatusCode, h)
		}
	}
	resp, rl := raw(t, fake, "POST", path, body, true)
	h := resp.Header
	if resp.StatusCode != 429 || rl["message"] != "You are being rate limited." || rl["global"] != false ||
		h.Get("Retry-After") != "3600" || h.Get("X-RateLimit-Scope") != "user" || h.Get("X-RateLimit-Remaining") != "0" ||
		h.Get("X-RateLimit-Bucket") != "messages" {
		t.Fatalf("third send: %d %v %v", resp.StatusCode, rl, h)
	}
	if ra, _ := rl["retry_after"].(float64); ra < 3599 || ra > 3600 {
		t.Errorf("retry_after = %v", rl["retry_after"])
	}
	if early := fake.EarlyCalls(); len(early) != 0 {
		t.Errorf("EarlyCalls before any early call = %+v", early)
	}

	// An edit in the same channel shares the bucket: it is early.
	resp, _ = raw(t, fake, "PATCH", path+"/1", map[string]any{"content": "x"}, true)
	if resp.StatusCode != 429 {
		t.Errorf("edit inside the window = %d", resp.StatusCode)
	}
	early := fake.EarlyCalls()
	if len(early) != 1 || early[0].Route != discordtest.RouteEditMessage || early[0].Bucket != "messages:"+ch.ID {
		t.Errorf("EarlyCalls = %+v", early)
	}
	// Another channel has its own bucket.
	if resp, _ := raw(t, fake, "POST", "/api/v9/channels/"+other.ID+"/messages", body, true); resp.StatusCode != 200 {
		t.Errorf("other channel = %d", resp.StatusCode)
	}
	calls := fake.CallsTo(discordtest.RouteCreateMessage)
	if c := calls[2]; c.Status != 429 || c.RetryAfter < 59*time.Minute || c.Early || c.Global {
		t.Errorf("429 call = %+v", c)
	}
}

// discordgo reads X-RateLimit-Remaining 0 and Reset-After, and holds the
// next request on that bucket until the reset: nothing is sent early.
func TestServer_DiscordgoHonoursHeaders(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{ChannelLimit: discordtest.Limit{Every: 150 * time.Millisecond, Burst: 1}})
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	ch := fake.AddChannel(discordtest.Channel{GuildID: "500"})
	for i := range 3 {
		if _, err := dg.ChannelMessageSend(ch.ID, "n"+strconv.Itoa(i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if early := fake.EarlyCalls(); len(early) != 0 {
		t.Errorf("EarlyCalls = %+v", early)
	}
	for _, c := range fake.CallsTo(discordtest.RouteCreateMessage) {
		if c.Status != 200 {
			t.Errorf("call = %+v", c)
		}
	}
}

func TestServer_FailNext429(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{})
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	ch := fake.AddChannel(discordtest.Channel{GuildID: "500"})
	sent, err := dg.ChannelMessageSend(ch.ID, "draft")
	if err != nil {
		t.Fatal(err)
	}

	// With ShouldRetryOnRateLimit false a 429 is a *RateLimitError, not a
	// *RESTError.
	fake.FailNext(discordtest.RouteEditMessage, discordtest.Fault{Status: 429, RetryAfter: 250 * time.Millisecond})
	_, err = dg.ChannelMessageEdit(ch.ID, sent.ID, "one")
	var rle *discordgo.RateLimitError
	if !errors.As(err, &rle) || rle.RetryAfter != 250*time.Millisecond || rle.Message != "You are being rate limited." {
		t.Fatalf("err = %v (%T)", err, err)
	}
	var re *discordgo.RESTError
	if errors.As(err, &re) {
		t.Error("429 is also a RESTError")
	}
	// discordgo's own bucket (per channel, for edits) waits out the 429's
	// Reset-After before the next edit.
	if _, err := dg.ChannelMessageEdit(ch.ID, sent.ID, "two"); err != nil {
		t.Fatal(err)
	}
	if early := fake.EarlyCalls(); len(early) != 0 {
		t.Errorf("discordgo's edit came early: %+v", early)
	}
	// discordgo keys sends and edits differently, so a send right after an
	// edit's 429 is not held back by discordgo and comes early.
	fake.FailNext(discordtest.RouteEditMessage, discordtest.Fault{Status: 429, RetryAfter: 5 * time.Second})
	if _, err := dg.ChannelMessageEdit(ch.ID, sent.ID, "three"); !errors.As(err, &rle) {
		t.Fatalf("err = %v", err)
	}
	_, err = dg.ChannelMessageSend(ch.ID, "hurry")
	if !errors.As(err, &rle) || rle.RetryAfter <= 4*time.Second {
		t.Fatalf("send inside the window: %v", err)
	}
	if early := fake.EarlyCalls(); len(early) != 1 || early[0].Route != discordtest.RouteCreateMessage {
		t.Errorf("EarlyCalls = %+v", early)
	}

	// Other faults are RESTErrors with the given body.
	fake.FailNext(discordtest.RouteTyping, discordtest.Fault{Status: 500, Code: 0, Message: "500: Internal Server Error"})
	restError(t, dg.ChannelTyping(ch.ID), 500, 0)
}

func TestServer_RetryOnRateLimit(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{})
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	dg.ShouldRetryOnRateLimit = true
	limited := make(chan *discordgo.RateLimit, 1)
	dg.AddHandler(func(_ *discordgo.Session, r *discordgo.RateLimit) { limited <- r })
	ch := fake.AddChannel(discordtest.Channel{GuildID: "500"})
	fake.FailNext(discordtest.RouteCreateMessage, discordtest.Fault{Status: 429, RetryAfter: 100 * time.Millisecond})
	if _, err := dg.ChannelMessageSend(ch.ID, "patient"); err != nil {
		t.Fatal(err)
	}
	if r := receive(t, limited, "RateLimit event"); r.RetryAfter != 100*time.Millisecond {
		t.Errorf("RateLimit = %+v", r.TooManyRequests)
	}
	calls := fake.CallsTo(discordtest.RouteCreateMessage)
	if len(calls) != 2 || calls[0].Status != 429 || calls[1].Status != 200 || calls[1].Early {
		t.Errorf("calls = %+v", calls)
	}
}

func TestServer_GlobalLimit(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{GlobalLimit: discordtest.Limit{Every: time.Hour, Burst: 1}})
	if resp, _ := raw(t, fake, "GET", "/api/v9/users/@me", nil, true); resp.StatusCode != 200 {
		t.Fatalf("first = %d", resp.StatusCode)
	}
	resp, body := raw(t, fake, "GET", "/api/v9/users/@me", nil, true)
	if resp.StatusCode != 429 || body["global"] != true || resp.Header.Get("X-RateLimit-Global") != "true" ||
		resp.Header.Get("X-RateLimit-Scope") != "global" {
		t.Fatalf("second = %d %v %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = raw(t, fake, "GET", "/api/v9/gateway/bot", nil, true)
	if resp.StatusCode != 429 {
		t.Errorf("other route inside the global window = %d", resp.StatusCode)
	}
	if early := fake.EarlyCalls(); len(early) != 1 || early[0].Route != discordtest.RouteGatewayBot {
		t.Errorf("EarlyCalls = %+v", early)
	}
	// Interaction routes are exempt from the global limit.
	resp, body = raw(t, fake, "POST", "/api/v9/interactions/1/tok/callback", map[string]any{"type": 5}, false)
	if resp.StatusCode != 404 || body["code"] != 10062.0 {
		t.Errorf("callback = %d %v", resp.StatusCode, body)
	}
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	_, err := dg.User("@me")
	var rle *discordgo.RateLimitError
	if !errors.As(err, &rle) || rle.RetryAfter < 59*time.Minute {
		t.Errorf("discordgo global 429 = %v", err)
	}
}
