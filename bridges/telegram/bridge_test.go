package telegram_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/bridges/telegram"
	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	ann      = telegramtest.User{ID: 42, FirstName: "Ann", Username: "ann"}
	stranger = telegramtest.User{ID: 66, FirstName: "Eve", Username: "eve"}
	annChat  = telegramtest.PrivateChat(ann)
	group    = telegramtest.Chat{ID: -1001, Type: "supergroup", Title: "friends"}
)

// rig is a running bridge and engine against a fake Telegram.
type rig struct {
	t      *testing.T
	fake   *telegramtest.Server
	prov   *enginetest.Provider
	store  *enginetest.MemStore
	bridge *telegram.Bridge
	eng    *engine.Engine
	stop   func()
}

type rigOption func(*telegram.Options, *telegramtest.Options)

func newRig(t *testing.T, prov *enginetest.Provider, opts ...rigOption) *rig {
	t.Helper()
	fo := telegramtest.Options{}
	bo := telegram.Options{PollTimeout: time.Second, Backoff: 20 * time.Millisecond}
	for _, f := range opts {
		f(&bo, &fo)
	}
	fake := telegramtest.New(t, fo)
	bo.APIURL, bo.Token = fake.URL(), fake.Token()
	r := &rig{t: t, fake: fake, prov: prov, store: enginetest.NewMemStore()}
	r.start(bo)
	return r
}

// start connects a bridge and runs it with a fresh engine on the rig's
// store (a restart keeps the store).
func (r *rig) start(bo telegram.Options) {
	r.t.Helper()
	br, err := telegram.New(bo)
	if err != nil {
		r.t.Fatal(err)
	}
	r.bridge = br
	r.eng, r.stop = enginetest.StartBridge(r.t, br, r.prov, r.store, "42")
}

// waitFor polls cond until it holds or 20 s pass.
func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	enginetest.WaitFor(r.t, what, cond, func() string { return "calls: " + r.callNames() })
}

func (r *rig) callNames() string {
	var names []string
	for _, c := range r.fake.Calls() {
		if c.Method != "getUpdates" {
			names = append(names, c.Method)
		}
	}
	return strings.Join(names, ",")
}

// texts returns the visible text of the bot's messages in a chat.
func (r *rig) texts(chat int64) []string {
	var out []string
	for _, m := range r.fake.Messages(chat) {
		out = append(out, m.Text)
	}
	return out
}

func (r *rig) lastText(chat int64) string { return enginetest.Last(r.texts(chat)) }

func TestBridge_PrivateTurnStreamsByEdits(t *testing.T) {
	deltas := enginetest.Words(12, "streamed")
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r := newRig(t, enginetest.NewProvider(enginetest.Script{FirstDelay: 300 * time.Millisecond, Delay: 250 * time.Millisecond, Deltas: deltas}))
	r.fake.SendText(annChat, ann, "hello")
	r.waitFor("the whole reply", func() bool { return r.lastText(ann.ID) == want })
	r.stop()

	var typing, send time.Time
	var edits []time.Time
	for _, c := range r.fake.Calls() {
		switch c.Method {
		case "sendChatAction":
			if typing.IsZero() {
				typing = c.At
			}
		case "sendMessage":
			send = c.At
		case "editMessageText":
			if c.OK {
				edits = append(edits, c.At)
			}
		}
	}
	if typing.IsZero() || !typing.Before(send) {
		t.Errorf("typing at %v, first send at %v: want typing first", typing, send)
	}
	if len(edits) < 2 {
		t.Errorf("edits = %d, want the reply to grow by edits", len(edits))
	}
	prev := send
	for _, e := range edits {
		if gap := e.Sub(prev); gap < time.Second {
			t.Errorf("edit %s after the previous call, want >= 1s in a private chat", gap)
		}
		prev = e
	}
	if n := len(r.fake.Messages(ann.ID)); n != 1 {
		t.Errorf("messages = %d, want 1", n)
	}
	if len(r.fake.EarlyCalls()) != 0 {
		t.Errorf("calls before retry_after: %+v", r.fake.EarlyCalls())
	}
}

// TestBridge_ModelOutputIsInert: whatever the model writes, the user sees
// it as text. Raw HTML in the answer is shown literally (no link to a user,
// no formatting it did not ask for in Markdown), and no message or edit
// unfurls a link into a preview.
func TestBridge_ModelOutputIsInert(t *testing.T) {
	const out = "See https://example.com/a?b=1&c=2 and <a href=\"tg://user?id=1\">click</a> <b>loud</b> & @admin"
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Deltas: []string{out[:40], out[40:]}}))
	r.fake.SendText(annChat, ann, "say it")
	r.waitFor("the reply", func() bool { return strings.Contains(r.lastText(ann.ID), "@admin") })
	r.stop()
	if got := r.lastText(ann.ID); got != out {
		t.Errorf("the user sees\n%q\nwant the model's text verbatim\n%q", got, out)
	}

	msgs := r.fake.Messages(ann.ID)
	last := msgs[len(msgs)-1]
	for _, e := range last.Entities {
		switch e.Type {
		case "text_link":
			// A bare URL is linked to itself (GFM autolink), nothing else.
			if shown := string(utf16.Decode(utf16.Encode([]rune(last.Text))[e.Offset : e.Offset+e.Length])); shown != e.URL ||
				!strings.HasPrefix(e.URL, "https://") {
				t.Errorf("link %q shown as %q: %q", e.URL, shown, last.HTML)
			}
		case "url", "mention":
			// Telegram detects these itself; it has no mass mention
			// (no @everyone) to guard against.
		default:
			t.Errorf("model output became a %s entity (%+v): %q", e.Type, e, last.HTML)
		}
	}
	sent := 0
	for _, c := range r.fake.Calls() {
		if c.Method != "sendMessage" && c.Method != "editMessageText" {
			continue
		}
		sent++
		if !previewDisabled(c.Params) {
			t.Errorf("%s without link previews disabled: %v", c.Method, c.Params)
		}
	}
	if sent == 0 {
		t.Fatal("no sendMessage or editMessageText call recorded")
	}
}

// previewDisabled reports whether a call's parameters turn link previews
// off, by the current link_preview_options or the older
// disable_web_page_preview.
func previewDisabled(params map[string]any) bool {
	if v, ok := params["disable_web_page_preview"]; ok && (v == true || v == "true") {
		return true
	}
	switch lp := params["link_preview_options"].(type) {
	case map[string]any:
		return lp["is_disabled"] == true
	case string:
		return strings.Contains(lp, `"is_disabled":true`)
	}
	return false
}

func TestBridge_MenuCommandsRegistered(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	cmds := r.fake.Commands()
	names := map[string]bool{}
	for _, c := range cmds {
		names[c.Command] = true
	}
	for _, want := range r.eng.Commands() {
		if !names[want.Name] {
			t.Errorf("setMyCommands lacks /%s", want.Name)
		}
	}
}

func TestBridge_GroupAnswersOnlyMentionsRepliesAndAddressedCommands(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	r.fake.SendText(group, ann, "just chatting")
	r.fake.SendText(group, ann, "/help")
	r.fake.SendText(group, ann, "@chatbridge_bot ping")
	r.waitFor("the answer to the mention", func() bool { return r.lastText(group.ID) == "You said: ping" })
	r.fake.SendText(group, ann, "/status@chatbridge_bot")
	r.waitFor("/status", func() bool { return strings.Contains(r.lastText(group.ID), "Status") })
	msgs := r.fake.Messages(group.ID)
	r.fake.SendReply(group, ann, "and again", msgs[0].ID)
	r.waitFor("the answer to the reply", func() bool { return r.lastText(group.ID) == "You said: and again" })
	r.stop()
	for _, txt := range r.texts(group.ID) {
		if strings.Contains(txt, "just chatting") || strings.Contains(txt, "**Commands**") || strings.Contains(txt, "/help — ") {
			t.Errorf("the bot answered a message not meant for it: %q", txt)
		}
	}
	if n := len(r.prov.Requests()); n != 2 {
		t.Errorf("provider requests = %d, want 2 (the mention and the reply)", n)
	}
}

func TestBridge_StrangerCostsNothing(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	eve := telegramtest.PrivateChat(stranger)
	r.fake.SendText(eve, stranger, "hi")
	r.fake.SendText(eve, stranger, "hello?")
	r.waitFor("the refusal", func() bool { return len(r.texts(stranger.ID)) == 1 })
	time.Sleep(300 * time.Millisecond)
	r.stop()
	if got := r.texts(stranger.ID); len(got) != 1 || !strings.Contains(got[0], "private bot") {
		t.Errorf("stranger saw %q, want one refusal", got)
	}
	if n := len(r.prov.Requests()); n != 0 {
		t.Errorf("provider requests = %d, want 0", n)
	}
}

func TestBridge_FaultsLoseNoText(t *testing.T) {
	t.Run("can't parse entities falls back to plain text", func(t *testing.T) {
		r := newRig(t, enginetest.NewProvider(enginetest.Script{Deltas: []string{"plain words only"}}))
		r.fake.FailNext("sendMessage", 400, "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0", 0)
		r.fake.SendText(annChat, ann, "hi")
		r.waitFor("the reply", func() bool { return r.lastText(ann.ID) == "plain words only" })
		msgs := r.fake.Messages(ann.ID)
		if len(msgs) != 1 || msgs[0].ParseMode != "" {
			t.Errorf("messages = %+v, want one plain-text message", msgs)
		}
	})
	t.Run("not modified is success", func(t *testing.T) {
		r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 400 * time.Millisecond, Deltas: enginetest.Words(8, "word")}))
		r.fake.FailNext("editMessageText", 400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message", 0)
		r.fake.SendText(annChat, ann, "hi")
		r.waitFor("the reply", func() bool { return r.lastText(ann.ID) == strings.TrimSpace(strings.Repeat("word ", 8)) })
		if strings.Contains(r.lastText(ann.ID), "⚠") {
			t.Errorf("not modified shown as a failure: %q", r.lastText(ann.ID))
		}
	})
	t.Run("flood wait pauses the chat for retry_after", func(t *testing.T) {
		r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 100 * time.Millisecond, Deltas: enginetest.Words(30, "flood")}))
		r.fake.FailNext("editMessageText", 429, "Too Many Requests: retry after 2", 2)
		r.fake.SendText(annChat, ann, "hi")
		want := strings.TrimSpace(strings.Repeat("flood ", 30))
		r.waitFor("the reply", func() bool { return r.lastText(ann.ID) == want })
		r.stop()
		if early := r.fake.EarlyCalls(); len(early) != 0 {
			t.Errorf("%d calls came before retry_after ended: %+v", len(early), early)
		}
		var limitedAt time.Time
		for _, c := range r.fake.Calls() {
			if c.ErrorCode == 429 {
				limitedAt = c.At
			} else if !limitedAt.IsZero() && c.Method != "getUpdates" && c.At.Sub(limitedAt) < 2*time.Second {
				t.Errorf("%s %s after the 429, want none for 2s", c.Method, c.At.Sub(limitedAt))
			}
		}
		if limitedAt.IsZero() {
			t.Error("the 429 never happened")
		}
	})
}

func TestBridge_LongReplyArrivesWhole(t *testing.T) {
	var b strings.Builder
	for b.Len() < 10000 {
		b.WriteString("This sentence is part of a long answer. ")
		if b.Len()%800 < 40 {
			b.WriteString("\n\n")
		}
	}
	reply := b.String()
	var deltas []string
	for s := reply; s != ""; {
		n := min(400, len(s))
		deltas, s = append(deltas, s[:n]), s[n:]
	}
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 30 * time.Millisecond, Deltas: deltas}))
	r.fake.SendText(annChat, ann, "write a lot")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	r.waitFor("the whole reply", func() bool { return norm(strings.Join(r.texts(ann.ID), " ")) == norm(reply) })
	if n := len(r.texts(ann.ID)); n < 3 {
		t.Errorf("messages = %d, want 3 or more", n)
	}
	for i, m := range r.fake.Messages(ann.ID) {
		if n := engine.UTF16.Len(m.Text); n > 4096 {
			t.Errorf("message %d is %d UTF-16 units", i, n)
		}
	}
}

func TestBridge_RedeliveredUpdateAnsweredOnce(t *testing.T) {
	prov := enginetest.NewProvider()
	r := newRig(t, prov)
	r.fake.SendText(annChat, ann, "only once")
	r.waitFor("the reply", func() bool { return r.lastText(ann.ID) == "You said: only once" })
	r.stop()
	// Telegram delivers everything again, as after a crash before the
	// offset was confirmed; a new run with the same storage answers nothing.
	r.fake.Redeliver()
	r.start(telegram.Options{APIURL: r.fake.URL(), Token: r.fake.Token(), PollTimeout: time.Second, Backoff: 20 * time.Millisecond})
	r.fake.SendText(annChat, ann, "a new one")
	r.waitFor("the new reply", func() bool { return r.lastText(ann.ID) == "You said: a new one" })
	r.stop()
	if n := len(prov.Requests()); n != 2 {
		t.Errorf("provider requests = %d, want 2", n)
	}
	if n := len(r.texts(ann.ID)); n != 2 {
		t.Errorf("messages = %d (%q), want 2", n, r.texts(ann.ID))
	}
}

func TestBridge_ExportAndModelKeyboard(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	r.fake.SendText(annChat, ann, "remember me")
	r.waitFor("the reply", func() bool { return r.lastText(ann.ID) == "You said: remember me" })
	r.fake.SendText(annChat, ann, "/export")
	r.waitFor("the export document", func() bool {
		for _, m := range r.fake.Messages(ann.ID) {
			if m.Document != nil {
				return strings.Contains(string(m.Document.Data), "remember me")
			}
		}
		return false
	})
	r.fake.SendText(annChat, ann, "/model")
	var kb telegramtest.Message
	r.waitFor("the model keyboard", func() bool {
		for _, m := range r.fake.Messages(ann.ID) {
			if strings.Contains(m.Text, "Model:") && len(m.ReplyMarkup) > 0 {
				kb = m
				return true
			}
		}
		return false
	})
	if !strings.Contains(string(kb.ReplyMarkup), "/model anthropic/claude-3.5-sonnet") {
		t.Fatalf("keyboard = %s", kb.ReplyMarkup)
	}
	_, cb := r.fake.PressButton(annChat, ann, kb.ID, "/model anthropic/claude-3.5-sonnet")
	r.waitFor("the model change", func() bool { return strings.Contains(r.lastText(ann.ID), "Model set to anthropic/claude-3.5-sonnet") })
	if _, ok := r.fake.CallbackAnswers()[cb]; !ok {
		t.Error("the button press was not answered")
	}
}

func TestBridge_DraftMode(t *testing.T) {
	deltas := enginetest.Words(10, "draft")
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 250 * time.Millisecond, Deltas: deltas}),
		func(bo *telegram.Options, _ *telegramtest.Options) { bo.StreamMode = "draft" })
	r.fake.SendText(annChat, ann, "hi")
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r.waitFor("the final message", func() bool { return r.lastText(ann.ID) == want })
	r.stop()
	if n := len(r.fake.Drafts(ann.ID)); n < 2 {
		t.Errorf("drafts = %d, want several", n)
	}
	if n := len(r.fake.CallsTo("editMessageText")); n != 0 {
		t.Errorf("edits = %d, want none in draft mode", n)
	}
}

func TestBridge_PollingBacksOff(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	for i := 0; i < 4; i++ {
		r.fake.FailNext("getUpdates", 502, "Bad Gateway", 0)
	}
	r.fake.SendText(annChat, ann, "after the outage")
	r.waitFor("the reply", func() bool { return r.lastText(ann.ID) == "You said: after the outage" })
	r.stop()
	var fails []time.Time
	for _, c := range r.fake.CallsTo("getUpdates") {
		if c.ErrorCode == 502 {
			fails = append(fails, c.At)
		}
	}
	if len(fails) < 2 {
		t.Fatalf("failed polls = %d", len(fails))
	}
	for i := 1; i < len(fails); i++ {
		min := (20 * time.Millisecond << (i - 1)) / 2
		if gap := fails[i].Sub(fails[i-1]); gap < min {
			t.Errorf("poll %d came %s after a failure, want a backoff of at least %s", i, gap, min)
		}
	}
}

func TestBridge_GroupEditsAtMostOnceEvery3s(t *testing.T) {
	deltas := enginetest.Words(14, "grouped")
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 400 * time.Millisecond, Deltas: deltas}))
	r.fake.SendText(group, ann, "@chatbridge_bot tell me")
	r.waitFor("the whole reply", func() bool { return r.lastText(group.ID) == want })
	r.stop()
	var last time.Time
	var edits int
	for _, c := range r.fake.Calls() {
		if c.Method != "sendMessage" && c.Method != "editMessageText" {
			continue
		}
		if c.Method == "editMessageText" {
			edits++
			if gap := c.At.Sub(last); gap < 3*time.Second {
				t.Errorf("edit %s after the previous message call, want >= 3s in a group", gap)
			}
		}
		last = c.At
	}
	if edits == 0 {
		t.Error("the reply was never edited; want it to grow by edits")
	}
}

func TestBridge_LimitCountsUTF16Units(t *testing.T) {
	// 3000 emoji are 3000 characters but 6000 UTF-16 units: over
	// Telegram's 4096 although a rune count would call it short.
	reply := strings.Repeat("😀", 3000)
	deltas := make([]string, 0, 30)
	for i := 0; i < 30; i++ {
		deltas = append(deltas, strings.Repeat("😀", 100))
	}
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Deltas: deltas}))
	r.fake.SendText(annChat, ann, "emoji please")
	r.waitFor("the whole reply", func() bool { return strings.Join(r.texts(ann.ID), "") == reply })
	msgs := r.fake.Messages(ann.ID)
	if len(msgs) < 2 {
		t.Errorf("messages = %d, want the reply split in two or more", len(msgs))
	}
	for i, m := range msgs {
		if n := engine.UTF16.Len(m.Text); n > 4096 {
			t.Errorf("message %d is %d UTF-16 units, over 4096", i, n)
		}
	}
	for _, c := range r.fake.Calls() {
		if c.Method != "getUpdates" && !c.OK {
			t.Errorf("%s failed: %d %s", c.Method, c.ErrorCode, c.Description)
		}
	}
}
