//go:build unix

package enginetest

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// ProcessCPU is the user and system CPU time this process has used, all
// goroutines (and the GC) included.
func ProcessCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchTurnCPU runs one paced turn per benchmark op on e and reports the
// process's CPU per streamed token (cpu-ns/token) and the pacing achieved
// (tokens/call). start begins op i's turn with its Pacer (every tokens per
// platform call) and returns a channel closed when the reply's end shows.
// It shuts e down at the end.
func BenchTurnCPU(b *testing.B, e *engine.Engine, tokens, every int, start func(i int, p *Pacer) <-chan struct{}) {
	var calls atomic.Int64
	b.ReportAllocs()
	cpu0, i := ProcessCPU(b), 0
	for b.Loop() {
		i++
		select {
		case <-start(i, NewPacer(every, &calls)):
		case <-time.After(time.Minute):
			b.Fatal("the reply never showed its end")
		}
	}
	e.Shutdown(context.Background())
	cpu := ProcessCPU(b) - cpu0
	n := float64(b.N * tokens)
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/token")
	b.ReportMetric(n/float64(calls.Load()), "tokens/call")
}
