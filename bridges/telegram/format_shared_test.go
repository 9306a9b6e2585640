package telegram

import (
	"sync"
	"testing"

	"github.com/chatbridge/chatbridge/bridges/internal/rendertest"
)

// TestRenderHTML_Concurrent renders prefixes of the sample reply from
// several goroutines at once through the shared goldmark parser: each must
// match the same render done alone (and -race must find nothing).
func TestRenderHTML_Concurrent(t *testing.T) {
	md := rendertest.SampleReply()
	var cuts []int
	for i := 100; i < len(md); i += 397 {
		cuts = append(cuts, i)
	}
	want := make([]string, len(cuts))
	for i, c := range cuts {
		want[i] = RenderHTML(md[:c])
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range cuts {
				i := (k + g) % len(cuts)
				if got := RenderHTML(md[:cuts[i]]); got != want[i] {
					t.Errorf("render of %d bytes differs when concurrent", cuts[i])
					return
				}
			}
		})
	}
	wg.Wait()
}
