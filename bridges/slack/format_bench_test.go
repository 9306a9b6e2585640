package slack

import (
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

func BenchmarkRender(b *testing.B) { rendertest.BenchRender(b, Render) }

// BenchmarkRender_Stream renders the sample reply at every 64 bytes of
// growth, as a streamed reply is re-rendered on each edit.
func BenchmarkRender_Stream(b *testing.B) { rendertest.BenchRenderStream(b, Render) }

func BenchmarkPlainText(b *testing.B) {
	md := rendertest.SampleReply()
	b.SetBytes(int64(len(md)))
	b.ReportAllocs()
	for b.Loop() {
		PlainText(md)
	}
}

// BenchmarkRender_ManyMarkers renders 40 KB of markers Markdown leaves
// literal, on one line: the finishing passes must stay linear.
func BenchmarkRender_ManyMarkers(b *testing.B) {
	md := strings.Repeat("*a _b ~c `d ", 4000)
	b.SetBytes(int64(len(md)))
	b.ReportAllocs()
	for b.Loop() {
		Render(md)
	}
}
