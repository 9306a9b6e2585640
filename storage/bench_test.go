package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatbridge/chatbridge/engine"
)

// bulkConversation writes a conversation of n messages with a write batch
// (no per-message transaction) and returns its id.
func bulkConversation(b *testing.B, s *Store, n int) engine.ConversationID {
	ctx := context.Background()
	c, err := s.ActiveConversation(ctx, "telegram:bench")
	if err != nil {
		b.Fatal(err)
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	body := strings.Repeat("lorem ipsum dolor sit amet ", 8)
	for i := 1; i <= n; i++ {
		m := engine.Message{
			ID: fmt.Sprint(i), Role: engine.RoleUser, Content: fmt.Sprintf("%d %s", i, body),
			Timestamp: base().Add(time.Duration(i) * time.Second), Tokens: 50,
		}
		v, err := encode(m)
		if err != nil {
			b.Fatal(err)
		}
		if err := wb.Set(msgKey(c.ID, uint64(i)), v); err != nil {
			b.Fatal(err)
		}
	}
	if err := wb.Flush(); err != nil {
		b.Fatal(err)
	}
	err = s.db.Update(func(txn *badger.Txn) error {
		rec, err := s.getConv(txn, c.ID)
		if err != nil {
			return err
		}
		rec.NextSeq, rec.MessageCount, rec.TotalTokens = uint64(n+1), n, 50*n
		return putConv(txn, rec)
	})
	if err != nil {
		b.Fatal(err)
	}
	return c.ID
}

// reportLatency reports the median and 99th percentile of lat.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// bigStore returns a reopened store (data in SST files, not memtables)
// holding one conversation of n messages, and that conversation's id.
func bigStore(b *testing.B, n int) (*Store, engine.ConversationID) {
	o := testOptions(b, b.TempDir())
	s, err := Open(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	id := bulkConversation(b, s, n)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	return openStore(b, o), id
}

// BenchmarkRecentMessages50 loads the last 50 messages of a 100,000-message
// conversation.
func BenchmarkRecentMessages50(b *testing.B) {
	s, id := bigStore(b, 100_000)
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		msgs, err := s.RecentMessages(ctx, id, 50)
		lat = append(lat, time.Since(t0))
		if err != nil || len(msgs) != 50 || msgs[49].ID != "100000" {
			b.Fatalf("RecentMessages = %d messages, %v", len(msgs), err)
		}
	}
	reportLatency(b, lat)
}

// BenchmarkVerify100k checks every record of a 100,000-message store.
func BenchmarkVerify100k(b *testing.B) {
	s, _ := bigStore(b, 100_000)
	ctx := context.Background()
	for b.Loop() {
		if n, err := s.Verify(ctx); err != nil || n != 0 {
			b.Fatalf("Verify = %d, %v", n, err)
		}
	}
}

// BenchmarkAppendMessage appends one message per op with SyncWrites on (an
// fsync per commit), as the daemon runs.
func BenchmarkAppendMessage(b *testing.B) {
	s := openStore(b, testOptions(b, b.TempDir()))
	ctx := context.Background()
	c, err := s.ActiveConversation(ctx, "telegram:bench")
	if err != nil {
		b.Fatal(err)
	}
	m := engine.Message{Role: engine.RoleAssistant, Content: strings.Repeat("word ", 100), Model: "m", Tokens: 120,
		Timestamp: base(), Metadata: engine.MessageMeta{FinishReason: "stop", Usage: &engine.Usage{TotalTokens: 120, Cost: 0.001}}}
	var lat []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.AppendMessage(ctx, c.ID, m); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	reportLatency(b, lat)
}
