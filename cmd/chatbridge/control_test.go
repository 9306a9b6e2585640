package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/chatbridge/chatbridge/cmd/chatbridge/internal/config"
)

// runCLI runs one chatbridge subcommand in process.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, env: func(string) string { return "" }}
	code = c.main(context.Background(), args)
	return code, out.String(), errOut.String()
}

// writeDataConfig writes a config file whose storage.dir is dataDir, with
// extra lines in [storage], and returns its path.
func writeDataConfig(t *testing.T, dataDir, storageExtra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	body := fmt.Sprintf("[storage]\ndir = %q\nbackup_interval = \"0s\"\n%s", dataDir, storageExtra)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serveTestControl serves the control socket of dataDir for st (open, as a
// daemon holds it) until the test ends.
func serveTestControl(t *testing.T, dataDir string, src backupSource, recips []age.Recipient) (stop func()) {
	t.Helper()
	stop, err := listenControl(t.Context(), dataDir, src, recips, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return stop
}

func TestServeControl_BackupWhileTheDaemonRuns(t *testing.T) {
	checkLeaks(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	st := openTestStore(t, dataDir) // the daemon's store: the directory is locked
	seedStore(t, st, "telegram:1", "discord:2", "slack:C3:1.2")
	want := exportAll(t, st)
	stop, err := serveControl(t.Context(), dataDir, st, config.Default(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dataDir, controlSocketName)
	info, err := os.Lstat(sock)
	if err != nil || info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v, %v; want a socket with mode 0600", info, err)
	}

	t.Run("ping", func(t *testing.T) {
		r, err := pingControl(t.Context(), sock)
		if err != nil || r.PID != os.Getpid() || r.Version != version {
			t.Errorf("ping = %+v, %v", r, err)
		}
	})

	t.Run("backup over the socket restores", func(t *testing.T) {
		var buf bytes.Buffer
		head, err := fetchBackup(t.Context(), sock, &buf)
		if err != nil || head.Encrypted {
			t.Fatalf("fetchBackup = %+v, %v", head, err)
		}
		if got := exportAll(t, restoreInto(t, &buf)); got != want {
			t.Errorf("restored:\n%s\nwant:\n%s", got, want)
		}
	})

	t.Run("chatbridge backup and restore", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "daemon.backup")
		code, stdout, stderr := runCLI(t, "backup", "-config", writeDataConfig(t, dataDir, ""), "-out", out)
		if code != 0 || !strings.Contains(stdout, "by the running daemon") {
			t.Fatalf("backup: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("backup file: %v, %v; want mode 0600", info, err)
		}
		code, _, stderr = runCLI(t, "backup", "-config", writeDataConfig(t, dataDir, ""), "-out", out)
		if code != 2 || !strings.Contains(stderr, "already exists") {
			t.Errorf("backup over an existing file: exit %d, %s", code, stderr)
		}

		fresh := filepath.Join(t.TempDir(), "fresh")
		code, stdout, stderr = runCLI(t, "restore", "-config", writeDataConfig(t, fresh, ""), "-in", out)
		if code != 0 {
			t.Fatalf("restore: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
		}
		if got := exportAll(t, openTestStore(t, fresh)); got != want {
			t.Errorf("restored:\n%s\nwant:\n%s", got, want)
		}
	})

	t.Run("unknown and bad requests", func(t *testing.T) {
		for req, want := range map[string]string{
			`{"op":"drop tables"}` + "\n": `unknown op "drop tables"`,
			"not json\n":                  "bad request",
			"\n":                          "bad request",
		} {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(conn, req)
			var r controlReply
			err = readLine(bufio.NewReader(conn), &r)
			conn.Close()
			if err != nil || r.OK || !strings.Contains(r.Error, want) {
				t.Errorf("%q: %+v, %v; want an error with %q", req, r, err, want)
			}
		}
	})

	t.Run("a second daemon is refused", func(t *testing.T) {
		_, err := serveControl(t.Context(), dataDir, st, config.Default(), testLogger(t))
		if err == nil || !strings.Contains(err.Error(), "another chatbridge daemon") ||
			!strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
			t.Errorf("second serveControl: %v", err)
		}
	})

	stop()
	stop() // twice is fine
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket file outlives stop: %v", err)
	}
}

func TestServeControl_EncryptedBackup(t *testing.T) {
	checkLeaks(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	st := openTestStore(t, dataDir)
	seedStore(t, st, "telegram:7")
	want := exportAll(t, st)
	cfg := config.Default()
	cfg.Storage.BackupAgeRecipients = []string{other.Recipient().String(), id.Recipient().String()}
	stop, err := serveControl(t.Context(), dataDir, st, cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	out := filepath.Join(t.TempDir(), "enc.backup.age")
	// The CLI's config need not name the recipients: the daemon's does.
	code, stdout, stderr := runCLI(t, "backup", "-config", writeDataConfig(t, dataDir, ""), "-out", out)
	if code != 0 || !strings.Contains(stdout, "encrypted with age") {
		t.Fatalf("backup: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(data, []byte(ageHeader)) {
		t.Fatalf("not an age file: %v", err)
	}
	if bytes.Contains(data, []byte("hello from telegram:7")) {
		t.Fatal("the encrypted backup holds plaintext")
	}
	checkRestores(t, out, writeIdentity(t, id), writeIdentity(t, stranger(t)), want)
	// Either recipient can restore.
	fresh := filepath.Join(t.TempDir(), "fresh")
	if code, _, stderr := runCLI(t, "restore", "-config", writeDataConfig(t, fresh, ""), "-in", out,
		"-identity", writeIdentity(t, other)); code != 0 {
		t.Errorf("restore with the other recipient's identity: exit %d, %s", code, stderr)
	}
}

// stranger is an identity no backup is encrypted to.
func stranger(t *testing.T) *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// checkRestores checks that the encrypted backup file restores with the
// identity file good, and is refused without an identity, with wrong and
// with a malformed one, leaving the data directory empty.
func checkRestores(t *testing.T, backup, good, wrong, want string) {
	t.Helper()
	junk := filepath.Join(t.TempDir(), "junk.txt")
	if err := os.WriteFile(junk, []byte("AGE-SECRET-KEY-1NOTAKEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "fresh")
	cfg := writeDataConfig(t, fresh, "")
	for _, tc := range []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"no identity", nil, []string{"is encrypted with age", "-identity FILE", "AGE-SECRET-KEY-1"}},
		{"wrong identity", []string{"-identity", wrong}, []string{"-identity " + wrong + " does not decrypt", "encrypted to other keys"}},
		{"malformed identity", []string{"-identity", junk}, []string{"-identity " + junk + " is not an age identity file"}},
		{"missing identity file", []string{"-identity", junk + ".nope"}, []string{"-identity: open", "no such file"}},
	} {
		code, _, stderr := runCLI(t, append([]string{"restore", "-config", cfg, "-in", backup}, tc.args...)...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2; stderr: %s", tc.name, code, stderr)
		}
		for _, w := range tc.stderr {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q: %s", tc.name, w, stderr)
			}
		}
		if strings.Contains(stderr, "NOTAKEY") {
			t.Errorf("%s: the identity file's content is shown: %s", tc.name, stderr)
		}
		if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: the refused restore created the data directory", tc.name)
		}
	}
	code, stdout, stderr := runCLI(t, "restore", "-config", cfg, "-in", backup, "-identity", good)
	if code != 0 || !strings.Contains(stdout, "decrypted with age") {
		t.Fatalf("restore with the identity: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if got := exportAll(t, openTestStore(t, fresh)); got != want {
		t.Errorf("restored:\n%s\nwant:\n%s", got, want)
	}
}

func TestBackupCLI_EncryptedWithoutDaemon(t *testing.T) {
	checkLeaks(t)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	st := openTestStore(t, dataDir)
	seedStore(t, st, "discord:9")
	want := exportAll(t, st)
	if err := st.Close(); err != nil { // the daemon is stopped
		t.Fatal(err)
	}
	cfg := writeDataConfig(t, dataDir, fmt.Sprintf("backup_age_recipients = [%q]\n", id.Recipient().String()))
	out := filepath.Join(t.TempDir(), "b.age")
	code, stdout, stderr := runCLI(t, "backup", "-config", cfg, "-out", out)
	if code != 0 || strings.Contains(stdout, "daemon") || !strings.Contains(stdout, "encrypted with age") {
		t.Fatalf("backup: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	checkRestores(t, out, writeIdentity(t, id), writeIdentity(t, stranger(t)), want)

	// An armored age file (age -a) restores as well.
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		t.Fatal(err)
	}
	armored := filepath.Join(t.TempDir(), "b.age.asc")
	writeArmored(t, armored, plain, id.Recipient())
	fresh := filepath.Join(t.TempDir(), "fresh")
	if code, _, stderr := runCLI(t, "restore", "-config", writeDataConfig(t, fresh, ""), "-in", armored,
		"-identity", writeIdentity(t, id)); code != 0 {
		t.Fatalf("restore of an armored file: exit %d, %s", code, stderr)
	}
	if got := exportAll(t, openTestStore(t, fresh)); got != want {
		t.Errorf("restored from armor:\n%s\nwant:\n%s", got, want)
	}
}

func TestRestoreCLI_Refusals(t *testing.T) {
	checkLeaks(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	st := openTestStore(t, dataDir)
	seedStore(t, st, "telegram:3")
	var buf bytes.Buffer
	if err := st.Backup(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "plain.backup")
	if err := os.WriteFile(plain, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("identity for a plain backup is noted", func(t *testing.T) {
		fresh := filepath.Join(t.TempDir(), "fresh")
		code, _, stderr := runCLI(t, "restore", "-config", writeDataConfig(t, fresh, ""), "-in", plain,
			"-identity", "/nonexistent")
		if code != 0 || !strings.Contains(stderr, "is not encrypted; -identity is not needed") {
			t.Errorf("exit %d, %s", code, stderr)
		}
	})

	t.Run("a truncated encrypted backup fails and leaves nothing", func(t *testing.T) {
		id := stranger(t)
		var enc bytes.Buffer
		w, err := age.Encrypt(&enc, id.Recipient())
		if err != nil {
			t.Fatal(err)
		}
		w.Write(buf.Bytes())
		w.Close()
		cut := filepath.Join(t.TempDir(), "cut.age")
		if err := os.WriteFile(cut, enc.Bytes()[:enc.Len()-100], 0o600); err != nil {
			t.Fatal(err)
		}
		fresh := filepath.Join(t.TempDir(), "fresh")
		if err := os.Mkdir(fresh, 0o700); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runCLI(t, "restore", "-config", writeDataConfig(t, fresh, ""), "-in", cut,
			"-identity", writeIdentity(t, id))
		if code != 1 || !strings.Contains(stderr, "the partial restore was removed") {
			t.Errorf("exit %d, %s", code, stderr)
		}
		if names := dirNames(t, fresh); len(names) != 0 {
			t.Errorf("the data directory holds %q", names)
		}
	})

	t.Run("not empty", func(t *testing.T) {
		code, _, stderr := runCLI(t, "restore", "-config", writeDataConfig(t, dataDir, ""), "-in", plain)
		if code != 2 || !strings.Contains(stderr, "is not empty") {
			t.Errorf("exit %d, %s", code, stderr)
		}
	})
}

func TestBackupCLI_LockedWithoutDaemon(t *testing.T) {
	checkLeaks(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	openTestStore(t, dataDir) // e.g. chatbridge console: locked, no socket
	out := filepath.Join(t.TempDir(), "x.backup")
	code, _, stderr := runCLI(t, "backup", "-config", writeDataConfig(t, dataDir, ""), "-out", out)
	if code != 1 || !strings.Contains(stderr, "no chatbridge daemon answers on "+filepath.Join(dataDir, controlSocketName)) {
		t.Errorf("exit %d, %s", code, stderr)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed backup left %s", out)
	}
}

func TestServeControl_SocketFile(t *testing.T) {
	checkLeaks(t)
	src := &scriptedSource{script: func(_ context.Context, _ int, w io.Writer) error {
		_, err := fmt.Fprint(w, "backup bytes")
		return err
	}}

	t.Run("a stale socket is replaced", func(t *testing.T) {
		dir := t.TempDir()
		sock := filepath.Join(dir, controlSocketName)
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false) // as after kill -9
		ln.Close()
		serveTestControl(t, dir, src, nil)
		var buf bytes.Buffer
		if _, err := fetchBackup(t.Context(), sock, &buf); err != nil || buf.String() != "backup bytes" {
			t.Errorf("fetchBackup = %q, %v", buf.String(), err)
		}
	})

	t.Run("a file that is not a socket is left alone", func(t *testing.T) {
		dir := t.TempDir()
		sock := filepath.Join(dir, controlSocketName)
		if err := os.WriteFile(sock, []byte("mine"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := listenControl(t.Context(), dir, src, nil, testLogger(t))
		if err == nil || !strings.Contains(err.Error(), "is not a socket") {
			t.Errorf("got %v", err)
		}
		if data, _ := os.ReadFile(sock); string(data) != "mine" {
			t.Error("the file was touched")
		}
	})

	t.Run("a path too long for a socket", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), strings.Repeat("d", 110))
		_, err := listenControl(t.Context(), dir, src, nil, testLogger(t))
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "storage.dir") || !strings.Contains(err.Error(), "too long") {
			t.Errorf("got %v", err)
		}
		out := filepath.Join(t.TempDir(), "x.backup")
		if code, _, stderr := runCLI(t, "backup", "-config", writeDataConfig(t, dir, ""), "-out", out); code != 0 {
			t.Errorf("a backup without a daemon needs no socket: exit %d, %s", code, stderr)
		}
	})

	t.Run("the context ends the server", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		stop, err := listenControl(ctx, dir, src, nil, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		stop()
		if _, err := os.Lstat(filepath.Join(dir, controlSocketName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file after the context ended: %v", err)
		}
	})
}

func TestServeControl_StopCutsABackupShort(t *testing.T) {
	checkLeaks(t)
	started := make(chan struct{})
	src := &scriptedSource{script: func(ctx context.Context, _ int, w io.Writer) error {
		close(started)
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
		}
	}}
	dir := t.TempDir()
	stop := serveTestControl(t, dir, src, nil)
	got := make(chan error, 1)
	go func() {
		_, err := fetchBackup(context.Background(), filepath.Join(dir, controlSocketName), io.Discard)
		got <- err
	}()
	<-started
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return while a backup was streaming")
	}
	if err := <-got; err == nil {
		t.Error("the client took a backup cut short for a whole one")
	}
}

func TestFetchBackup_FailedBackupIsAnError(t *testing.T) {
	checkLeaks(t)
	src := &scriptedSource{script: func(_ context.Context, _ int, w io.Writer) error {
		fmt.Fprint(w, "half")
		return errors.New("disk on fire")
	}}
	dir := t.TempDir()
	serveTestControl(t, dir, src, nil)
	var buf bytes.Buffer
	_, err := fetchBackup(t.Context(), filepath.Join(dir, controlSocketName), &buf)
	if err == nil || !strings.Contains(err.Error(), "the daemon's backup failed") || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("fetchBackup = %v", err)
	}
}

// writeArmored writes plain as an armored age file to path.
func writeArmored(t *testing.T, path string, plain io.Reader, r age.Recipient) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	aw := armor.NewWriter(f)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
}
