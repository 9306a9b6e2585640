package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"filippo.io/age"
	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/cmd/chatbridge/internal/config"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/storage"
)

// checkLeaks fails the test when goroutines it started outlive it and its
// cleanups. Call it first.
func checkLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// testLogger logs warnings and errors to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openTestStore opens a store in dir and closes it when the test ends.
func openTestStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), storage.Options{Dir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return st
}

// seedStore writes a two-turn conversation per key.
func seedStore(t *testing.T, st *storage.Store, keys ...engine.ConversationKey) {
	t.Helper()
	ctx := context.Background()
	for _, key := range keys {
		c, err := st.ActiveConversation(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range []engine.Message{
			{Role: engine.RoleUser, Content: "hello from " + string(key)},
			{Role: engine.RoleAssistant, Content: "You said: hello from " + string(key), Model: "openai/gpt-4o-mini", Tokens: 7},
		} {
			m.Timestamp = time.Date(2025, 3, 14, 9, 0, i, 0, time.UTC)
			if _, err := st.AppendMessage(ctx, c.ID, m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// exportAll is every conversation of st as the contract's JSON.
func exportAll(t *testing.T, st engine.Store) string {
	t.Helper()
	ctx := context.Background()
	convs, err := st.Conversations(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var all []engine.ConversationExport
	for _, c := range convs {
		msgs, err := st.Messages(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, engine.ConversationExport{Conversation: c, Messages: msgs})
	}
	var buf bytes.Buffer
	if err := engine.ExportJSONMany(&buf, all); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// restoreInto loads the backup r into a new store in a new directory and
// returns the store.
func restoreInto(t *testing.T, r io.Reader) *storage.Store {
	t.Helper()
	st := openTestStore(t, filepath.Join(t.TempDir(), "restored"))
	if err := st.Restore(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return st
}

// backupConfig is a config with scheduled backups into dir.
func backupConfig(dir string, every time.Duration, keep int) *config.Config {
	cfg := config.Default()
	cfg.Storage.BackupDir = dir
	cfg.Storage.BackupInterval.Duration = every
	cfg.Storage.BackupKeep = keep
	return cfg
}

// doneLog records onDone calls.
type doneLog struct {
	mu    sync.Mutex
	calls []doneCall
}

type doneCall struct {
	at  time.Time
	err error
}

func (d *doneLog) onDone(at time.Time, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, doneCall{at, err})
}

func (d *doneLog) get() []doneCall {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

// dirNames lists dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// t0 is where synctest's clock starts.
var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRunBackups_Schedule(t *testing.T) {
	checkLeaks(t)
	st := openTestStore(t, filepath.Join(t.TempDir(), "data"))
	seedStore(t, st, "telegram:1", "discord:2")
	want := exportAll(t, st)
	dir := filepath.Join(t.TempDir(), "backups")
	var done doneLog

	synctest.Test(t, func(t *testing.T) {
		if !time.Now().Equal(t0) {
			t.Fatalf("synctest's clock starts at %v, want %v", time.Now(), t0)
		}
		ctx, cancel := context.WithCancel(t.Context())
		stop := make(chan struct{})
		go func() {
			defer close(stop)
			runBackups(ctx, backupConfig(dir, time.Hour, 3), st, testLogger(t), done.onDone)
		}()

		// No backup yet: the first is taken at once.
		synctest.Wait()
		if got := dirNames(t, dir); !slices.Equal(got, []string{"chatbridge-20000101-000000.backup"}) {
			t.Fatalf("after start: %q", got)
		}
		time.Sleep(59 * time.Minute)
		synctest.Wait()
		if got := dirNames(t, dir); len(got) != 1 {
			t.Fatalf("a backup before the interval: %q", got)
		}

		time.Sleep(5*time.Hour + time.Minute) // to 06:00
		synctest.Wait()
		want := []string{"chatbridge-20000101-040000.backup", "chatbridge-20000101-050000.backup", "chatbridge-20000101-060000.backup"}
		if got := dirNames(t, dir); !slices.Equal(got, want) {
			t.Fatalf("after 6h: %q, want the 3 newest %q", got, want)
		}
		calls := done.get()
		if len(calls) != 7 {
			t.Fatalf("onDone called %d times, want 7: %v", len(calls), calls)
		}
		for i, c := range calls {
			if !c.at.Equal(t0.Add(time.Duration(i)*time.Hour)) || c.err != nil {
				t.Errorf("onDone call %d = %v, %v; want %v, nil", i, c.at, c.err, t0.Add(time.Duration(i)*time.Hour))
			}
		}
		cancel()
		<-stop
	})

	info, err := os.Stat(dir)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("backup_dir mode = %v, %v; want 0700", info.Mode().Perm(), err)
	}
	for _, name := range dirNames(t, dir) {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, %v; want 0600", name, info.Mode().Perm(), err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "chatbridge-20000101-060000.backup"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := exportAll(t, restoreInto(t, f)); got != want {
		t.Errorf("the restored backup differs:\n got %s\nwant %s", got, want)
	}
}

func TestRunBackups_ExistingFilesAndAge(t *testing.T) {
	checkLeaks(t)
	st := openTestStore(t, filepath.Join(t.TempDir(), "data"))
	seedStore(t, st, "slack:C1")
	want := exportAll(t, st)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	others := []string{
		"notes.txt", "chatbridge-19991231-230000.backup.bak", "chatbridge-latest.backup",
		"other-19991231-230000.backup", "chatbridge-19991231-2300.backup", "chatbridge-19991332-230000.backup",
		"Chatbridge-19991231-230000.backup",
	}
	for _, name := range append(others, "chatbridge-19991231-233000.backup", "chatbridge-19991231-220000.backup.age",
		".chatbridge-19991231-233000.backup.tmp-123") {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A directory named like a backup is not one.
	if err := os.Mkdir(filepath.Join(dir, "chatbridge-19980101-000000.backup"), 0o700); err != nil {
		t.Fatal(err)
	}
	others = append(others, "chatbridge-19980101-000000.backup")
	var done doneLog

	synctest.Test(t, func(t *testing.T) {
		cfg := backupConfig(dir, time.Hour, 2)
		cfg.Storage.BackupAgeRecipients = []string{id.Recipient().String()}
		ctx, cancel := context.WithCancel(t.Context())
		stop := make(chan struct{})
		go func() {
			defer close(stop)
			runBackups(ctx, cfg, st, testLogger(t), done.onDone)
		}()
		synctest.Wait()
		// The newest backup is 30 minutes old: the next is due at 00:30.
		calls := done.get()
		if len(calls) != 1 || !calls[0].at.Equal(t0.Add(-30*time.Minute)) || calls[0].err != nil {
			t.Fatalf("onDone at start = %v, want the newest backup's time", calls)
		}
		if slices.Contains(dirNames(t, dir), ".chatbridge-19991231-233000.backup.tmp-123") {
			t.Error("the unfinished backup of a crash was not removed")
		}
		if got := dirNames(t, dir); len(got) != len(others)+2 {
			t.Fatalf("a backup before it was due: %q", got)
		}
		time.Sleep(2*time.Hour + time.Minute) // to 02:01: backups at 00:30, 01:30
		synctest.Wait()
		if n := len(done.get()); n != 3 {
			t.Errorf("onDone called %d times, want 3", n)
		}
		cancel()
		<-stop
	})

	got := dirNames(t, dir)
	wantNames := append(slices.Clone(others), "chatbridge-20000101-003000.backup.age", "chatbridge-20000101-013000.backup.age")
	slices.Sort(wantNames)
	if !slices.Equal(got, wantNames) {
		t.Errorf("backup_dir holds\n %q\nwant\n %q", got, wantNames)
	}
	data, err := os.ReadFile(filepath.Join(dir, "chatbridge-20000101-013000.backup.age"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte(ageHeader)) {
		t.Fatalf("the backup is not an age file: %q", data[:min(len(data), 40)])
	}
	r, encrypted, err := openBackup(bytes.NewReader(data), "b", writeIdentity(t, id), io.Discard)
	if err != nil || !encrypted {
		t.Fatalf("openBackup = %v, %v", encrypted, err)
	}
	if got := exportAll(t, restoreInto(t, r)); got != want {
		t.Errorf("the restored backup differs:\n got %s\nwant %s", got, want)
	}
}

// writeIdentity writes id to an identity file and returns its path.
func writeIdentity(t *testing.T, id *age.X25519Identity) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.txt")
	body := "# created: test\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// scriptedSource is a backup source whose calls follow a script.
type scriptedSource struct {
	mu      sync.Mutex
	calls   int
	script  func(ctx context.Context, call int, w io.Writer) error
	started chan int
}

func (s *scriptedSource) Backup(ctx context.Context, w io.Writer) error {
	s.mu.Lock()
	s.calls++
	n := s.calls
	s.mu.Unlock()
	return s.script(ctx, n, w)
}

func TestRunBackups_FailureRetryAndShutdown(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	var done doneLog
	synctest.Test(t, func(t *testing.T) {
		src := &scriptedSource{script: func(ctx context.Context, call int, w io.Writer) error {
			switch call {
			case 1:
				fmt.Fprint(w, "half a backup")
				return errors.New("disk on fire")
			case 2:
				_, err := fmt.Fprint(w, "a whole backup")
				return err
			default: // cut short by shutdown
				for {
					if _, err := fmt.Fprint(w, "more"); err != nil {
						return err
					}
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
				}
			}
		}}
		ctx, cancel := context.WithCancel(t.Context())
		stop := make(chan struct{})
		go func() {
			defer close(stop)
			runBackupsFrom(ctx, backupConfig(dir, time.Hour, 5), src, slog.New(slog.DiscardHandler), done.onDone)
		}()
		synctest.Wait()
		calls := done.get()
		if len(calls) != 1 || !calls[0].at.Equal(t0) || calls[0].err == nil || !strings.Contains(calls[0].err.Error(), "disk on fire") {
			t.Fatalf("onDone after a failure = %v", calls)
		}
		if got := dirNames(t, dir); len(got) != 0 {
			t.Fatalf("a failed backup left %q", got)
		}
		time.Sleep(10 * time.Minute) // the retry
		synctest.Wait()
		if got := dirNames(t, dir); !slices.Equal(got, []string{"chatbridge-20000101-001000.backup"}) {
			t.Fatalf("after the retry: %q", got)
		}
		data, _ := os.ReadFile(filepath.Join(dir, "chatbridge-20000101-001000.backup"))
		if string(data) != "a whole backup" {
			t.Errorf("backup = %q", data)
		}
		time.Sleep(time.Hour + 5*time.Second) // 01:10 starts a backup that runs until shutdown
		synctest.Wait()
		cancel()
		<-stop
		if got := dirNames(t, dir); !slices.Equal(got, []string{"chatbridge-20000101-001000.backup"}) {
			t.Errorf("a backup cut short by shutdown left %q", got)
		}
		if calls := done.get(); len(calls) != 2 || !calls[1].at.Equal(t0.Add(10*time.Minute)) || calls[1].err != nil {
			t.Errorf("onDone calls = %v; want the failure and the retry only", calls)
		}
	})
}

func TestRunBackups_ClockWentBack(t *testing.T) {
	dir := t.TempDir()
	future := "chatbridge-20000102-000000.backup"
	if err := os.WriteFile(filepath.Join(dir, future), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		src := &scriptedSource{script: func(_ context.Context, _ int, w io.Writer) error {
			_, err := fmt.Fprint(w, "now")
			return err
		}}
		ctx, cancel := context.WithCancel(t.Context())
		stop := make(chan struct{})
		go func() {
			defer close(stop)
			runBackupsFrom(ctx, backupConfig(dir, time.Hour, 1), src, slog.New(slog.DiscardHandler), nil)
		}()
		synctest.Wait()
		cancel()
		<-stop
	})
	// The backup dated tomorrow neither postponed this one nor outlived it
	// with keep = 1.
	if got := dirNames(t, dir); !slices.Equal(got, []string{"chatbridge-20000101-000000.backup"}) {
		t.Errorf("backup_dir = %q", got)
	}
}

func TestRunBackups_Off(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	called := false
	runBackupsFrom(t.Context(), backupConfig(dir, 0, 1), nil, slog.New(slog.DiscardHandler),
		func(time.Time, error) { called = true })
	if _, err := os.Stat(dir); err == nil || called {
		t.Errorf("backups off, yet backup_dir exists (%v) or onDone was called (%v)", err, called)
	}
}

func TestParseBackupName(t *testing.T) {
	at := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	for _, enc := range []bool{false, true} {
		name := backupFileName(at.In(time.FixedZone("X", 3600)), enc)
		if got, ok := parseBackupName(name); !ok || !got.Equal(at) {
			t.Errorf("parseBackupName(%q) = %v, %v", name, got, ok)
		}
	}
	for _, name := range []string{
		"chatbridge-20250314-092653.backup", "chatbridge-20250314-092653.backup.age",
	} {
		if _, ok := parseBackupName(name); !ok {
			t.Errorf("%q is not recognised", name)
		}
	}
	for _, name := range []string{
		"", "chatbridge-.backup", "chatbridge-20250314-092653", "chatbridge-20250314-092653.backup.gz",
		"chatbridge-20250314-092653.age", "chatbridge-20250314-092653.backup.age.age", "chatbridge-2025031-4092653.backup",
		"chatbridge-20251314-092653.backup", "chatbridge-20250314-092660.backup", "xchatbridge-20250314-092653.backup",
		".chatbridge-20250314-092653.backup.tmp-1", "chatbridge-20250314-092653.backup.tmp-1", "chatbridge-+0250314-092653.backup",
	} {
		if _, ok := parseBackupName(name); ok {
			t.Errorf("%q is taken for a backup", name)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.backup")
	write := func(replace bool, body string, fail error) error {
		return writeFileAtomic(path, replace, func(w io.Writer) error {
			fmt.Fprint(w, body)
			return fail
		})
	}
	if err := write(false, "one", nil); err != nil {
		t.Fatal(err)
	}
	if err := write(false, "two", nil); !errors.Is(err, os.ErrExist) {
		t.Errorf("no-clobber write over a file: %v", err)
	}
	if err := write(true, "three", errors.New("boom")); err == nil || err.Error() != "boom" {
		t.Errorf("failed fill: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one" {
		t.Errorf("file = %q, want it untouched", data)
	}
	if err := write(true, "four", nil); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "four" {
		t.Errorf("file = %q after a replace", data)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"out.backup"}) {
		t.Errorf("left behind: %q", got)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
}
