package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatbridge/chatbridge/engine"
)

const (
	// deleteChunk bounds the keys one deleting transaction touches, far
	// below Badger's transaction size limit.
	deleteChunk = 1000
	// replyKeep is how long Sweep keeps finished reply states.
	replyKeep = 7 * 24 * time.Hour
	// vlogDiscardRatio is the garbage share that makes value log GC rewrite
	// a file.
	vlogDiscardRatio = 0.5
)

// Sweep applies retention as of now and returns how many messages it
// removed. With RetentionDays > 0 it deletes messages older than now minus
// RetentionDays, and conversations whose last update is older than that
// (with their messages; a key whose active conversation goes starts afresh).
// Whatever the retention it deletes messages whose conversation is gone
// and finished reply states older than seven days, then lets Badger reclaim
// value-log space. With retention, settings changes older than retention
// go too. Settings and usage are kept. It may block for a while on
// a large database and is safe to run while the store is in use; the caller
// schedules it (Open does not run it). A corrupt record is skipped and
// counted, not fatal.
func (s *Store) Sweep(ctx context.Context, now time.Time) (removed int, err error) {
	if s.retentionDays > 0 {
		cutoff := now.Add(-time.Duration(s.retentionDays) * 24 * time.Hour)
		var ids []engine.ConversationID
		err := s.view(ctx, func(txn *badger.Txn) error {
			ids = ids[:0]
			return scanKeys(txn, []byte(pConv), func(k []byte) error {
				ids = append(ids, engine.ConversationID(k[len(pConv):]))
				return nil
			})
		})
		if err != nil {
			return removed, fmt.Errorf("sweep: %w", err)
		}
		if err := s.deleteOldSettingChanges(ctx, cutoff); err != nil {
			return removed, fmt.Errorf("sweep settings history: %w", err)
		}
		for _, id := range ids {
			n, err := s.expireConv(ctx, id, cutoff)
			removed += n
			if errors.Is(err, engine.ErrCorrupt) {
				s.log.Warn("sweep skipped a conversation", "conversation", id, "err", err)
				continue
			}
			if err != nil {
				return removed, fmt.Errorf("sweep conversation %q: %w", id, err)
			}
		}
	}
	n, err := s.deleteOrphans(ctx)
	removed += n
	if err != nil {
		return removed, fmt.Errorf("sweep orphaned messages: %w", err)
	}
	if err := s.deleteOldReplies(ctx, now.Add(-replyKeep)); err != nil {
		return removed, fmt.Errorf("sweep replies: %w", err)
	}
	if err := s.db.RunValueLogGC(vlogDiscardRatio); err != nil &&
		!errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
		return removed, fmt.Errorf("sweep: value log gc: %w", err)
	}
	return removed, nil
}

// expireConv deletes conversation id when it is older than cutoff, else
// its messages older than cutoff. It returns the messages removed.
func (s *Store) expireConv(ctx context.Context, id engine.ConversationID, cutoff time.Time) (int, error) {
	dropped := false
	err := s.update(ctx, func(txn *badger.Txn) error {
		dropped = false
		rec, err := s.getConv(txn, id)
		if errors.Is(err, engine.ErrNotFound) {
			return nil
		}
		if err != nil || !rec.UpdatedAt.Before(cutoff) {
			return err
		}
		dropped = true
		for _, k := range [][]byte{convKey(id), keyIndexKey(rec.Key, id)} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		if rec.Active {
			return txn.Delete(activeKey(rec.Key))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if dropped {
		return s.deletePrefix(ctx, msgPrefix(id))
	}
	removed := 0
	for {
		n, more, err := s.trimConv(ctx, id, cutoff)
		removed += n
		if err != nil || !more {
			return removed, err
		}
	}
}

// trimConv deletes up to deleteChunk messages older than cutoff from the
// start of conversation id; more reports that a full chunk went.
func (s *Store) trimConv(ctx context.Context, id engine.ConversationID, cutoff time.Time) (n int, more bool, err error) {
	err = s.update(ctx, func(txn *badger.Txn) error {
		n = 0
		rec, err := s.getConv(txn, id)
		if errors.Is(err, engine.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var doomed [][]byte
		errStop := errors.New("stop")
		err = scan(txn, msgPrefix(id), func(item *badger.Item) error {
			var m engine.Message
			if err := s.decodeItem(item, &m); err != nil {
				return err
			}
			if !m.Timestamp.Before(cutoff) || len(doomed) == deleteChunk {
				return errStop
			}
			doomed = append(doomed, item.KeyCopy(nil))
			return nil
		})
		if err != nil && err != errStop {
			return err
		}
		if len(doomed) == 0 {
			return nil
		}
		for _, k := range doomed {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		n = len(doomed)
		rec.MessageCount = max(0, rec.MessageCount-n)
		return putConv(txn, rec)
	})
	return n, n == deleteChunk, err
}

// deleteOrphans deletes messages whose conversation record is gone.
func (s *Store) deleteOrphans(ctx context.Context) (int, error) {
	var orphans []engine.ConversationID
	err := s.view(ctx, func(txn *badger.Txn) error {
		orphans = orphans[:0]
		opt := badger.DefaultIteratorOptions
		opt.PrefetchValues = false
		opt.Prefix = []byte(pMessage)
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Seek(opt.Prefix); it.Valid(); {
			if err := ctx.Err(); err != nil {
				return err
			}
			id, ok := msgConv(it.Item().Key())
			if !ok {
				it.Next()
				continue
			}
			_, err := txn.Get(convKey(id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				orphans = append(orphans, id)
			} else if err != nil {
				return err
			}
			// Skip the rest of this conversation's messages.
			it.Seek([]byte(pMessage + string(id) + "\x01"))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, id := range orphans {
		n, err := s.deletePrefix(ctx, msgPrefix(id))
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// deleteOldReplies deletes finished reply states last updated before cutoff.
func (s *Store) deleteOldReplies(ctx context.Context, cutoff time.Time) error {
	return s.deleteWhere(ctx, []byte(pReply), func(item *badger.Item) (bool, error) {
		var r engine.ReplyState
		err := s.decodeItem(item, &r)
		return err == nil && r.Status.Finished() && r.UpdatedAt.Before(cutoff), err
	})
}

// deleteOldSettingChanges deletes the settings history older than cutoff.
func (s *Store) deleteOldSettingChanges(ctx context.Context, cutoff time.Time) error {
	return s.deleteWhere(ctx, []byte(pSettingOp), func(item *badger.Item) (bool, error) {
		var ch engine.SettingChange
		err := s.decodeItem(item, &ch)
		return err == nil && ch.At.Before(cutoff), err
	})
}

// deleteWhere deletes the records under prefix that doomed picks, in
// chunks. A corrupt record is left alone (it is counted, for a human).
func (s *Store) deleteWhere(ctx context.Context, prefix []byte, doomed func(*badger.Item) (bool, error)) error {
	var keys [][]byte
	err := s.view(ctx, func(txn *badger.Txn) error {
		keys = keys[:0]
		return scan(txn, prefix, func(item *badger.Item) error {
			yes, err := doomed(item)
			switch {
			case errors.Is(err, engine.ErrCorrupt):
				return nil
			case err != nil:
				return err
			case yes:
				keys = append(keys, item.KeyCopy(nil))
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), deleteChunk)]
		keys = keys[len(chunk):]
		err := s.update(ctx, func(txn *badger.Txn) error {
			for _, k := range chunk {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// deletePrefix deletes every key under prefix, deleteChunk keys per
// transaction, and returns how many it deleted.
func (s *Store) deletePrefix(ctx context.Context, prefix []byte) (int, error) {
	removed := 0
	for {
		var keys [][]byte
		err := s.view(ctx, func(txn *badger.Txn) error {
			keys = keys[:0]
			errFull := errors.New("full")
			err := scanKeys(txn, prefix, func(k []byte) error {
				keys = append(keys, append([]byte(nil), k...))
				if len(keys) == deleteChunk {
					return errFull
				}
				return nil
			})
			if err == errFull {
				return nil
			}
			return err
		})
		if err != nil || len(keys) == 0 {
			return removed, err
		}
		err = s.update(ctx, func(txn *badger.Txn) error {
			for _, k := range keys {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		removed += len(keys)
		if len(keys) < deleteChunk {
			return removed, nil
		}
	}
}

// Verify checks the version and checksum of every stored value without
// decoding it, and returns how many are corrupt. Stats().Corrupt then
// counts exactly those. It reads the whole database in one read-only
// transaction (on a personal bot's database, well under a second), is safe
// to run while the store is in use and stops when ctx ends.
func (s *Store) Verify(ctx context.Context) (corrupt int, err error) {
	found := map[string]struct{}{}
	err = s.view(ctx, func(txn *badger.Txn) error {
		clear(found)
		opt := badger.DefaultIteratorOptions
		opt.PrefetchValues = false
		it := txn.NewIterator(opt)
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			item := it.Item()
			err := item.Value(func(b []byte) error {
				_, err := checkValue(b)
				return err
			})
			if errors.Is(err, engine.ErrCorrupt) {
				if len(found) < maxCorruptTracked {
					found[string(item.Key())] = struct{}{}
				}
				continue
			}
			if err != nil {
				return fmt.Errorf("read %q: %w", item.Key(), err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("verify store: %w", err)
	}
	s.corruptMu.Lock()
	s.corrupt = found
	s.corruptMu.Unlock()
	return len(found), nil
}
