package discord

import (
	"testing"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

func BenchmarkRender(b *testing.B) { rendertest.BenchRender(b, Render) }

// BenchmarkRender_Stream renders the sample reply at every 64 bytes of
// growth, as a streamed reply is re-rendered on each edit.
func BenchmarkRender_Stream(b *testing.B) { rendertest.BenchRenderStream(b, Render) }
