package health

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Snapshot is the bot's health at one moment: what /healthz answers and
// /status shows.
type Snapshot struct {
	Status         State       `json:"status"`
	Time           time.Time   `json:"time"`
	UptimeSeconds  float64     `json:"uptime_seconds"`
	MemoryBytes    uint64      `json:"memory_bytes"`
	CPUPercent     float64     `json:"cpu_percent"`
	Goroutines     int         `json:"goroutines"`
	OpenFiles      int         `json:"open_files"`
	Components     []Component `json:"components"`
	Provider       Provider    `json:"provider"`
	ActiveStreams  int         `json:"active_streams"`
	StorageBytes   int64       `json:"storage_bytes"`
	Conversations  int         `json:"conversations"`
	CorruptRecords int         `json:"corrupt_records"`
	// LastBackup is when the last backup succeeded; nil if none.
	LastBackup *time.Time `json:"last_backup,omitempty"`
}

// Provider is the model API's recent record.
type Provider struct {
	Calls         int64   `json:"calls"`
	Errors        int64   `json:"errors"`
	ErrorRate     float64 `json:"error_rate"`
	LatencyMeanMS int64   `json:"latency_mean_ms"`
	LatencyP95MS  int64   `json:"latency_p95_ms"`
	RateLimitHits int64   `json:"platform_rate_limit_hits"`
}

// Handler serves GET /healthz (the snapshot as JSON; 503 when the bot is
// down) and GET /metrics (reg in the Prometheus text format). snapshot is
// called per request and must be safe for concurrent use.
func Handler(snapshot func(context.Context) Snapshot, reg *Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		s := snapshot(ctx)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if s.Status == StateDown {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		reg.WriteText(w)
	})
	return mux
}
