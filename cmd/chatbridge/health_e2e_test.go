package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRunHealth_HealthzAndMetrics(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	addr := freeAddr(t)
	section := fmt.Sprintf("[health]\nlisten = %q\n\n[telegram]\nenabled = true\napi_url = %q\nallowed_users = [%d]\n", addr, tg.URL(), tgOwner.ID)
	d := startDaemonWith(t, t.TempDir(), or, section, "TELEGRAM_BOT_TOKEN="+tg.Token())
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitUntil(t, d, "the health endpoint", func() bool { code, _ := get("/healthz"); return code == 200 })
	tg.SendText(telegramtest.PrivateChat(tgOwner), tgOwner, "hello")
	waitUntil(t, d, "the reply", func() bool { return last(visible(tg, tgOwner.ID)) == "You said: hello" })

	code, body := get("/healthz")
	var snap struct {
		Status     string `json:"status"`
		Components []struct {
			Name, State string
		} `json:"components"`
		Provider struct {
			Calls int `json:"calls"`
		} `json:"provider"`
		Conversations int `json:"conversations"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &snap) != nil {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if snap.Status != "ok" || snap.Provider.Calls != 1 || snap.Conversations != 1 {
		t.Errorf("/healthz = %s", body)
	}
	found := false
	for _, c := range snap.Components {
		found = found || c.Name == "telegram" && c.State == "ok"
	}
	if !found {
		t.Errorf("/healthz lacks the telegram bridge: %s", body)
	}

	if code, _ := get("/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ answers %d without [health] pprof = true, want 404", code)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`chatbridge_replies_total{outcome="done"} 1`, "chatbridge_provider_latency_seconds_count 1",
		"chatbridge_time_to_first_token_seconds_count 1", `chatbridge_tokens_total{kind="completion"}`,
		"chatbridge_cost_usd_total", "chatbridge_active_streams 0", "chatbridge_storage_bytes",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Prometheus conventions: counters end in _total, units are base units.
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`).FindAllStringSubmatch(metrics, -1) {
		name, kind := m[1], m[2]
		if kind == "counter" && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		if strings.Contains(name, "_ms") || strings.Contains(name, "_milliseconds") || strings.Contains(name, "_mb") {
			t.Errorf("%s is not in base units", name)
		}
	}
	tg.SendText(telegramtest.PrivateChat(tgOwner), tgOwner, "/status")
	waitUntil(t, d, "/status", func() bool { return strings.Contains(last(visible(tg, tgOwner.ID)), "Status") })
	status := last(visible(tg, tgOwner.ID))
	for _, want := range []string{"Status: ok", "memory", "CPU", "telegram: ok", "Model API: 1 calls", "OpenRouter key: $", "Storage: 1 conversations", "Last backup"} {
		if !strings.Contains(status, want) {
			t.Errorf("/status lacks %q:\n%s", want, status)
		}
	}
	if n := len(chatRequests(or)); n != 1 {
		t.Errorf("/status called the model (%d chat requests)", n)
	}
	d.stop()
	if strings.Contains(body+metrics, tg.Token()) || strings.Contains(body+metrics, or.APIKey()) {
		t.Error("a secret is served by the health endpoint")
	}
}

func TestHealthcheckCommand(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	addr := freeAddr(t)
	if res := runBinary(t, t.TempDir(), "", nil, "healthcheck", "-url", "http://"+addr+"/healthz"); res.code != 1 {
		t.Errorf("no daemon: exit %d, want 1", res.code)
	}
	section := fmt.Sprintf("[health]\nlisten = %q\n\n[telegram]\nenabled = true\napi_url = %q\nallowed_users = [%d]\n", addr, tg.URL(), tgOwner.ID)
	d := startDaemonWith(t, t.TempDir(), or, section, "TELEGRAM_BOT_TOKEN="+tg.Token())
	waitUntil(t, d, "a healthy daemon", func() bool {
		return runBinary(t, t.TempDir(), "", nil, "healthcheck", "-url", "http://"+addr+"/healthz").code == 0
	})
	d.stop()
}

// TestRunHealth_ProfilesWhenAsked: [health] pprof = true serves Go's
// profiles beside /healthz, for `go tool pprof`.
func TestRunHealth_ProfilesWhenAsked(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	addr := freeAddr(t)
	section := fmt.Sprintf("[health]\nlisten = %q\npprof = true\n\n[telegram]\nenabled = true\napi_url = %q\nallowed_users = [%d]\n", addr, tg.URL(), tgOwner.ID)
	d := startDaemonWith(t, t.TempDir(), or, section, "TELEGRAM_BOT_TOKEN="+tg.Token())
	var body string
	waitUntil(t, d, "the goroutine profile", func() bool {
		resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	})
	if !strings.Contains(body, "goroutine profile:") {
		t.Errorf("the goroutine profile is %q", body[:min(len(body), 200)])
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz beside the profiles: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	d.stop()
}
