package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/chatbridge/chatbridge/engine"
)

// ErrLocked is wrapped by Open when another process holds the data
// directory: only one chatbridge process can use it at a time.
var ErrLocked = errors.New("data directory locked")

// ErrBadKey is wrapped by Open when the encryption key does not open the
// database: a wrong key, a key for an unencrypted database, or no key for
// an encrypted one.
var ErrBadKey = errors.New("wrong encryption key")

// Low-memory Badger profile: a personal bot idles in tens of MB.
const (
	memTableSize     = 8 << 20
	blockCacheSize   = 8 << 20
	indexCacheSize   = 4 << 20
	valueLogFileSize = 64 << 20
	// valueThreshold keeps ordinary messages in the LSM tree; larger values
	// go to the value log, so a transaction stays far below Badger's batch
	// limit (15% of the memtable).
	valueThreshold = 64 << 10
	// maxConflictRetries bounds the retries of one transaction.
	maxConflictRetries = 1000
	// defaultSeenTTL is used by MarkSeen when ttl <= 0.
	defaultSeenTTL = 24 * time.Hour
)

// Options configure Open.
type Options struct {
	// Dir is the data directory; it is created when missing.
	Dir string
	// SyncWrites makes every commit wait for fsync. Callers should default
	// it to true: a chat turn is a handful of small writes.
	SyncWrites bool
	// RetentionDays is how long Sweep keeps messages; 0 keeps them forever.
	RetentionDays int
	// EncryptionKey, when set, encrypts the database at rest with Badger's
	// own AES encryption; it must be 16, 24 or 32 bytes. The store keeps no
	// reference to the slice after Open returns.
	EncryptionKey []byte
	// Logger receives the store's and Badger's warnings and errors (Badger's
	// chatter goes to debug level); nil uses slog.Default.
	Logger *slog.Logger
	// Now is the clock for creation times and zero message timestamps; nil
	// is time.Now. Seen-event TTLs always use Badger's real clock.
	Now func() time.Time
}

// Store is the Badger engine.Store. It is safe for concurrent use; every
// method may block on disk. Returned values belong to the caller.
type Store struct {
	db            *badger.DB
	log           *slog.Logger
	now           func() time.Time
	retentionDays int
	dir           string
	encrypted     bool // Badger encrypts every value at rest

	secretMu sync.Mutex
	secretID *age.X25519Identity // loaded on first use when not encrypted

	idMu   sync.Mutex
	lastID int64 // last conversation id time, in ms

	corruptMu sync.Mutex
	corrupt   map[string]struct{} // keys found corrupt since Open

	closeOnce sync.Once
	closeErr  error
}

var _ engine.Store = (*Store)(nil)

// Open opens (creating if needed) the database in o.Dir. It blocks while
// Badger replays its logs (tens of milliseconds) and does not run Sweep.
// It fails with an error wrapping ErrLocked when another process uses the
// directory and ErrBadKey when the encryption key does not fit. The caller
// must Close the store.
func Open(ctx context.Context, o Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if o.Dir == "" {
		return nil, errors.New("open store: no data directory")
	}
	if o.RetentionDays < 0 {
		return nil, fmt.Errorf("open store: negative retention_days %d", o.RetentionDays)
	}
	switch len(o.EncryptionKey) {
	case 0, 16, 24, 32:
	default:
		return nil, fmt.Errorf("open store: encryption key is %d bytes, want 16, 24 or 32", len(o.EncryptionKey))
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}

	// Badger leaks a goroutine when it fails on a wrong key, so check the
	// key against the key registry first (read only, no goroutines).
	if err := checkKey(o.Dir, o.EncryptionKey); err != nil {
		return nil, err
	}

	bo := badger.DefaultOptions(o.Dir).
		WithSyncWrites(o.SyncWrites).
		WithLogger(badgerLogger{log.With("component", "badger")}).
		WithMemTableSize(memTableSize).
		WithNumMemtables(2).
		WithNumLevelZeroTables(3).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(2 << 20).
		WithBaseLevelSize(8 << 20).
		WithValueLogFileSize(valueLogFileSize).
		WithValueThreshold(valueThreshold).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithCompression(options.Snappy).
		WithBlockCacheSize(blockCacheSize).
		WithIndexCacheSize(indexCacheSize). // required with encryption
		WithEncryptionKey(append([]byte(nil), o.EncryptionKey...))
	db, err := badger.Open(bo)
	if err != nil {
		return nil, classifyOpenError(o.Dir, err)
	}
	return &Store{
		db:            db,
		log:           log,
		now:           now,
		retentionDays: o.RetentionDays,
		dir:           o.Dir,
		encrypted:     len(o.EncryptionKey) > 0,
		corrupt:       make(map[string]struct{}),
	}, nil
}

func checkKey(dir string, key []byte) error {
	kr, err := badger.OpenKeyRegistry(badger.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: key})
	if err != nil {
		return classifyOpenError(dir, err)
	}
	if err := kr.Close(); err != nil {
		return fmt.Errorf("open store: close key registry: %w", err)
	}
	return nil
}

func classifyOpenError(dir string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Cannot acquire directory lock"):
		return fmt.Errorf("open store: %w: another chatbridge process is using the data directory %s", ErrLocked, dir)
	case errors.Is(err, badger.ErrEncryptionKeyMismatch) || strings.Contains(msg, badger.ErrEncryptionKeyMismatch.Error()):
		return fmt.Errorf("open store: %w: the key does not open the database in %s "+
			"(or the database was created with a different encryption setting): %w", ErrBadKey, dir, err)
	}
	return fmt.Errorf("open store %s: %w", dir, err)
}

// Close flushes and closes the database and stops Badger's goroutines. It
// may block while memtables are written. Later calls return the first
// result; other methods fail after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

// Stats implements engine.Store: the number of conversations (a key-only
// scan), Badger's size on disk (LSM tree and value log, refreshed by Badger
// every minute) and the number of distinct records found corrupt since Open.
func (s *Store) Stats(ctx context.Context) (engine.StoreStats, error) {
	n := 0
	err := s.view(ctx, func(txn *badger.Txn) error {
		n = 0
		return scanKeys(txn, []byte(pConv), func([]byte) error { n++; return nil })
	})
	if err != nil {
		return engine.StoreStats{}, fmt.Errorf("store stats: %w", err)
	}
	lsm, vlog := s.db.Size()
	return engine.StoreStats{Conversations: n, SizeBytes: lsm + vlog, Corrupt: s.corruptCount()}, nil
}

// update runs fn in a read-write transaction, retrying on conflicts. fn runs
// again from scratch on each attempt, so it must reset what it captures.
func (s *Store) update(ctx context.Context, fn func(txn *badger.Txn) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.db.Update(fn)
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if attempt >= maxConflictRetries {
			return fmt.Errorf("gave up after %d conflicts: %w", attempt+1, err)
		}
		backoff := time.Duration(rand.Int64N(int64(50*time.Microsecond) << min(attempt, 6)))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// badgerLogger sends Badger's log to slog: errors and warnings as such,
// everything else at debug level (Badger is chatty).
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) { b.logf(slog.LevelError, f, a) }

func (b badgerLogger) Warningf(f string, a ...any) {
	level := slog.LevelWarn
	if strings.Contains(f, "might be too small") || strings.HasPrefix(f, "Cache life expectancy") {
		level = slog.LevelDebug // the caches are small on purpose
	}
	b.logf(level, f, a)
}

func (b badgerLogger) Infof(f string, a ...any)  { b.logf(slog.LevelDebug, f, a) }
func (b badgerLogger) Debugf(f string, a ...any) { b.logf(slog.LevelDebug, f, a) }

func (b badgerLogger) logf(level slog.Level, f string, a []any) {
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return
	}
	b.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(f, a...)))
}
