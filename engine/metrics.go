package engine

import (
	"context"
	"runtime"
	"time"

	"github.com/chatbridge/chatbridge/engine/health"
)

// engineMetrics are the Prometheus metrics the engine keeps.
type engineMetrics struct {
	replies    *health.Counter
	latency    *health.Histogram
	firstToken *health.Histogram
	tokens     *health.Counter
	cost       *health.Counter
	rateLimits *health.Counter
	edits      *health.Counter
	errors     *health.Counter
}

// latencyBuckets are for provider calls and the time to the first token,
// in seconds.
var latencyBuckets = []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120}

func (e *Engine) newMetrics(reg *health.Registry) *engineMetrics {
	m := &engineMetrics{
		replies:    reg.NewCounter("chatbridge_replies_total", "Replies by how they ended.", "outcome"),
		latency:    reg.NewHistogram("chatbridge_provider_latency_seconds", "Duration of model API calls.", latencyBuckets...),
		firstToken: reg.NewHistogram("chatbridge_time_to_first_token_seconds", "Time from a model API call to its first text.", latencyBuckets...),
		tokens:     reg.NewCounter("chatbridge_tokens_total", "Tokens used, by kind.", "kind"),
		cost:       reg.NewCounter("chatbridge_cost_usd_total", "Cost reported by the provider, in US dollars."),
		rateLimits: reg.NewCounter("chatbridge_platform_rate_limits_total", "Platform 429 answers, by bridge.", "bridge"),
		edits:      reg.NewCounter("chatbridge_edits_total", "Message edits made, by bridge.", "bridge"),
		errors:     reg.NewCounter("chatbridge_errors_total", "Errors, by kind (a provider error class, or internal), logged or not.", "kind"),
	}
	reg.NewGauge("chatbridge_active_streams", "Replies being streamed now.", func() float64 {
		return float64(e.stats.snapshot().Active)
	})
	reg.NewGauge("chatbridge_storage_bytes", "Size of the database on disk.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := e.store.Stats(ctx)
		if err != nil {
			return 0
		}
		return float64(st.SizeBytes)
	})
	reg.NewGauge("chatbridge_goroutines", "Goroutines of the process.", func() float64 { return float64(runtime.NumGoroutine()) })
	reg.NewGauge("chatbridge_memory_bytes", "Memory obtained from the OS by the Go runtime.", func() float64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.Sys)
	})
	reg.NewGauge("chatbridge_up", "1 when the bot is healthy, 0.5 when degraded, 0 when down.", func() float64 {
		if e.health == nil {
			return 1
		}
		switch e.health.Overall() {
		case health.StateDown:
			return 0
		case health.StateDegraded:
			return 0.5
		}
		return 1
	})
	return m
}

// Metrics is the registry /metrics serves.
func (e *Engine) Metrics() *health.Registry { return e.registry }

func (m *engineMetrics) usage(u Usage) {
	m.tokens.Add(float64(u.PromptTokens), "prompt")
	m.tokens.Add(float64(u.CompletionTokens), "completion")
	m.cost.Add(u.Cost)
}
