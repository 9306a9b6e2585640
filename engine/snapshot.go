package engine

import (
	"context"
	"runtime"
	"time"

	"github.com/chatbridge/chatbridge/engine/health"
)

// Snapshot is the bot's health now (for /healthz). It calls no model; it
// may block briefly on storage. Safe for concurrent use.
func (e *Engine) Snapshot(ctx context.Context) health.Snapshot {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := e.stats.snapshot()
	s := health.Snapshot{
		Status:        health.StateOK,
		Time:          time.Now().UTC(),
		UptimeSeconds: time.Since(e.started).Seconds(),
		MemoryBytes:   ms.Sys,
		CPUPercent:    e.cpuPercent(),
		Goroutines:    runtime.NumGoroutine(),
		OpenFiles:     openFiles(),
		Provider: health.Provider{
			Calls: st.Calls, Errors: st.Errors, ErrorRate: st.ErrorRate,
			LatencyMeanMS: st.Mean.Milliseconds(), LatencyP95MS: st.P95.Milliseconds(), RateLimitHits: st.RateLimits,
		},
		ActiveStreams: st.Active,
	}
	if e.health != nil {
		s.Status, s.Components = e.health.Overall(), e.health.Components()
	}
	if at := e.LastBackup(); !at.IsZero() {
		at = at.UTC()
		s.LastBackup = &at
	}
	if ss, err := e.store.Stats(ctx); err == nil {
		s.StorageBytes, s.Conversations, s.CorruptRecords = ss.SizeBytes, ss.Conversations, ss.Corrupt
	} else {
		s.Components = append(s.Components, health.Component{Name: "storage", State: health.StateDegraded, LastError: "stats unavailable"})
		if s.Status == health.StateOK {
			s.Status = health.StateDegraded
		}
	}
	return s
}
