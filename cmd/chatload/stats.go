package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method: the smallest value with at least p% of the values
// at or below it. It returns 0 for no values. ds is not modified.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// Latency is the summary of a set of durations.
type Latency struct {
	N             int
	P50, P95, Max time.Duration
}

// Summarize computes p50, p95 and the maximum of ds.
func Summarize(ds []time.Duration) Latency {
	l := Latency{N: len(ds), P50: Percentile(ds, 50), P95: Percentile(ds, 95)}
	for _, d := range ds {
		l.Max = max(l.Max, d)
	}
	return l
}

// String formats l as "p50 / p95 / max" in milliseconds.
func (l Latency) String() string {
	if l.N == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s / %s / %s", ms(l.P50), ms(l.P95), ms(l.Max))
}

// ms formats d in milliseconds: one decimal below 10 ms, whole above.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	if f < 10 {
		return fmt.Sprintf("%.1f ms", f)
	}
	return fmt.Sprintf("%.0f ms", f)
}

// mib formats a byte count in MiB with one decimal.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// Table is a Markdown table.
type Table struct {
	Header []string
	Rows   [][]string
}

// Render writes t as a GitHub-flavoured Markdown table. Pipes in cells are
// escaped; a row shorter than the header is padded with empty cells.
func (t Table) Render(w io.Writer) error {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i := range t.Header {
			c := ""
			if i < len(cells) {
				c = strings.ReplaceAll(cells[i], "|", `\|`)
				c = strings.ReplaceAll(c, "\n", " ")
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	line(t.Header)
	b.WriteString("|")
	for range t.Header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// busyRate is the sustained rate of events, per second, between the first
// and the last of ats, not counting the first burst events (a token
// bucket lets a burst through at once; the rest comes at the refill
// rate). It is 0 with too few events or no time between them.
func busyRate(ats []time.Time, burst int) float64 {
	if len(ats) <= burst+1 {
		return 0
	}
	first, last := ats[0], ats[0]
	for _, at := range ats {
		if at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	span := last.Sub(first).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(len(ats)-burst) / span
}
