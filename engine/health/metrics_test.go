package health

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRegistry_TextFormat(t *testing.T) {
	reg := NewRegistry()
	c := reg.NewCounter("x_events_total", "Events.", "kind")
	c.Inc("a")
	c.Add(2, `quo"te`)
	c.Add(-5, "a") // ignored: counters never go down
	h := reg.NewHistogram("x_latency_seconds", "Latency.", 0.5, 1)
	h.Observe(0.2)
	h.Observe(0.7)
	h.Observe(3)
	reg.NewGauge("x_up", "Up.", func() float64 { return 1 })
	var b strings.Builder
	reg.WriteText(&b)
	out := b.String()
	for _, want := range []string{
		"# TYPE x_events_total counter", `x_events_total{kind="a"} 1`, `x_events_total{kind="quo\"te"} 2`,
		"# TYPE x_latency_seconds histogram", `x_latency_seconds_bucket{le="0.5"} 1`, `x_latency_seconds_bucket{le="1"} 2`,
		`x_latency_seconds_bucket{le="+Inf"} 3`, "x_latency_seconds_sum 3.9", "x_latency_seconds_count 3",
		"# TYPE x_up gauge", "x_up 1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "x_events_total") > strings.Index(out, "x_up") {
		t.Error("metrics are not sorted by name")
	}
}

func TestHandler_HealthzAndMetrics(t *testing.T) {
	state := StateOK
	reg := NewRegistry()
	reg.NewGauge("x_up", "Up.", func() float64 { return 1 })
	srv := httptest.NewServer(Handler(func(context.Context) Snapshot {
		return Snapshot{Status: state, Components: []Component{{Name: "telegram", State: state}}}
	}, reg))
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	resp, body := get("/healthz")
	var s Snapshot
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &s) != nil || s.Status != StateOK || s.Components[0].Name != "telegram" {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}
	state = StateDegraded
	if resp, _ := get("/healthz"); resp.StatusCode != 200 {
		t.Errorf("degraded: %d, want 200 (still serving)", resp.StatusCode)
	}
	state = StateDown
	if resp, _ := get("/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("down: %d, want 503", resp.StatusCode)
	}
	resp, body = get("/metrics")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") || !strings.Contains(body, "x_up 1") {
		t.Errorf("metrics: %s %q", resp.Header.Get("Content-Type"), body)
	}
}
