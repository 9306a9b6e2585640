package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
	"github.com/chatbridge/chatbridge/storage"
)

// DirSize is the total size of the regular files under dir.
func DirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			info, err := e.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return n, nil
}

// EnsureDatabase returns a data directory of at least size bytes on disk
// under cacheDir, generating it through the storage package the first
// time (conversations of chat-sized messages of random words, so Snappy
// cannot shrink them much). A finished database is marked by a file next
// to it, so an interrupted generation starts over.
func EnsureDatabase(ctx context.Context, cacheDir string, size int64, logf func(string, ...any)) (string, error) {
	dir := filepath.Join(cacheDir, "db-"+strconv.FormatInt(size, 10))
	marker := dir + ".done"
	if _, err := os.Stat(marker); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clear partial database: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("make database dir: %w", err)
	}
	logf("generating a %s database in %s (once; later runs reuse it)", mib(size), dir)
	start := time.Now()
	st, err := storage.Open(ctx, storage.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return "", fmt.Errorf("open database to fill: %w", err)
	}
	var (
		written atomic.Int64
		stop    atomic.Bool
		wg      sync.WaitGroup
		errMu   sync.Mutex
		firstEr error
	)
	const workers, perConversation = 2, 2000
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for c := 0; !stop.Load(); c++ {
				key := engine.KeyFor("telegram", engine.ChatID(strconv.Itoa(w*1_000_000+c)), "")
				conv, err := st.ActiveConversation(ctx, key)
				for m := 0; err == nil && m < perConversation && !stop.Load(); m++ {
					role := engine.RoleUser
					if m%2 == 1 {
						role = engine.RoleAssistant
					}
					text := randomText(rng, 200+rng.IntN(1800))
					_, err = st.AppendMessage(ctx, conv.ID, engine.Message{Role: role, Content: text, Model: model, Tokens: len(text) / 4})
					written.Add(int64(len(text)))
				}
				if err != nil {
					errMu.Lock()
					firstEr = errors.Join(firstEr, err)
					errMu.Unlock()
					stop.Store(true)
				}
			}
		})
	}
	// Written bytes lead the files (memtables, compaction), so check the
	// directory only once the text alone would fill it.
	for !stop.Load() {
		if err := sleepCtx(ctx, 2*time.Second); err != nil {
			stop.Store(true)
			break
		}
		if written.Load() < size {
			continue
		}
		n, err := DirSize(dir)
		if err != nil || n >= size {
			stop.Store(true)
		}
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		firstEr = errors.Join(firstEr, err)
	}
	if err := errors.Join(firstEr, ctx.Err()); err != nil {
		return "", fmt.Errorf("fill database: %w", err)
	}
	n, err := DirSize(dir)
	if err != nil {
		return "", err
	}
	logf("database generated: %s on disk, %s of text, in %v", mib(n), mib(written.Load()), time.Since(start).Round(time.Second))
	if err := os.WriteFile(marker, []byte(strconv.FormatInt(n, 10)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("mark database done: %w", err)
	}
	return dir, nil
}

// randomText is n bytes or so of words of random letters.
func randomText(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		for range 2 + rng.IntN(8) {
			b.WriteByte(byte('a' + rng.IntN(26)))
		}
	}
	return b.String()
}

// StartupResult is the start-up of the daemon on one database.
type StartupResult struct {
	Label     string
	DiskBytes int64
	Healthy   []time.Duration // exec to /healthz 200
	FirstPoll []time.Duration // exec to the first getUpdates at the Telegram fake
	RSS       []int64         // VmRSS once ready
	Anon      []int64         // RssAnon startupSettle after ready
	Peak      []int64         // VmHWM startupSettle after ready (background start-up work included)
}

// startupSettle is how long after start-up the peak RSS is read, so that
// work the daemon does in the background once up is counted.
const startupSettle = 3 * time.Second

// StartupCase is one database and configuration to start on.
type StartupCase struct {
	Label      string
	DataDir    string
	StorageExt string // more [storage] keys
}

// MeasureStartup starts the daemon runs times on c (with Telegram enabled
// against its fake) and measures each start-up.
func MeasureStartup(ctx context.Context, bin string, c StartupCase, work string, runs int) (StartupResult, error) {
	label, dataDir := c.Label, c.DataDir
	res := StartupResult{Label: label}
	if _, err := os.Stat(dataDir); err == nil {
		if res.DiskBytes, err = DirSize(dataDir); err != nil {
			return res, err
		}
	}
	for r := range runs {
		if err := startupOnce(ctx, bin, c, filepath.Join(work, fmt.Sprintf("startup-%d-%d", len(label), r)), &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// startupOnce starts the daemon on c once, waits for /healthz and the
// first getUpdates, samples its memory, stops it and adds to res.
func startupOnce(ctx context.Context, bin string, c StartupCase, dir string, res *StartupResult) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("make work dir: %w", err)
	}
	or := openroutertest.NewServer(openroutertest.Options{})
	defer or.Close()
	tg := newTelegram(1)
	defer tg.Close()
	addr, err := FreeAddr()
	if err != nil {
		return err
	}
	section, env := tg.Section()
	// Backups go to this run's own directory: in the cached database's
	// backups/ the first run's backup would spare every later run the
	// backup at start, which is part of what is measured.
	ext := strings.TrimSpace(c.StorageExt + "\n" + fmt.Sprintf("backup_dir = %q", filepath.Join(dir, "backups")))
	d, err := StartDaemon(DaemonConfig{Bin: bin, Dir: dir, DataDir: c.DataDir, Provider: or.URL(), HealthAddr: addr,
		Section: section, Env: env, StorageExt: ext}, or.APIKey())
	if err != nil {
		return err
	}
	defer d.Stop(30 * time.Second) //nolint:errcheck // the explicit Stop below reports
	healthy, err := d.WaitHealthy(ctx, addr, 5*time.Minute)
	if err != nil {
		return err
	}
	if err := d.WaitFor(ctx, "the first getUpdates", time.Minute, 5*time.Millisecond, tg.Ready); err != nil {
		return err
	}
	s, err := ReadProc(d.PID())
	if err != nil {
		return err
	}
	if err := sleepCtx(ctx, startupSettle); err != nil {
		return err
	}
	later, err := ReadProc(d.PID())
	if err != nil {
		return err
	}
	polls := tg.fake.CallsTo("getUpdates")
	res.Healthy = append(res.Healthy, healthy)
	res.FirstPoll = append(res.FirstPoll, polls[0].At.Sub(d.Started))
	res.RSS = append(res.RSS, s.RSS)
	res.Peak = append(res.Peak, later.HWM)
	res.Anon = append(res.Anon, later.Anon)
	if err := d.Stop(30 * time.Second); err != nil {
		return err
	}
	return nil
}

// StartupTable renders start-up results.
func StartupTable(rs []StartupResult) Table {
	t := Table{Header: []string{"database", "on disk", "runs", "exec → /healthz 200 (min / median / max)",
		"exec → first getUpdates (min / median / max)", "RSS once ready (median)", "peak RSS in the first 3 s (median)", "anonymous RSS after 3 s (median)"}}
	rng := func(ds []time.Duration) string {
		s := slices.Clone(ds)
		slices.Sort(s)
		return fmt.Sprintf("%s / %s / %s", ms(s[0]), ms(Percentile(s, 50)), ms(s[len(s)-1]))
	}
	for _, r := range rs {
		if len(r.Healthy) == 0 {
			continue
		}
		t.Rows = append(t.Rows, []string{r.Label, mib(r.DiskBytes), strconv.Itoa(len(r.Healthy)),
			rng(r.Healthy), rng(r.FirstPoll), mib(median(r.RSS)), mib(median(r.Peak)), mib(median(r.Anon))})
	}
	return t
}

// median is the middle value of xs (the upper one of an even count), or
// 0 for none.
func median(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
