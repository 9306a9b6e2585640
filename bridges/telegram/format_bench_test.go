package telegram

import (
	"testing"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

func BenchmarkRenderHTML(b *testing.B) { rendertest.BenchRender(b, RenderHTML) }

// BenchmarkRenderHTML_Stream renders the sample reply at every 64 bytes of
// growth, as a streamed reply is re-rendered on each edit.
func BenchmarkRenderHTML_Stream(b *testing.B) { rendertest.BenchRenderStream(b, RenderHTML) }

func BenchmarkVisibleLen(b *testing.B) {
	h := RenderHTML(rendertest.SampleReply())
	b.ReportAllocs()
	for b.Loop() {
		VisibleLen(h)
	}
}

func BenchmarkValidateHTML(b *testing.B) {
	h := RenderHTML(rendertest.SampleReply())
	b.ReportAllocs()
	for b.Loop() {
		if err := ValidateHTML(h); err != nil {
			b.Fatal(err)
		}
	}
}
