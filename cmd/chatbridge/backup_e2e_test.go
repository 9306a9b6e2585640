package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// converse has two turns with the daemon and returns once both replies
// are complete; the first turn is then stored (a conversation's turns run
// one after the other).
func converse(t *testing.T, d *daemon, tg *telegramtest.Server, first, second string) {
	t.Helper()
	chat := telegramtest.PrivateChat(tgOwner)
	for _, text := range []string{first, second} {
		tg.SendText(chat, tgOwner, text)
		waitUntil(t, d, "the reply to "+text, func() bool { return last(visible(tg, tgOwner.ID)) == "You said: "+text })
	}
}

// scheduledBackups lists the scheduled backups in dir.
func scheduledBackups(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "chatbridge-") && strings.Contains(e.Name(), ".backup") {
			names = append(names, e.Name())
		}
	}
	return names
}

// restoreAndExport restores backup into a fresh data directory and returns
// `chatbridge export` of it; identity, when set, is passed to restore.
func restoreAndExport(t *testing.T, orURL, backup string, identity ...string) string {
	t.Helper()
	fresh := t.TempDir()
	cfg := writeConfig(t, fresh, orURL, "")
	res := runBinary(t, fresh, "", nil, append([]string{"restore", "-config", cfg, "-in", backup}, identity...)...)
	if res.code != 0 {
		t.Fatalf("restore: exit %d\n%s", res.code, res.stderr)
	}
	res = runBinary(t, fresh, "", nil, "export", "-config", cfg)
	if res.code != 0 {
		t.Fatalf("export: exit %d\n%s", res.code, res.stderr)
	}
	return res.stdout
}

func TestRunBackup_WhileRunningThenRestore(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	d := startDaemon(t, dir, tg, or)
	converse(t, d, tg, "remember the lighthouse", "and the boat")

	// The default schedule (every 24h) takes its first backup at start.
	backups := filepath.Join(dir, "data", "backups")
	waitUntil(t, d, "the scheduled backup", func() bool { return len(scheduledBackups(backups)) == 1 })

	// The daemon holds the data directory: backup goes through its socket.
	out := filepath.Join(dir, "while-running.backup")
	res := runBinary(t, dir, "", []string{"TELEGRAM_BOT_TOKEN=" + tg.Token()},
		"backup", "-config", filepath.Join(dir, "config.toml"), "-out", out)
	if res.code != 0 || !strings.Contains(res.stdout, "by the running daemon") {
		t.Fatalf("backup while running: exit %d\nstdout: %s\nstderr: %s\ndaemon log:\n%s", res.code, res.stdout, res.stderr, d.log())
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v; want mode 0600", info, err)
	}

	// The daemon goes on answering after the backup.
	tg.SendText(telegramtest.PrivateChat(tgOwner), tgOwner, "still there?")
	waitUntil(t, d, "a reply after the backup", func() bool { return last(visible(tg, tgOwner.ID)) == "You said: still there?" })
	d.stop()
	if _, err := os.Lstat(filepath.Join(dir, "data", "control.sock")); !os.IsNotExist(err) {
		t.Errorf("the control socket outlives the daemon: %v", err)
	}

	export := restoreAndExport(t, or.URL(), out)
	for _, want := range []string{`"content": "remember the lighthouse"`, `"content": "You said: remember the lighthouse"`,
		`"content": "and the boat"`, `"role": "assistant"`} {
		if !strings.Contains(export, want) {
			t.Errorf("the restored export lacks %s:\n%s", want, export)
		}
	}
	if strings.Contains(export, "still there?") {
		t.Error("the backup holds a message sent after it was taken")
	}
}

func TestRunBackup_EncryptedWithAge(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	// startDaemonWith writes this right under [storage] dir = ..., so the
	// first line is a [storage] key.
	section := fmt.Sprintf("backup_age_recipients = [%q]\n\n[telegram]\nenabled = true\napi_url = %q\nallowed_users = [%d]\n",
		id.Recipient().String(), tg.URL(), tgOwner.ID)
	d := startDaemonWith(t, dir, or, section, "TELEGRAM_BOT_TOKEN="+tg.Token())
	converse(t, d, tg, "a secret plan", "tell no one")
	backups := filepath.Join(dir, "data", "backups")
	waitUntil(t, d, "the scheduled backup", func() bool { return len(scheduledBackups(backups)) == 1 })

	out := filepath.Join(dir, "secret.backup.age")
	res := runBinary(t, dir, "", []string{"TELEGRAM_BOT_TOKEN=" + tg.Token()},
		"backup", "-config", filepath.Join(dir, "config.toml"), "-out", out)
	if res.code != 0 || !strings.Contains(res.stdout, "encrypted with age") {
		t.Fatalf("backup while running: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
	d.stop()
	data, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(data), "age-encryption.org/v1") || strings.Contains(string(data), "a secret plan") {
		t.Fatalf("not an age file (%v)", err)
	}

	fresh := t.TempDir()
	cfg := writeConfig(t, fresh, or.URL(), "")
	if res := runBinary(t, fresh, "", nil, "restore", "-config", cfg, "-in", out); res.code != 2 ||
		!strings.Contains(res.stderr, "-identity FILE") {
		t.Errorf("restore without an identity: exit %d, %s", res.code, res.stderr)
	}
	key := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(key, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if export := restoreAndExport(t, or.URL(), out, "-identity", key); !strings.Contains(export, `"content": "a secret plan"`) {
		t.Errorf("the restored export lacks the conversation:\n%s", export)
	}
	// The scheduled backup, taken at start before the conversation, is
	// encrypted too and restores with the same key.
	scheduled := scheduledBackups(backups)[0]
	if !strings.HasSuffix(scheduled, ".backup.age") {
		t.Errorf("scheduled backup %s is not named as encrypted", scheduled)
	}
	restoreAndExport(t, or.URL(), filepath.Join(backups, scheduled), "-identity", key)
}
