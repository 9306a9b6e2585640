package enginetest

import (
	"sync"
	"sync/atomic"
	"time"
)

// Tokens cuts text into model-like tokens of about four bytes: a
// word with its leading space, long words in pieces.
func Tokens(text string) []string {
	var toks []string
	start := 0
	for i, r := range text {
		if i == start {
			continue
		}
		if r == ' ' || r == '\n' || i-start >= 6 {
			toks = append(toks, text[start:i])
			start = i
		}
	}
	return append(toks, text[start:])
}

// Pacer alternates a stream's producer with its flusher so that each
// platform call shows exactly one more burst of `every` tokens: the
// producer hands over a burst, then waits for a call; a call returns only
// when the next burst is in (or the stream has ended). There is no timer
// and no idle gap, so the CPU measured is the work, not the Go runtime's
// and the kernel's cost of waking for each token that trickles in from
// the network (that floor is the engine's BenchmarkWakePerToken). Safe for concurrent use.
type Pacer struct {
	every int
	total *atomic.Int64 // calls over all turns

	mu       sync.Mutex
	cond     sync.Cond
	calls    int64
	bursts   int // bursts handed over
	finished bool
}

func NewPacer(every int, total *atomic.Int64) *Pacer {
	p := &Pacer{every: every, total: total}
	p.cond.L = &p.mu
	return p
}

// Before is called by the producer before token i goes out. After each
// burst it waits until the platform has had a call since, or 20 ms: the
// flusher may have shown the whole burst already (it read the text after
// the burst's last token but called before the burst was counted), and
// then has nothing new to show.
func (p *Pacer) Before(i int) {
	if i == 0 || i%p.every != 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bursts++
	snap := p.calls
	p.cond.Broadcast()
	expired := false
	t := time.AfterFunc(20*time.Millisecond, func() {
		p.mu.Lock()
		expired = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer t.Stop()
	for p.calls <= snap && !expired {
		p.cond.Wait()
	}
}

// End is called by the producer after the last token.
func (p *Pacer) End() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished = true
	p.cond.Broadcast()
}

// Call records a platform call and holds it until the next burst is in.
func (p *Pacer) Call() {
	p.total.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	p.cond.Broadcast()
	for b := p.bursts; !p.finished && p.bursts == b; {
		p.cond.Wait()
	}
}
