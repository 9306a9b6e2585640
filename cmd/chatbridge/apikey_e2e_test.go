package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// TestRunTelegram_RejectedKeyReplacedFromChat: OpenRouter starts rejecting
// the configured key (401); the owner gets one DM saying so and how to fix
// it, sends /apikey with a new key in the private chat, the message with
// the key is deleted, and the next turn succeeds with the new key in the
// Authorization header. The new key is in no log, no chat message, no
// database file and no export; after a restart it is still in use.
func TestRunTelegram_RejectedKeyReplacedFromChat(t *testing.T) {
	tg := telegramtest.New(t, telegramtest.Options{})
	or := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	d := startDaemon(t, dir, tg, or)
	chat := telegramtest.PrivateChat(tgOwner)
	const newKey = "sk-or-v1-replacement-key-from-chat-0000000000000000000000000000c0de"
	or.SetAPIKey(newKey) // the configured key is revoked

	tg.SendText(chat, tgOwner, "hello")
	waitUntil(t, d, "the failure and the owner's DM", func() bool {
		all := strings.Join(visible(tg, tgOwner.ID), "\n")
		return strings.Contains(all, "/apikey <key>") && strings.Contains(all, "/retry")
	})
	tg.SendText(chat, tgOwner, "hello again")
	waitUntil(t, d, "the second failure", func() bool { return strings.Count(strings.Join(visible(tg, tgOwner.ID), "\n"), "/retry") == 2 })
	if n := strings.Count(strings.Join(visible(tg, tgOwner.ID), "\n"), "/apikey <key>"); n != 1 {
		t.Errorf("owner DMs about the key = %d, want 1", n)
	}

	_, keyMsg := tg.SendText(chat, tgOwner, "/apikey "+newKey)
	waitUntil(t, d, "the confirmation", func() bool { return strings.Contains(last(visible(tg, tgOwner.ID)), "ends in …c0de") })
	if !strings.Contains(last(visible(tg, tgOwner.ID)), "deleted your message") {
		t.Errorf("confirmation = %q", last(visible(tg, tgOwner.ID)))
	}
	if _, still := tg.Message(tgOwner.ID, keyMsg); still {
		t.Error("the message with the key is still in the chat")
	}

	tg.SendText(chat, tgOwner, "does it work now")
	waitUntil(t, d, "the answer", func() bool { return last(visible(tg, tgOwner.ID)) == "You said: does it work now" })
	reqs := chatRequests(or)
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer "+newKey {
		t.Errorf("the turn after /apikey sent Authorization %q…, want the new key", got[:min(len(got), 20)])
	}
	d.stop()

	// A restart keeps using the key set from chat, ahead of the config's.
	d = startDaemon(t, dir, tg, or)
	tg.SendText(chat, tgOwner, "after a restart")
	waitUntil(t, d, "the answer after a restart", func() bool { return last(visible(tg, tgOwner.ID)) == "You said: after a restart" })
	d.stop()

	export := runBinary(t, dir, "", []string{"TELEGRAM_BOT_TOKEN=" + tg.Token()}, "export", "-config", filepath.Join(dir, "config.toml"))
	if export.code != 0 {
		t.Fatalf("export: exit %d\n%s", export.code, export.stderr)
	}
	if !strings.Contains(export.stdout, "…c0de") {
		t.Error("the export's settings history lacks the key change")
	}
	places := map[string]string{"the log": d.log(), "the export": export.stdout + export.stderr,
		"the chat": strings.Join(visible(tg, tgOwner.ID), "\n")}
	err := filepath.WalkDir(filepath.Join(dir, "data"), func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		places[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range places {
		if strings.Contains(text, newKey) || strings.Contains(text, "replacement-key-from-chat") {
			t.Errorf("the key set from chat appears in %s", where)
		}
	}
}
