package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/chatbridge/chatbridge/cmd/chatbridge/internal/config"
	"github.com/chatbridge/chatbridge/storage"
)

// Backup files. A backup is Badger's backup stream (storage.Store.Backup),
// as is or encrypted with age to storage.backup_age_recipients. Scheduled
// backups are named chatbridge-YYYYMMDD-HHMMSS.backup (.backup.age when
// encrypted) after the UTC time they were taken.
const (
	backupPrefix     = "chatbridge-"
	backupTimeLayout = "20060102-150405"
	backupExt        = ".backup"
	ageExt           = ".age"
	// tempMarker is in the name of a backup being written; such files are
	// hidden (a leading dot) and never match the backup name pattern.
	tempMarker = ".tmp-"
	// backupRetryMax bounds the wait before a failed scheduled backup is
	// tried again.
	backupRetryMax = 10 * time.Minute
	// writeBufSize is the buffer between a backup stream and its file.
	writeBufSize = 256 << 10
)

// ageHeader starts every binary age file; armoredAgeHeader an armored one.
const (
	ageHeader        = "age-encryption.org/v1"
	armoredAgeHeader = "-----BEGIN AGE ENCRYPTED FILE-----"
)

// backupSource is what a backup is taken from; *storage.Store is one.
type backupSource interface {
	// Backup writes a consistent backup to w and blocks until it is done.
	Backup(ctx context.Context, w io.Writer) error
}

var _ backupSource = (*storage.Store)(nil)

// runBackups takes a backup of st into storage.backup_dir every
// storage.backup_interval until ctx ends, then returns; with an interval of
// 0 (backups off) it returns at once.
//
// The first backup is due one interval after the newest one already in
// backup_dir, or at once when there is none, so restarts neither skip nor
// repeat backups. Each backup is a consistent snapshot written to a hidden
// temporary file (mode 0600) in backup_dir (created with mode 0700), synced
// and renamed into place; then the newest backup_keep files named like
// backups are kept and older ones deleted. Other files in backup_dir are
// never touched, except hidden temporary files a crash left behind, which
// are removed at start: backup_dir belongs to one data directory. A failed
// backup is logged and tried again after the interval or ten minutes,
// whichever is shorter. A backup cut short because ctx ended leaves no file
// and is not reported.
//
// onDone, when not nil, is called from runBackups' goroutine, one call at
// a time, after each scheduled backup with the time it was taken (the time
// in its name) and its error; at start it is also called with the time of
// the newest backup already in backup_dir, if any, and a nil error, so that
// /status shows the age of the last backup across restarts. It must not
// block for long.
//
// runBackups does not close st. The caller must wait for it to return
// before closing st (see startBackups).
func runBackups(ctx context.Context, cfg *config.Config, st *storage.Store, log *slog.Logger, onDone func(at time.Time, err error)) {
	runBackupsFrom(ctx, cfg, st, log, onDone)
}

// runBackupsFrom is runBackups for any backup source.
func runBackupsFrom(ctx context.Context, cfg *config.Config, src backupSource, log *slog.Logger, onDone func(at time.Time, err error)) {
	s, err := newBackupSchedule(cfg, src, log, onDone)
	if err != nil {
		log.Error("scheduled backups", "err", err)
		s.report(time.Now(), err)
		return
	}
	if s.every <= 0 {
		log.Info("scheduled backups are off (storage.backup_interval = 0)")
		return
	}
	s.run(ctx)
}

// startBackups runs runBackups in a new goroutine and returns a function
// that stops it and waits until it has returned (a backup in progress is
// cut short), after which st may be closed. stop may be called more than
// once.
func startBackups(ctx context.Context, cfg *config.Config, st *storage.Store, log *slog.Logger, onDone func(at time.Time, err error)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runBackups(ctx, cfg, st, log, onDone)
	}()
	return func() {
		cancel()
		<-done
	}
}

// backupSchedule is the state of runBackups.
type backupSchedule struct {
	src    backupSource
	dir    string
	every  time.Duration
	keep   int
	recips []age.Recipient
	log    *slog.Logger
	onDone func(time.Time, error)
}

// newBackupSchedule reads the schedule from cfg. The returned schedule is
// usable for report even when err is not nil.
func newBackupSchedule(cfg *config.Config, src backupSource, log *slog.Logger, onDone func(time.Time, error)) (*backupSchedule, error) {
	s := &backupSchedule{
		src:    src,
		dir:    cfg.Storage.BackupDir,
		every:  cfg.Storage.BackupInterval.Duration,
		keep:   max(cfg.Storage.BackupKeep, 1),
		log:    log.With("component", "backups"),
		onDone: onDone,
	}
	if s.dir == "" {
		s.dir = filepath.Join(cfg.Storage.Dir, "backups")
	}
	recips, err := cfg.Storage.AgeRecipients()
	if err != nil {
		return s, err
	}
	s.recips = recips
	return s, nil
}

// report passes a backup's outcome to onDone.
func (s *backupSchedule) report(at time.Time, err error) {
	if s.onDone != nil {
		s.onDone(at, err)
	}
}

// run takes backups on schedule until ctx ends.
func (s *backupSchedule) run(ctx context.Context) {
	s.removeTemps()
	now := time.Now()
	next := now
	if last, ok := s.newest(); ok {
		s.report(last, nil)
		// A backup dated in the future (the clock went back) does not
		// postpone the next one.
		if last.Before(now) {
			next = last.Add(s.every)
		}
	}
	s.log.Info("scheduled backups", "dir", s.dir, "every", s.every, "keep", s.keep,
		"encrypted", len(s.recips) > 0, "next", next.Format(time.RFC3339))
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		at := time.Now()
		path, size, err := s.once(ctx, at)
		if ctx.Err() != nil {
			return // cut short by shutdown: neither a backup nor a failure
		}
		wait := s.every
		if err != nil {
			wait = min(s.every, backupRetryMax)
			s.log.Error("scheduled backup failed", "err", err, "retry_in", wait)
		} else {
			s.log.Info("backup written", "file", path, "bytes", size, "took", time.Since(at).Round(time.Millisecond))
		}
		s.report(at, err)
		timer.Reset(time.Until(at.Add(wait)))
	}
}

// once writes the backup taken at at and prunes old ones. It returns the
// file's path and size.
func (s *backupSchedule) once(ctx context.Context, at time.Time) (string, int64, error) {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return "", 0, fmt.Errorf("create backup_dir: %w", err)
	}
	name := backupFileName(at, len(s.recips) > 0)
	path := filepath.Join(s.dir, name)
	var size int64
	err := writeFileAtomic(path, true, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		err := writeBackup(ctx, cw, s.src, s.recips)
		size = cw.n
		return err
	})
	if err != nil {
		return "", 0, err
	}
	s.prune(name)
	return path, size, nil
}

// backupFileName is the name of a scheduled backup taken at at.
func backupFileName(at time.Time, encrypted bool) string {
	name := backupPrefix + at.UTC().Format(backupTimeLayout) + backupExt
	if encrypted {
		name += ageExt
	}
	return name
}

// parseBackupName returns the time in a scheduled backup's file name, and
// false for any name not made by backupFileName.
func parseBackupName(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, backupPrefix)
	if !ok {
		return time.Time{}, false
	}
	rest = strings.TrimSuffix(rest, ageExt)
	stamp, ok := strings.CutSuffix(rest, backupExt)
	if !ok || len(stamp) != len(backupTimeLayout) {
		return time.Time{}, false
	}
	at, err := time.Parse(backupTimeLayout, stamp)
	if err != nil || at.Format(backupTimeLayout) != stamp {
		return time.Time{}, false
	}
	return at, true
}

// backupFile is a scheduled backup found in backup_dir.
type backupFile struct {
	name string
	at   time.Time
}

// list returns the scheduled backups in backup_dir, newest first: regular
// files whose names parse, nothing else.
func (s *backupSchedule) list() ([]backupFile, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backup_dir: %w", err)
	}
	var out []backupFile
	for _, e := range entries {
		at, ok := parseBackupName(e.Name())
		if ok && e.Type().IsRegular() {
			out = append(out, backupFile{e.Name(), at})
		}
	}
	slices.SortFunc(out, func(a, b backupFile) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return strings.Compare(b.name, a.name)
	})
	return out, nil
}

// newest returns the time of the newest scheduled backup in backup_dir.
func (s *backupSchedule) newest() (time.Time, bool) {
	files, err := s.list()
	if err != nil {
		s.log.Warn("looking for earlier backups", "err", err)
	}
	if len(files) == 0 {
		return time.Time{}, false
	}
	return files[0].at, true
}

// prune deletes all but the newest keep scheduled backups, never the one
// named written (the backup just taken, whatever the names of the others).
func (s *backupSchedule) prune(written string) {
	files, err := s.list()
	if err != nil {
		s.log.Warn("pruning old backups", "err", err)
		return
	}
	kept := 1 // written
	for _, f := range files {
		if f.name == written {
			continue
		}
		if kept < s.keep {
			kept++
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, f.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("deleting an old backup", "file", f.name, "err", err)
			continue
		}
		s.log.Info("deleted an old backup", "file", f.name, "keep", s.keep)
	}
}

// removeTemps deletes the temporary files of backups a crash interrupted.
func (s *backupSchedule) removeTemps() {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "."+backupPrefix) && strings.Contains(n, tempMarker) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(s.dir, n)); err != nil {
				s.log.Warn("removing an unfinished backup", "file", n, "err", err)
			}
		}
	}
}

// writeBackup writes a backup of src to w, encrypted with age to recips
// when there are any. It stops with ctx's error when ctx ends while it
// writes.
func writeBackup(ctx context.Context, w io.Writer, src backupSource, recips []age.Recipient) error {
	w = &ctxWriter{ctx: ctx, w: w}
	if len(recips) == 0 {
		return src.Backup(ctx, w)
	}
	aw, err := age.Encrypt(w, recips...)
	if err != nil {
		return fmt.Errorf("encrypt backup: %w", err)
	}
	if err := src.Backup(ctx, aw); err != nil {
		return err
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("encrypt backup: %w", err)
	}
	return nil
}

// writeFileAtomic writes path through fill: into a new hidden temporary
// file (mode 0600) in path's directory, synced, then moved to path. With
// replace false it fails, leaving path alone, when path exists. On any
// error the temporary file is removed and path is untouched.
func writeFileAtomic(path string, replace bool, fill func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tempMarker+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, writeBufSize)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if replace {
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	} else if err := linkNew(tmp, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// linkNew moves tmp to path unless path exists: a hard link, which fails
// when path exists, then the removal of tmp. On a file system without
// hard links it checks and renames instead.
func linkNew(tmp, path string) error {
	err := os.Link(tmp, path)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("write %s: %w", path, fs.ErrExist)
	}
	if err != nil {
		if _, serr := os.Lstat(path); serr == nil {
			return fmt.Errorf("write %s: %w", path, fs.ErrExist)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("write %s: remove temporary file: %w", path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable; where directories cannot be
// synced, the rename is still atomic, only perhaps not yet on disk.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// ctxWriter fails writes once ctx has ended, to cut a backup short.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
