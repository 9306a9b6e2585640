package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatbridge/chatbridge/engine"
)

// RecordUsage implements engine.Store.
func (s *Store) RecordUsage(ctx context.Context, at time.Time, user engine.UserID, u engine.Usage) error {
	if hasSep(string(user)) {
		return fmt.Errorf("record usage: invalid user %q", user)
	}
	day := at.UTC().Format(time.DateOnly)
	users := []engine.UserID{""}
	if user != "" {
		users = append(users, user)
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		for _, who := range users {
			var d engine.UsageDay
			if _, err := s.get(txn, usageKey(day, who), &d); err != nil {
				return err
			}
			d.Day = day
			d.Requests++
			d.Usage = d.Usage.Add(u)
			if err := put(txn, usageKey(day, who), d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record usage: %w", err)
	}
	return nil
}

// UsageOn implements engine.Store. A day without usage returns zero totals.
func (s *Store) UsageOn(ctx context.Context, day string, user engine.UserID) (engine.UsageDay, error) {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return engine.UsageDay{}, fmt.Errorf("usage on %q: want a day as YYYY-MM-DD", day)
	}
	var d engine.UsageDay
	if hasSep(string(user)) {
		return engine.UsageDay{Day: day}, nil
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		d = engine.UsageDay{}
		_, err := s.get(txn, usageKey(day, user), &d)
		return err
	})
	if err != nil {
		return engine.UsageDay{}, fmt.Errorf("usage on %s: %w", day, err)
	}
	d.Day = day
	return d, nil
}

// PutReply implements engine.Store. A reply's Key must not change between
// calls with the same ID.
func (s *Store) PutReply(ctx context.Context, r engine.ReplyState) error {
	if r.ID == "" || hasSep(r.ID) {
		return fmt.Errorf("put reply: invalid id %q", r.ID)
	}
	if hasSep(string(r.Key)) {
		return fmt.Errorf("put reply: conversation key %q contains NUL", r.Key)
	}
	r.UpdatedAt = r.UpdatedAt.UTC().Round(0)
	rk := append(replyPrefix(r.Key), r.ID...)
	uk := append(unfinishedPrefix(r.Key), r.ID...)
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := put(txn, rk, r); err != nil {
			return err
		}
		if r.Status.Finished() {
			return txn.Delete(uk)
		}
		return txn.Set(uk, encodeRaw(nil))
	})
	if err != nil {
		return fmt.Errorf("put reply %q: %w", r.ID, err)
	}
	return nil
}

// UnfinishedReplies implements engine.Store: a scan of the small index of
// pending and streaming replies. They come ordered by UpdatedAt, then ID.
func (s *Store) UnfinishedReplies(ctx context.Context) ([]engine.ReplyState, error) {
	out := []engine.ReplyState{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		out = out[:0]
		var keys [][]byte
		err := scanKeys(txn, []byte(pUnfinished), func(k []byte) error {
			keys = append(keys, append([]byte(pReply), k[len(pUnfinished):]...))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			var r engine.ReplyState
			found, err := s.get(txn, k, &r)
			if err != nil {
				return err
			}
			if found && !r.Status.Finished() {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unfinished replies: %w", err)
	}
	slices.SortFunc(out, func(a, b engine.ReplyState) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// MarkSeen implements engine.Store. The record expires after ttl rounded up
// to whole seconds (Badger's TTL granularity); ttl <= 0 means 24 hours.
// Expiry follows the real clock, not Options.Now.
func (s *Store) MarkSeen(ctx context.Context, p engine.Platform, id engine.EventID, ttl time.Duration) (bool, error) {
	if p == "" || hasSep(string(p)) {
		return false, fmt.Errorf("mark seen: invalid platform %q", p)
	}
	if ttl <= 0 {
		ttl = defaultSeenTTL
	}
	k := seenKey(p, id)
	var seen bool
	err := s.update(ctx, func(txn *badger.Txn) error {
		_, err := txn.Get(k)
		if err == nil {
			seen = true
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		seen = false
		e := badger.NewEntry(k, encodeRaw(nil))
		e.ExpiresAt = expiresAt(time.Now(), ttl)
		return txn.SetEntry(e)
	})
	if err != nil {
		return false, fmt.Errorf("mark seen %s/%s: %w", p, id, err)
	}
	return seen, nil
}

// expiresAt is the Unix second at which a record written at now with ttl
// expires: rounded up, so it lives at least ttl.
func expiresAt(now time.Time, ttl time.Duration) uint64 {
	end := now.Add(ttl)
	sec := end.Unix()
	if end.After(time.Unix(sec, 0)) {
		sec++
	}
	return uint64(sec)
}
