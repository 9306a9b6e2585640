package console

import (
	"context"
	"io"
	"testing"

	"github.com/chatbridge/chatbridge/engine"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

func BenchmarkRender(b *testing.B) {
	md := rendertest.SampleReply()
	for _, tty := range []bool{false, true} {
		b.Run(map[bool]string{false: "pipe", true: "tty"}[tty], func(b *testing.B) {
			b.SetBytes(int64(len(md)))
			b.ReportAllocs()
			for b.Loop() {
				Render(md, tty)
			}
		})
	}
}

// BenchmarkRender_Stream renders the sample reply as it grows, the way a
// streamed reply is re-rendered on each edit: one op is one whole reply,
// rendered at every 64 bytes of growth (and at the end).
func BenchmarkRender_Stream(b *testing.B) {
	md := rendertest.SampleReply()
	cuts := rendertest.GrowthCuts(md)
	for _, tty := range []bool{false, true} {
		b.Run(map[bool]string{false: "pipe", true: "tty"}[tty], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, c := range cuts {
					Render(md[:c], tty)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cuts))/1e3, "µs/edit")
		})
	}
}

// BenchmarkEdit_Stream is what the console does per edit of a streamed
// reply: the replier's Edit renders the whole text, then redraws the
// changed lines in place (a terminal) or writes the new suffix (a pipe),
// here to io.Discard. One op is one whole reply: a Send and an Edit at
// every 64 bytes of growth.
func BenchmarkEdit_Stream(b *testing.B) {
	md := rendertest.SampleReply()
	cuts := rendertest.GrowthCuts(md)
	ctx := context.Background()
	for _, tty := range []bool{false, true} {
		b.Run(map[bool]string{false: "pipe", true: "tty"}[tty], func(b *testing.B) {
			br := New(Options{Out: io.Discard, TTY: tty, Width: 100})
			r := newReplier(br.term, maxLenRunes)
			b.ReportAllocs()
			for b.Loop() {
				id, err := r.Send(ctx, engine.Outgoing{Text: md[:cuts[0]]})
				if err != nil {
					b.Fatal(err)
				}
				for _, c := range cuts[1:] {
					if err := r.Edit(ctx, id, engine.Outgoing{Text: md[:c]}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cuts))/1e3, "µs/edit")
		})
	}
}
