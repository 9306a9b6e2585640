package main_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// TestSecrets_NowhereInOutputOrStorage runs every bridge through a
// scenario (turns, commands, /status, /export, a failing provider call, a
// backup and an export from the CLI), then searches everything the program
// wrote for the tokens: its log, the chat messages, the database files,
// the backup and the export.
func TestSecrets_NowhereInOutputOrStorage(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	dc := discordtest.New(t, discordtest.Options{})
	sl := slacktest.New(t, slacktest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	section := fmt.Sprintf(`[telegram]
enabled = true
api_url = %q
allowed_users = [%d]
owners = [%d]

[discord]
enabled = true
api_url = %q
allowed_users = [%q]

[slack]
enabled = true
api_url = %q
allowed_users = [%q]
`, tg.URL(), tgOwner.ID, tgOwner.ID, dc.URL(), dcOwner.ID, sl.APIURL(), slOwner)
	env := []string{"TELEGRAM_BOT_TOKEN=" + tg.Token(), "DISCORD_BOT_TOKEN=" + dc.Token(),
		"SLACK_BOT_TOKEN=" + sl.BotToken(), "SLACK_APP_TOKEN=" + sl.AppToken()}
	d := startDaemonWith(t, dir, or, section, env...)
	waitUntil(t, d, "discord and slack", func() bool { return dc.Connected() && sl.Connections() > 0 })

	chat := telegramtest.PrivateChat(tgOwner)
	for _, text := range []string{"hello", "/status", "/settings", "/usage", "/export"} {
		n := len(tg.Messages(tgOwner.ID))
		tg.SendText(chat, tgOwner, text)
		waitUntil(t, d, "telegram "+text, func() bool { return len(tg.Messages(tgOwner.ID)) > n })
	}
	or.Enqueue(openroutertest.Script{Status: 401, Message: "Invalid key " + or.APIKey()},
		openroutertest.Script{Status: 401, Message: "Invalid key " + or.APIKey()})
	n := len(tg.Messages(tgOwner.ID))
	tg.SendText(chat, tgOwner, "this one fails")
	waitUntil(t, d, "the failure", func() bool { return len(tg.Messages(tgOwner.ID)) > n })
	dm := dc.SendDM(dcOwner, "hello discord").ChannelID
	waitUntil(t, d, "discord", func() bool { return len(dc.Messages(dm)) > 0 })
	sl.SendDM(slOwner, "hello slack")
	waitUntil(t, d, "slack", func() bool { return len(sl.Messages(slacktest.DMChannel(slOwner))) > 0 })
	sl.SendSlashCommand(slOwner, "", "/status", "")
	waitUntil(t, d, "slack /status", func() bool { return len(sl.Messages(slacktest.DMChannel(slOwner))) > 1 })

	backup := filepath.Join(t.TempDir(), "b.backup")
	all := append([]string{"OPENROUTER_API_KEY=" + or.APIKey()}, env...)
	if res := runBinary(t, dir, "", all, "backup", "-config", filepath.Join(dir, "config.toml"), "-out", backup); res.code != 0 {
		t.Fatalf("backup: %d %s", res.code, res.stderr)
	}
	d.stop()
	export := runBinary(t, dir, "", all, "export", "-config", filepath.Join(dir, "config.toml"))
	if export.code != 0 {
		t.Fatalf("export: %d %s", export.code, export.stderr)
	}

	secrets := map[string]string{"telegram token": tg.Token(), "discord token": dc.Token(), "slack bot token": sl.BotToken(),
		"slack app token": sl.AppToken(), "openrouter key": or.APIKey()}
	var chats []string
	for _, m := range tg.Messages(tgOwner.ID) {
		chats = append(chats, m.Text)
		if m.Document != nil {
			chats = append(chats, string(m.Document.Data))
		}
	}
	for _, m := range dc.Messages(dm) {
		chats = append(chats, m.Content)
	}
	for _, m := range sl.Messages(slacktest.DMChannel(slOwner)) {
		chats = append(chats, m.Text)
	}
	places := map[string][]byte{
		"the daemon's log": []byte(d.log()), "the chat messages": []byte(strings.Join(chats, "\n")),
		"the export": []byte(export.stdout + export.stderr),
	}
	if b, err := os.ReadFile(backup); err == nil {
		places["the backup"] = b
	}
	_ = filepath.WalkDir(filepath.Join(dir, "data"), func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if b, err := os.ReadFile(path); err == nil {
				places["data file "+filepath.Base(path)] = b
			}
		}
		return nil
	})
	if len(places) < 6 {
		t.Fatalf("searched only %d places", len(places))
	}
	for where, data := range places {
		for what, secret := range secrets {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("the %s appears in %s", what, where)
			}
		}
	}
}
