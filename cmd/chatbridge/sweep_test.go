package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recordingSweeper records when it was asked to sweep and fails the
// second sweep.
type recordingSweeper struct {
	mu    sync.Mutex
	times []time.Time
}

func (s *recordingSweeper) Sweep(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, now)
	if len(s.times) == 2 {
		return 0, errors.New("disk full")
	}
	return len(s.times), nil
}

func (s *recordingSweeper) calls() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

// TestSweepLoop_RetentionAtStartAndEverySixHours: retention_days is
// enforced as soon as the daemon starts (a bot that was down for a month
// must not keep what expired meanwhile) and then every sweepEvery; a failed
// sweep is logged and the next one still runs. storage's TestSweep shows
// what a sweep removes.
func TestSweepLoop_RetentionAtStartAndEverySixHours(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		st := &recordingSweeper{}
		ctx, cancel := context.WithCancel(t.Context())
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			sweepLoop(ctx, st, log)
		}()
		synctest.Wait()
		if n := len(st.calls()); n != 1 {
			t.Fatalf("sweeps at start = %d, want 1", n)
		}
		time.Sleep(3*sweepEvery + time.Minute)
		synctest.Wait()
		cancel()
		<-done
		got := st.calls()
		if len(got) != 4 {
			t.Fatalf("sweeps after %v = %d, want 4", 3*sweepEvery, len(got))
		}
		for i, at := range got {
			if want := start.Add(time.Duration(i) * sweepEvery); !at.Equal(want) {
				t.Errorf("sweep %d at +%v, want +%v", i, at.Sub(start), want.Sub(start))
			}
		}
		out := logs.String()
		if !strings.Contains(out, "retention sweep") || !strings.Contains(out, "disk full") {
			t.Errorf("the failed sweep is not logged:\n%s", out)
		}
		if !strings.Contains(out, "removed=4") {
			t.Errorf("the sweep after the failure did not run or is not logged:\n%s", out)
		}
	})
}
