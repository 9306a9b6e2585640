package telegram_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/bridges/telegram"
	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
	"github.com/chatbridge/chatbridge/storage"
)

// BenchmarkHundredPrivateChats answers 100 private chats at once through
// the fake, under Telegram's published limits (about one message a second
// per chat with short bursts, 30 a second for the bot), with Badger
// storage. Each reply streams 60 deltas over about 3 s. It fails if a
// reply is incomplete or any call came before its retry_after, and
// reports the wall time per round, edits per reply, the edits the chat
// budget would have allowed, and the peak RSS of the process.
func BenchmarkHundredPrivateChats(b *testing.B) {
	const chats, deltasPerReply = 100, 60
	delta := "The quick brown fox jumps over the lazy dog. "
	want := strings.TrimSpace(strings.Repeat(delta, deltasPerReply))
	var edits, calls, floods, replies int
	var elapsed time.Duration
	for b.Loop() {
		fake := telegramtest.NewServer(telegramtest.Options{
			ChatLimit:   telegramtest.Limit{Every: time.Second, Burst: 3},
			GlobalLimit: telegramtest.Limit{Every: time.Second / 30, Burst: 30},
		})
		scripts := make([]enginetest.Script, chats)
		for i := range scripts {
			scripts[i] = enginetest.Script{Delay: 50 * time.Millisecond, Deltas: strings.SplitAfter(strings.Repeat(delta, deltasPerReply), ". ")[:deltasPerReply]}
		}
		store, err := storage.Open(context.Background(), storage.Options{Dir: b.TempDir(), SyncWrites: true})
		if err != nil {
			b.Fatal(err)
		}
		br, err := telegram.New(telegram.Options{APIURL: fake.URL(), Token: fake.Token(), PollTimeout: time.Second})
		if err != nil {
			b.Fatal(err)
		}
		eng, err := engine.New(engine.Options{
			Provider: enginetest.NewProvider(scripts...), Store: store,
			Defaults: engine.Settings{Model: "openai/gpt-4o-mini", Streaming: true, MaxTokens: 1000},
			Access:   map[engine.Platform]engine.Access{telegram.Name: {Everyone: true}},
		})
		if err != nil {
			b.Fatal(err)
		}
		eng.Register(br)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = br.Run(ctx, eng) })

		start := time.Now()
		for i := range chats {
			u := telegramtest.User{ID: int64(10_000 + i), FirstName: "User" + strconv.Itoa(i)}
			fake.SendText(telegramtest.PrivateChat(u), u, "hello")
		}
		deadline := time.Now().Add(2 * time.Minute)
		for done := 0; done < chats; {
			if time.Now().After(deadline) {
				b.Fatalf("after 2 min only %d of %d replies are whole", done, chats)
			}
			time.Sleep(20 * time.Millisecond)
			done = 0
			for i := range chats {
				if m := fake.Messages(int64(10_000 + i)); len(m) == 1 && m[0].Text == want {
					done++
				}
			}
		}
		elapsed += time.Since(start)
		cancel()
		wg.Wait()
		eng.Shutdown(context.Background())
		if err := store.Close(); err != nil {
			b.Fatal(err)
		}
		fake.Close()
		if early := fake.EarlyCalls(); len(early) != 0 {
			b.Fatalf("%d calls came before their retry_after: %+v", len(early), early[0])
		}
		for _, c := range fake.Calls() {
			if c.ErrorCode == 429 {
				floods++
			}
			if c.Method == "getUpdates" || !c.OK {
				continue
			}
			calls++
			if c.Method == "editMessageText" {
				edits++
			}
		}
		replies += chats
	}
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/round")
	b.ReportMetric(float64(edits)/float64(replies), "edits/reply")
	// The bot-wide 30 calls/s shared by 100 chats is the binding budget:
	// calls/s near 30 means the engine used it fully and no more.
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(floods)/float64(b.N), "429s/round")
	b.ReportMetric(peakRSSMiB(), "peak-RSS-MiB")
}

// peakRSSMiB is the process's peak resident set (VmHWM), or 0 where
// /proc is missing.
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f kB", &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}
