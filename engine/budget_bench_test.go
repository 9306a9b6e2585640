package engine

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkBudgetWait measures the budget check the reply stream makes
// before every platform call (typing, send, edit), when a token is there
// to take, so the cost is the check itself and never a sleep:
//
//   - unlimited: a budget without a rate (the console);
//   - limited: a token bucket with tokens to spare (one goroutine);
//   - paused-expired: a pause that has already ended, as after a 429;
//   - chat+bridge: the pair stream.call checks, a chat's budget then the
//     bridge's;
//   - contended: every goroutine (GOMAXPROCS×8) checking one bridge-wide
//     budget at once, as many chats streaming through one bot do.
func BenchmarkBudgetWait(b *testing.B) {
	ctx := context.Background()
	// A rate far above what a benchmark can draw, so Wait never sleeps but
	// still reserves from the limiter.
	plenty := RateSpec{Every: time.Nanosecond, Burst: 1 << 30}
	b.Run("unlimited", func(b *testing.B) {
		bu := newBudget(RateSpec{})
		b.ReportAllocs()
		for b.Loop() {
			if err := bu.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("limited", func(b *testing.B) {
		bu := newBudget(plenty)
		b.ReportAllocs()
		for b.Loop() {
			if err := bu.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("paused-expired", func(b *testing.B) {
		bu := newBudget(plenty)
		bu.Pause(time.Nanosecond)
		time.Sleep(time.Millisecond)
		b.ReportAllocs()
		for b.Loop() {
			if err := bu.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("chat+bridge", func(b *testing.B) {
		chat, bridge := newBudget(plenty), newBudget(plenty)
		b.ReportAllocs()
		for b.Loop() {
			if err := chat.Wait(ctx); err != nil {
				b.Fatal(err)
			}
			if err := bridge.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("contended", func(b *testing.B) {
		bu := newBudget(plenty)
		b.SetParallelism(8)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := bu.Wait(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkBudgets_Get measures finding a chat's budget, done once per
// reply stream, in a bot that has 1,000 chats' budgets; "contended" has
// every goroutine looking up its own chats at once.
func BenchmarkBudgets_Get(b *testing.B) {
	spec := RateSpec{Every: time.Second, Burst: 3}
	keys := make([]string, 1000)
	var bs budgets
	for i := range keys {
		keys[i] = fmt.Sprintf("telegram:%d", 10_000+i)
		bs.get(keys[i], spec)
	}
	b.Run("uncontended", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			bs.get(keys[i%len(keys)], spec)
			i++
		}
	})
	b.Run("contended", func(b *testing.B) {
		b.SetParallelism(8)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				bs.get(keys[i%len(keys)], spec)
				i += 7
			}
		})
	})
}
