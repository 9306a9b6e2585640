package engine

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func BenchmarkSplit(b *testing.B) {
	reply := splitReply(20000)
	for _, bc := range []struct {
		name  string
		text  string
		limit int
		unit  LenUnit
	}{
		{"reply-20k-utf16-4096", reply, 4096, UTF16},
		{"reply-20k-runes-2000", reply, 2000, Runes},
		{"one-word-20k-utf16-4096", strings.Repeat("x", 20000), 4096, UTF16},
		{"emoji-20k-utf16-4096", strings.Repeat("👨‍👩‍👧 ", 4000), 4096, UTF16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			b.ReportAllocs()
			for b.Loop() {
				Split(bc.text, bc.limit, bc.unit)
			}
		})
	}

	// The reply stream re-splits the whole text at every flush of a growing
	// reply: one iteration is the 200 splits of one 20k reply.
	b.Run("growing-200-steps-utf16-4096", func(b *testing.B) {
		var ends []int
		for i := 1; i <= 200; i++ {
			n := len(reply) * i / 200
			for n < len(reply) && !utf8.RuneStart(reply[n]) {
				n++
			}
			ends = append(ends, n)
		}
		b.ReportAllocs()
		for b.Loop() {
			for _, n := range ends {
				Split(reply[:n], 4096, UTF16)
			}
		}
	})
}
