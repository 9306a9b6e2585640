package fakelimit

import (
	"testing"
	"time"
)

func TestBucket_BurstThenRefill(t *testing.T) {
	l := Limit{Every: time.Second, Burst: 3}
	var b Bucket
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.Refill(l, now)
	for i := range 3 {
		if w := b.Wait(l); w != 0 {
			t.Fatalf("request %d of the burst waits %v", i+1, w)
		}
		b.Take()
	}
	if w := b.Wait(l); w != time.Second {
		t.Errorf("after the burst: wait %v, want 1s", w)
	}
	if f := b.UntilFull(l); f != 3*time.Second {
		t.Errorf("until full = %v, want 3s", f)
	}
	b.Refill(l, now.Add(1500*time.Millisecond))
	if w := b.Wait(l); w != 0 || b.Tokens() != 1.5 {
		t.Errorf("1.5 s later: wait %v, tokens %v", w, b.Tokens())
	}
	b.Refill(l, now.Add(time.Hour))
	if b.Tokens() != 3 {
		t.Errorf("an hour later the bucket holds %v, want its burst of 3", b.Tokens())
	}
	if (Limit{}).Enabled() || (Limit{Every: time.Second}).Size() != 1 {
		t.Error("zero limit enabled, or a Burst of 0 not counted as 1")
	}
}
