package engine

import (
	"context"
	"sync"
	"time"
)

// dedupeTTL is how long an inbound event id is remembered.
const dedupeTTL = 48 * time.Hour

// inflightTTL bounds how long an event counts as in flight if its end is
// never noted (it cannot be: every path notes it; this is a backstop).
const inflightTTL = 10 * time.Minute

// donePrefix marks the stored id of an event whose handling reached its
// end: its user turn stored, or its command run.
const donePrefix = "done:"

// dedupe drops an event the platform delivers again, so it gets no second
// answer, and never drops one whose first delivery was lost to a crash.
// Every id of the event is stored with a TTL on receipt; a second key is
// stored once the event's handling has reached its end (handled). A
// redelivered event whose first handling never got that far (the bot was
// killed between receiving it and storing the user's turn) is handled
// again. Events still queued in this process are recognised in memory.
func (e *Engine) dedupe() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, r Replier, ev *Event) {
			ids := eventIDs(ev)
			if len(ids) == 0 {
				next.HandleEvent(ctx, r, ev)
				return
			}
			if e.inflight.has(ev.Platform, ids) {
				e.log.Info("dropped an event delivered again while in flight", "platform", ev.Platform, "id", ev.ID)
				return
			}
			var seenIDs []EventID
			// Every id is marked, even after a hit, so a later delivery
			// under any of them is recognised too.
			for _, id := range ids {
				seen, err := e.store.MarkSeen(ctx, ev.Platform, id, dedupeTTL)
				if err != nil {
					// Answering twice is better than not answering.
					e.log.Warn("dedupe check failed", "err", err)
				} else if seen {
					seenIDs = append(seenIDs, id)
				}
			}
			if len(seenIDs) > 0 {
				done := false
				for _, id := range seenIDs {
					d, err := e.store.MarkSeen(ctx, ev.Platform, donePrefix+id, dedupeTTL)
					done = done || err == nil && d
				}
				if done {
					e.log.Info("dropped a redelivered event", "platform", ev.Platform, "id", ev.ID)
					return
				}
				e.log.Warn("an event seen before was never handled to the end (a crash?); handling it now", "platform", ev.Platform, "id", ev.ID)
			}
			e.inflight.add(ev.Platform, ids)
			next.HandleEvent(ctx, r, ev)
			if !ev.queued {
				e.handled(ctx, ev)
			}
		})
	}
}

// handled notes that an event's handling reached its end: a redelivery is
// from now on a duplicate. Safe to call more than once.
func (e *Engine) handled(ctx context.Context, ev *Event) {
	ids := eventIDs(ev)
	if len(ids) == 0 {
		return
	}
	for _, id := range ids {
		if _, err := e.store.MarkSeen(context.WithoutCancel(ctx), ev.Platform, donePrefix+id, dedupeTTL); err != nil {
			e.log.Warn("dedupe: noting a handled event failed", "err", err)
		}
	}
	e.inflight.remove(ev.Platform, ids)
}

func eventIDs(ev *Event) []EventID {
	var out []EventID
	for _, id := range append([]EventID{ev.ID}, ev.AltIDs...) {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// inflightSet holds the ids of events received and not yet handled. Safe
// for concurrent use.
type inflightSet struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func (s *inflightSet) add(p Platform, ids []EventID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]time.Time)
	}
	now := time.Now()
	for k, at := range s.m {
		if now.Sub(at) > inflightTTL {
			delete(s.m, k)
		}
	}
	for _, id := range ids {
		s.m[string(p)+"\x00"+string(id)] = now
	}
}

func (s *inflightSet) has(p Platform, ids []EventID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if at, ok := s.m[string(p)+"\x00"+string(id)]; ok && time.Since(at) <= inflightTTL {
			return true
		}
	}
	return false
}

func (s *inflightSet) remove(p Platform, ids []EventID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.m, string(p)+"\x00"+string(id))
	}
}
