package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	tests := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 95, 7 * time.Millisecond},
		{"median of odd count", ms(5, 1, 3), 50, 3 * time.Millisecond},
		{"median of even count is the lower middle", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p95 of 1..100", ms(hundred...), 95, 95 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"tiny p is the min", ms(hundred...), 0.001, 1 * time.Millisecond},
		{"p95 of 10 values is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 95, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.in...)
			if got := Percentile(tt.in, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.in[i] {
					t.Fatal("Percentile modified its input")
				}
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	l := Summarize([]time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 250 * time.Millisecond, 2 * time.Millisecond})
	if l.N != 4 || l.P50 != 2*time.Millisecond || l.P95 != 250*time.Millisecond || l.Max != 250*time.Millisecond {
		t.Errorf("Summarize = %+v", l)
	}
	if got, want := l.String(), "2.0 ms / 250 ms / 250 ms"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := Summarize(nil).String(); got != "n/a" {
		t.Errorf("empty summary = %q, want n/a", got)
	}
}

func TestTable_Render(t *testing.T) {
	var b strings.Builder
	tab := Table{Header: []string{"a", "b"}, Rows: [][]string{{"1", "x|y"}, {"only one"}, {"multi\nline", "2"}}}
	if err := tab.Render(&b); err != nil {
		t.Fatal(err)
	}
	want := "| a | b |\n|---|---|\n| 1 | x\\|y |\n| only one |  |\n| multi line | 2 |\n"
	if b.String() != want {
		t.Errorf("Render =\n%s\nwant\n%s", b.String(), want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTable_RenderWriteError(t *testing.T) {
	err := Table{Header: []string{"a"}}.Render(failWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Render to a failing writer = %v, want the write error", err)
	}
}

func TestBusyRate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		out := make([]time.Time, len(ms))
		for i, m := range ms {
			out[i] = t0.Add(time.Duration(m) * time.Millisecond)
		}
		return out
	}
	// A burst of 3 at once, then one every 100 ms for 1 s: 10 a second.
	calls := at(0, 0, 0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000)
	if got := busyRate(calls, 3); got < 9.99 || got > 10.01 {
		t.Errorf("busyRate = %v, want 10", got)
	}
	if got := busyRate(at(1000, 0, 500), 0); got != 3 {
		t.Errorf("busyRate of unsorted times = %v, want 3", got)
	}
	if got := busyRate(at(0, 0, 0), 2); got != 0 {
		t.Errorf("busyRate within the burst = %v, want 0", got)
	}
	if got := busyRate(at(5, 5, 5, 5), 0); got != 0 {
		t.Errorf("busyRate with no time between events = %v, want 0", got)
	}
}

func TestStartupTable(t *testing.T) {
	ms := time.Millisecond
	rs := []StartupResult{
		{Label: "empty"}, // no runs: no row
		{Label: "1 GiB", DiskBytes: 1 << 30, Healthy: []time.Duration{300 * ms, 100 * ms, 200 * ms},
			FirstPoll: []time.Duration{110 * ms, 210 * ms, 310 * ms}, RSS: []int64{30 << 20, 10 << 20, 20 << 20},
			Peak: []int64{40 << 20, 40 << 20, 50 << 20}, Anon: []int64{5 << 20, 6 << 20, 7 << 20}},
	}
	var b strings.Builder
	if err := StartupTable(rs).Render(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := "| 1 GiB | 1024.0 MiB | 3 | 100 ms / 200 ms / 300 ms | 110 ms / 210 ms / 310 ms | 20.0 MiB | 40.0 MiB | 6.0 MiB |"
	if len(lines) != 3 || lines[2] != want {
		t.Errorf("table\n%s\nwant the row\n%s", b.String(), want)
	}
	if median(nil) != 0 || median([]int64{4, 1}) != 4 {
		t.Error("median")
	}
}
