package discordtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	alice = discordtest.User{ID: "42", Username: "alice"}
	bob   = discordtest.User{ID: "43", Username: "bob"}
)

const defaultIntents = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages | discordgo.IntentsDirectMessages

// newFake starts a fake with a short heartbeat interval.
func newFake(t *testing.T, opts discordtest.Options) *discordtest.Server {
	t.Helper()
	if opts.HeartbeatInterval == 0 {
		opts.HeartbeatInterval = 50 * time.Millisecond
	}
	return discordtest.New(t, opts)
}

// newSession is a discordgo session talking to fake, configured as the
// bridge would be: no automatic retries or reconnects, ordered events.
func newSession(t *testing.T, fake *discordtest.Server, token string, intents discordgo.Intent) *discordgo.Session {
	t.Helper()
	dg, err := discordgo.New("Bot " + token)
	if err != nil {
		t.Fatal(err)
	}
	dg.Client = fake.Client()
	dg.ShouldReconnectOnError = false
	dg.ShouldRetryOnRateLimit = false
	dg.SyncEvents = true
	dg.LogLevel = -1
	if os.Getenv("DGDEBUG") != "" {
		dg.LogLevel = discordgo.LogInformational
	}
	dg.Identify.Intents = intents
	return dg
}

// open connects dg to the gateway and closes it when the test ends
// (before the fake, whose cleanup was registered first). It turns
// reconnection off before closing, so that no reconnect loop outlives the
// session.
func open(t *testing.T, dg *discordgo.Session) {
	t.Helper()
	if err := dg.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		dg.Lock()
		dg.ShouldReconnectOnError = false
		dg.Unlock()
		_ = dg.Close()
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// restError asserts err is a *discordgo.RESTError with status and code.
func restError(t *testing.T, err error, status, code int) *discordgo.RESTError {
	t.Helper()
	var re *discordgo.RESTError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want *discordgo.RESTError", err, err)
	}
	if re.Response.StatusCode != status || re.Message == nil || re.Message.Code != code {
		t.Fatalf("RESTError = %d %s, want %d code %d", re.Response.StatusCode, re.ResponseBody, status, code)
	}
	return re
}

// hasErrorAt reports whether a 50035 "errors" tree has errors at path.
func hasErrorAt(t *testing.T, tree json.RawMessage, path string) bool {
	t.Helper()
	var node map[string]any
	if err := json.Unmarshal(tree, &node); err != nil {
		t.Fatalf("errors %s: %v", tree, err)
	}
	if path != "" {
		for _, p := range strings.Split(path, ".") {
			next, isMap := node[p].(map[string]any)
			if !isMap {
				return false
			}
			node = next
		}
	}
	list, _ := node["_errors"].([]any)
	return len(list) > 0
}

// raw sends a request through the fake's rewriting transport, as if to
// https://discord.com, and decodes a JSON answer.
func raw(t *testing.T, fake *discordtest.Server, method, path string, body any, auth bool) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "https://discord.com"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bot "+fake.Token())
	}
	resp, err := fake.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, data, err)
		}
	}
	return resp, out
}

func TestServer_Close(t *testing.T) {
	fake := discordtest.NewServer(discordtest.Options{})
	fake.Close()
	fake.Close() // idempotent
	if _, err := fake.Client().Get(fake.URL() + "/api/v9/gateway"); err == nil {
		t.Error("server still answers after Close")
	}
}
