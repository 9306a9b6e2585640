package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dgraph-io/badger/v4"
)

// maxPendingWrites bounds the write batches Restore keeps in flight.
const maxPendingWrites = 16

// Backup writes a full, consistent backup of the database to w in Badger's
// backup format (DB.Backup). The stream is plaintext even when the
// database is encrypted: the caller protects the file. It blocks until the
// whole database is written; ctx is checked before it starts only. Safe to
// call while the store is in use.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// DB.Backup's stream batches up to 100 MB, several at once: on a 1 GB
	// database that held about 1 GB of heap. Small batches keep a backup
	// in the background of a running bot at tens of MB.
	stream := s.db.NewStream()
	stream.LogPrefix = "chatbridge backup"
	stream.MaxSize = backupBatchBytes
	stream.NumGo = 1
	if _, err := stream.Backup(w, 0); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// backupBatchBytes bounds one batch of Backup's stream.
const backupBatchBytes = 4 << 20

// Restore loads a backup written by Backup into the store, which must be
// empty (just created). It blocks until the backup is loaded and must not
// run concurrently with other writes; ctx is checked before it starts only.
func (s *Store) Restore(ctx context.Context, r io.Reader) error {
	err := s.view(ctx, func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.PrefetchValues = false
		it := txn.NewIterator(opt)
		defer it.Close()
		if it.Rewind(); it.Valid() {
			return errors.New("the store is not empty")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := s.db.Load(r, maxPendingWrites); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}
