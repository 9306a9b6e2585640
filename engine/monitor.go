package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/engine/health"
)

// Monitor defaults.
const (
	DefaultCheckInterval = time.Minute
	// historyLen is how many snapshots the monitor keeps.
	historyLen = 100
	// minCallsForErrorRate keeps one failed call out of five from
	// counting as a 20% error rate.
	minCallsForErrorRate = 10
	// botComponent is the bot's own entry in the health tracker.
	botComponent = "bot"
)

// Thresholds mark the bot degraded when exceeded ([health] *_warn); zero
// turns a check off.
type Thresholds struct {
	MemoryMB     int
	CPUPercent   int
	APIErrorRate float64 // 0..1
	StorageMB    int
}

// monitorState is the monitor's history and CPU reading. Safe for
// concurrent use.
type monitorState struct {
	mu       sync.Mutex
	history  []health.Snapshot
	cpu      float64 // percent of one core over the last interval
	lastCPU  time.Duration
	lastWall time.Time
}

// Monitor takes a snapshot every Options.CheckInterval until ctx ends,
// keeps the last 100, and checks them against Options.Thresholds: while
// one is exceeded the bot shows as degraded, and the owners get one
// message when it becomes degraded and one when it recovers. It blocks.
func (e *Engine) Monitor(ctx context.Context) {
	every := e.opts.CheckInterval
	if every <= 0 {
		every = DefaultCheckInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	degraded := false
	for {
		e.sampleCPU()
		snap := e.Snapshot(ctx)
		e.mon.mu.Lock()
		e.mon.history = append(e.mon.history, snap)
		if len(e.mon.history) > historyLen {
			e.mon.history = e.mon.history[len(e.mon.history)-historyLen:]
		}
		e.mon.mu.Unlock()
		reasons := e.opts.Thresholds.exceeded(snap)
		switch {
		case len(reasons) > 0:
			if e.health != nil {
				e.health.Set(botComponent, health.StateDegraded, strings.Join(reasons, "; "))
			}
			if !degraded {
				degraded = true
				e.alertOwners(ctx, "", "⚠️ chatbridge is degraded: "+strings.Join(reasons, "; ")+". See /status.")
			}
		case degraded:
			degraded = false
			if e.health != nil {
				e.health.Set(botComponent, health.StateOK, "")
			}
			e.alertOwners(ctx, "", "✅ chatbridge has recovered.")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// History returns the kept snapshots, oldest first.
func (e *Engine) History() []health.Snapshot {
	e.mon.mu.Lock()
	defer e.mon.mu.Unlock()
	return append([]health.Snapshot(nil), e.mon.history...)
}

// exceeded lists the thresholds a snapshot is over, in words.
func (th Thresholds) exceeded(s health.Snapshot) []string {
	var out []string
	if mb := int(s.MemoryBytes >> 20); th.MemoryMB > 0 && mb > th.MemoryMB {
		out = append(out, fmt.Sprintf("memory %d MB > %d MB", mb, th.MemoryMB))
	}
	if th.CPUPercent > 0 && s.CPUPercent > float64(th.CPUPercent) {
		out = append(out, fmt.Sprintf("CPU %.0f%% > %d%%", s.CPUPercent, th.CPUPercent))
	}
	if th.APIErrorRate > 0 && s.Provider.Calls >= minCallsForErrorRate && s.Provider.ErrorRate > th.APIErrorRate {
		out = append(out, fmt.Sprintf("model API errors %.0f%% > %.0f%%", s.Provider.ErrorRate*100, th.APIErrorRate*100))
	}
	if mb := int(s.StorageBytes >> 20); th.StorageMB > 0 && mb > th.StorageMB {
		out = append(out, fmt.Sprintf("storage %d MB > %d MB", mb, th.StorageMB))
	}
	return out
}

// sampleCPU updates the CPU reading from the process's CPU time.
func (e *Engine) sampleCPU() {
	used, ok := processCPUTime()
	if !ok {
		return
	}
	now := time.Now()
	e.mon.mu.Lock()
	defer e.mon.mu.Unlock()
	if !e.mon.lastWall.IsZero() {
		if wall := now.Sub(e.mon.lastWall); wall > 0 {
			e.mon.cpu = 100 * float64(used-e.mon.lastCPU) / float64(wall)
		}
	}
	e.mon.lastCPU, e.mon.lastWall = used, now
}

func (e *Engine) cpuPercent() float64 {
	e.mon.mu.Lock()
	defer e.mon.mu.Unlock()
	return e.mon.cpu
}

// openFiles counts the process's open file descriptors (-1 where /proc
// is missing).
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}
