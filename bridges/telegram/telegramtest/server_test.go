package telegramtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	tele "gopkg.in/telebot.v3"

	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	ann   = telegramtest.User{ID: 42, FirstName: "Ann", Username: "ann"}
	bob   = telegramtest.User{ID: 43, FirstName: "Bob", Username: "bob"}
	group = telegramtest.Chat{ID: -1001, Type: "supergroup", Title: "friends"}
)

// newBot connects a telebot client (getMe included) to the fake.
func newBot(t *testing.T, s *telegramtest.Server) *tele.Bot {
	t.Helper()
	b, err := tele.NewBot(tele.Settings{
		URL: s.URL(), Token: s.Token(),
		Poller:  &tele.LongPoller{Timeout: time.Second},
		Offline: false,
	})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return b
}

// run starts b's poller and stops it when the test ends.
func run(t *testing.T, b *tele.Bot) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Go(b.Start)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stopped = true
			b.Stop()
			wg.Wait()
		}
	})
}

// raw calls a method with a JSON body and decodes the answer.
func raw(t *testing.T, s *telegramtest.Server, method string, params any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(params)
	resp, err := http.Post(s.URL()+"/bot"+s.Token()+"/"+method, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return resp.StatusCode, out
}

func updateIDs(t *testing.T, res map[string]any) []int64 {
	t.Helper()
	list, isList := res["result"].([]any)
	if !isList {
		t.Fatalf("result = %v", res)
	}
	var ids []int64
	for _, u := range list {
		ids = append(ids, int64(u.(map[string]any)["update_id"].(float64)))
	}
	return ids
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestServer_GetMe(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	b := newBot(t, s)
	if b.Me.ID != 1000 || b.Me.Username != "chatbridge_bot" || !b.Me.IsBot || !b.Me.CanJoinGroups {
		t.Errorf("Me = %+v", b.Me)
	}
	if c := s.CallsTo("getMe"); len(c) != 1 || !c[0].OK || c[0].Status != 200 {
		t.Errorf("getMe calls = %+v", c)
	}

	_, err := tele.NewBot(tele.Settings{URL: s.URL(), Token: "123456:WRONG"})
	if !errors.Is(err, tele.ErrUnauthorized) {
		t.Errorf("wrong token: %v, want ErrUnauthorized", err)
	}
}

func TestServer_Routing(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{Token: "1:abc"})
	s.AddChat(telegramtest.PrivateChat(ann))
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return decode(t, resp)
	}
	if code, res := get("/bot1:wrong/getMe"); code != 401 || res["description"] != "Unauthorized" || res["error_code"] != 401.0 {
		t.Errorf("wrong token: %d %v", code, res)
	}
	if code, res := get("/bot1:abc/getMoo"); code != 404 || res["description"] != "Not Found" {
		t.Errorf("unknown method: %d %v", code, res)
	}
	if code, res := get("/favicon.ico"); code != 404 {
		t.Errorf("stray path: %d %v", code, res)
	}
	if code, res := get("/bot1:abc/GETME"); code != 200 || res["ok"] != true {
		t.Errorf("method names are case-insensitive: %d %v", code, res)
	}
	if code, res := get("/bot1:abc/sendMessage?chat_id=42&text=%3Cb%3Eq%3C/b%3E&parse_mode=HTML"); code != 200 ||
		res["result"].(map[string]any)["text"] != "q" {
		t.Errorf("GET with a query: %d %v", code, res)
	}
	form := url.Values{"chat_id": {"42"}, "text": {"form"}}
	resp, err := http.PostForm(s.URL()+"/bot1:abc/sendMessage", form)
	if err != nil {
		t.Fatal(err)
	}
	code, res := decode(t, resp)
	resp.Body.Close()
	if code != 200 || res["result"].(map[string]any)["text"] != "form" {
		t.Errorf("urlencoded form: %d %v", code, res)
	}
	// numbers as JSON numbers or strings
	if code, res := raw(t, s, "sendMessage", map[string]any{"chat_id": 42, "text": "n"}); code != 200 {
		t.Errorf("numeric chat_id: %d %v", code, res)
	}
	if code, res := raw(t, s, "sendMessage", map[string]any{"chat_id": "7", "text": "n"}); code != 400 ||
		res["description"] != "Bad Request: chat not found" {
		t.Errorf("unknown chat: %d %v", code, res)
	}
	if code, res := raw(t, s, "sendMessage", map[string]any{"text": "n"}); code != 400 ||
		res["description"] != "Bad Request: chat_id is empty" {
		t.Errorf("no chat: %d %v", code, res)
	}
	if code, res := raw(t, s, "sendMessage", map[string]any{"chat_id": "42"}); code != 400 ||
		res["description"] != "Bad Request: message text is empty" {
		t.Errorf("no text: %d %v", code, res)
	}
	calls := s.Calls()
	if len(calls) != 10 || calls[0].Method != "getMe" || calls[0].Status != 401 || calls[5].Params["chat_id"] != "42" {
		t.Errorf("calls = %+v", calls)
	}
	if got := s.CallsTo("sendMessage")[2].Params["chat_id"]; got != 42.0 {
		t.Errorf("a JSON number is kept as a number: %#v", got)
	}
}

func TestServer_LongPollingDeliversUpdates(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	b := newBot(t, s)
	got := make(chan *tele.Message, 10)
	b.Handle(tele.OnText, func(c tele.Context) error { got <- c.Message(); return nil })
	b.Handle("/start", func(c tele.Context) error { got <- c.Message(); return nil })
	run(t, b)

	waitFor(t, "the first long poll", func() bool { return len(s.CallsTo("getUpdates")) > 0 })
	start := time.Now()
	_, id1 := s.SendText(telegramtest.PrivateChat(ann), ann, "hello @bob")
	select {
	case m := <-got:
		if m.Text != "hello @bob" || m.ID != id1 || m.Sender.ID != ann.ID || m.Chat.ID != ann.ID ||
			m.Chat.Type != tele.ChatPrivate || m.Chat.FirstName != "Ann" {
			t.Errorf("message = %+v", m)
		}
		if len(m.Entities) != 1 || m.Entities[0].Type != tele.EntityMention || m.Entities[0].Offset != 6 {
			t.Errorf("entities = %+v", m.Entities)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("the held poll answered after %s", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no update")
	}

	s.SendText(group, ann, "/start@chatbridge_bot now")
	select {
	case m := <-got:
		if m.Payload != "now" || m.Chat.Type != tele.ChatSuperGroup || m.Chat.Title != "friends" ||
			len(m.Entities) != 1 || m.Entities[0].Type != tele.EntityCommand || m.Entities[0].Length != 21 {
			t.Errorf("command = %+v", m)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no command")
	}

	// the reply carries the replied message in full
	sent, err := b.Send(telegramtest.PrivateChat(ann), "question?")
	if err != nil {
		t.Fatal(err)
	}
	s.SendReply(telegramtest.PrivateChat(ann), ann, "answer", sent.ID)
	select {
	case m := <-got:
		if m.ReplyTo == nil || m.ReplyTo.ID != sent.ID || m.ReplyTo.Text != "question?" || m.ReplyTo.Sender.ID != 1000 {
			t.Errorf("reply = %+v / %+v", m, m.ReplyTo)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no reply")
	}
	waitFor(t, "the confirming poll", func() bool { return s.Unconfirmed() == 0 })
}

func TestServer_OffsetConfirmsAndRedelivery(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{FirstUpdateID: 500})
	chat := telegramtest.PrivateChat(ann)
	u1, _ := s.SendText(chat, ann, "one")
	u2, _ := s.SendText(chat, ann, "two")
	if u1 != 500 || u2 != 501 {
		t.Fatalf("update ids %d %d", u1, u2)
	}
	_, res := raw(t, s, "getUpdates", map[string]any{})
	if ids := updateIDs(t, res); len(ids) != 2 || ids[0] != u1 {
		t.Fatalf("first poll: %v", ids)
	}
	// nothing confirmed: delivered again
	_, res = raw(t, s, "getUpdates", map[string]string{"timeout": "0"})
	if ids := updateIDs(t, res); len(ids) != 2 {
		t.Fatalf("redelivery: %v", ids)
	}
	// limit
	_, res = raw(t, s, "getUpdates", map[string]string{"limit": "1"})
	if ids := updateIDs(t, res); len(ids) != 1 || ids[0] != u1 {
		t.Fatalf("limit 1: %v", ids)
	}
	// offset u2 confirms u1
	_, res = raw(t, s, "getUpdates", map[string]string{"offset": strconv.FormatInt(u2, 10)})
	if ids := updateIDs(t, res); len(ids) != 1 || ids[0] != u2 {
		t.Fatalf("offset %d: %v", u2, ids)
	}
	if n := s.Unconfirmed(); n != 1 {
		t.Errorf("unconfirmed = %d", n)
	}
	// an older offset cannot bring u1 back
	_, res = raw(t, s, "getUpdates", map[string]any{"offset": u1})
	if ids := updateIDs(t, res); len(ids) != 1 || ids[0] != u2 {
		t.Fatalf("old offset: %v", ids)
	}
	_, res = raw(t, s, "getUpdates", map[string]any{"offset": u2 + 1})
	if ids := updateIDs(t, res); len(ids) != 0 || s.Unconfirmed() != 0 {
		t.Fatalf("all confirmed: %v, %d left", ids, s.Unconfirmed())
	}

	s.Redeliver()
	_, res = raw(t, s, "getUpdates", map[string]any{})
	if ids := updateIDs(t, res); len(ids) != 2 || ids[0] != u1 || ids[1] != u2 {
		t.Fatalf("after Redeliver: %v", ids)
	}
	// a negative offset keeps the last updates only
	_, res = raw(t, s, "getUpdates", map[string]any{"offset": -1})
	if ids := updateIDs(t, res); len(ids) != 1 || ids[0] != u2 {
		t.Fatalf("offset -1: %v", ids)
	}
	// allowed_updates filters, and is remembered
	s.PushRaw(json.RawMessage(`{"edited_message":{"message_id":9,"date":1,"chat":{"id":42,"type":"private"},"text":"x"}}`))
	_, res = raw(t, s, "getUpdates", map[string]any{"allowed_updates": []string{"message"}})
	if ids := updateIDs(t, res); len(ids) != 1 || ids[0] != u2 {
		t.Fatalf("allowed_updates: %v", ids)
	}
	_, res = raw(t, s, "getUpdates", map[string]any{"allowed_updates": "[]"})
	if ids := updateIDs(t, res); len(ids) != 2 {
		t.Fatalf("allowed_updates reset: %v", ids)
	}
}

func TestServer_RedeliverAfterRestart(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	chat := telegramtest.PrivateChat(ann)
	var mu sync.Mutex
	var seen []string
	start := func() *tele.Bot {
		b := newBot(t, s)
		b.Handle(tele.OnText, func(c tele.Context) error {
			mu.Lock()
			seen = append(seen, c.Text())
			mu.Unlock()
			return nil
		})
		return b
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }

	b := start()
	var wg sync.WaitGroup
	wg.Go(b.Start)
	s.SendText(chat, ann, "once")
	waitFor(t, "the update", func() bool { return count() == 1 })
	waitFor(t, "the confirmation", func() bool { return s.Unconfirmed() == 0 })
	b.Stop()
	wg.Wait()

	s.Redeliver()
	b2 := start()
	wg.Go(b2.Start)
	defer func() { b2.Stop(); wg.Wait() }()
	waitFor(t, "the redelivered update", func() bool { return count() == 2 })
	mu.Lock()
	defer mu.Unlock()
	if seen[0] != "once" || seen[1] != "once" {
		t.Errorf("seen = %q", seen)
	}
}

func TestServer_SendHTMLAndEdit(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	chat := telegramtest.PrivateChat(ann)
	s.AddChat(chat)
	b := newBot(t, s)
	html := `<b>Hi</b> 😀 <i>there</i> &amp; <a href="https://example.com">link</a>`
	m, err := b.Send(chat, html, tele.ModeHTML)
	if err != nil {
		t.Fatal(err)
	}
	want := []telegramtest.Entity{{Type: "bold", Offset: 0, Length: 2}, {Type: "italic", Offset: 6, Length: 5},
		{Type: "text_link", Offset: 14, Length: 4, URL: "https://example.com/"}}
	msgs := s.Messages(ann.ID)
	if len(msgs) != 1 {
		t.Fatalf("messages = %+v", msgs)
	}
	got := msgs[0]
	if got.Text != "Hi 😀 there & link" || got.HTML != html || got.ParseMode != "HTML" || got.ID != m.ID || got.ChatID != ann.ID {
		t.Errorf("message = %+v", got)
	}
	if !equalEntities(got.Entities, want) {
		t.Errorf("entities = %+v, want %+v", got.Entities, want)
	}
	if m.Text != got.Text || len(m.Entities) != 3 || m.Entities[1].Offset != 6 || m.Sender.ID != 1000 || m.Unixtime == 0 {
		t.Errorf("returned message = %+v", m)
	}

	// not modified: same visible text and entities, even from other HTML
	_, err = b.Edit(m, "<strong>Hi</strong> 😀 <em>there</em> &amp; <a href='https://example.com/'>link</a>", tele.ModeHTML)
	if !errors.Is(err, tele.ErrSameMessageContent) {
		t.Errorf("edit to the same content: %v, want ErrSameMessageContent", err)
	}
	if _, err := b.Edit(m, "Hi 😀 there & link"); err != nil {
		t.Errorf("edit dropping the entities: %v", err)
	}
	edited, err := b.Edit(m, "<b>new</b>", tele.ModeHTML)
	if err != nil {
		t.Fatal(err)
	}
	if edited.Text != "new" || edited.LastEdit == 0 {
		t.Errorf("edited = %+v", edited)
	}
	got = s.Messages(ann.ID)[0]
	if got.Text != "new" || got.Edits != 2 || got.EditedAt.IsZero() {
		t.Errorf("after the edits: %+v", got)
	}
	if _, err := b.Edit(&tele.StoredMessage{MessageID: "99", ChatID: ann.ID}, "x"); err == nil ||
		!strings.Contains(err.Error(), "message to edit not found") {
		t.Errorf("unknown message: %v", err)
	}
	_, userMsg := s.SendText(chat, ann, "mine")
	if _, err := b.Edit(&tele.StoredMessage{MessageID: strconv.Itoa(userMsg), ChatID: ann.ID}, "x"); !errors.Is(err, tele.ErrCantEditMessage) {
		t.Errorf("a user's message: %v", err)
	}
	if err := b.Delete(m); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages(ann.ID)); n != 0 {
		t.Errorf("after delete: %d messages", n)
	}
	if err := b.Delete(m); !errors.Is(err, tele.ErrNotFoundToDelete) {
		t.Errorf("second delete: %v", err)
	}
}

func equalEntities(a, b []telegramtest.Entity) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestServer_FormattingErrors(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	chat := telegramtest.PrivateChat(ann)
	s.AddChat(chat)
	b := newBot(t, s)
	for text, want := range map[string]string{
		"<b>x":  `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`,
		"<foo>": `Bad Request: can't parse entities: Unsupported start tag "foo" at byte offset 0`,
	} {
		_, err := b.Send(chat, text, tele.ModeHTML)
		if err == nil || !strings.Contains(err.Error(), "can't parse entities") {
			t.Errorf("%q: %v", text, err)
		}
		calls := s.CallsTo("sendMessage")
		if last := calls[len(calls)-1]; last.Description != want || last.ErrorCode != 400 || last.Status != 400 {
			t.Errorf("%q: call = %+v, want %q", text, last, want)
		}
	}
	if _, err := b.Send(chat, "Done.", tele.ModeMarkdownV2); err == nil ||
		!strings.Contains(err.Error(), `Character '.' is reserved and must be escaped with the preceding '\'`) {
		t.Errorf("MarkdownV2: %v", err)
	}
	if _, err := b.Send(chat, "<b> </b>", tele.ModeHTML); err == nil || !strings.Contains(err.Error(), "message text is empty") {
		t.Errorf("empty after parsing: %v", err)
	}

	// 4096 UTF-16 units pass, 4097 don't; an emoji counts two
	if _, err := b.Send(chat, strings.Repeat("a", 4096)); err != nil {
		t.Errorf("4096: %v", err)
	}
	if _, err := b.Send(chat, strings.Repeat("a", 4097)); !errors.Is(err, tele.ErrTooLongMessage) {
		t.Errorf("4097: %v, want ErrTooLongMessage", err)
	}
	if _, err := b.Send(chat, strings.Repeat("😀", 2049)); !errors.Is(err, tele.ErrTooLongMessage) {
		t.Errorf("2049 emoji: %v, want ErrTooLongMessage", err)
	}
	if _, err := b.Send(chat, "<b>"+strings.Repeat("a", 4096)+"</b>", tele.ModeHTML); err != nil {
		t.Errorf("tags don't count: %v", err)
	}
	if n := len(s.Messages(ann.ID)); n != 2 {
		t.Errorf("messages = %d, want 2", n)
	}
}

func TestServer_FloodControl(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{ChatLimit: telegramtest.Limit{Every: time.Second, Burst: 2}})
	chat := telegramtest.PrivateChat(ann)
	s.AddChat(chat)
	s.AddChat(telegramtest.PrivateChat(bob))
	b := newBot(t, s)
	for i := 0; i < 2; i++ {
		if _, err := b.Send(chat, "burst"); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	_, err := b.Send(chat, "too many")
	var fe tele.FloodError
	if !errors.As(err, &fe) || fe.RetryAfter != 1 {
		t.Fatalf("third send: %v, want FloodError{RetryAfter: 1}", err)
	}
	limitedAt := time.Now()
	if early := s.EarlyCalls(); len(early) != 0 {
		t.Errorf("the first 429 is not early: %+v", early)
	}
	// other chats are not affected
	if _, err := b.Send(telegramtest.PrivateChat(bob), "hi bob"); err != nil {
		t.Errorf("another chat: %v", err)
	}
	// a call inside the window is refused and reported
	if err := b.Notify(chat, tele.Typing); !errors.As(err, &fe) {
		t.Errorf("inside the window: %v", err)
	}
	early := s.EarlyCalls()
	if len(early) != 1 || early[0].Method != "sendChatAction" || early[0].RetryAfter != 1 || early[0].ErrorCode != 429 {
		t.Errorf("early calls = %+v", early)
	}
	last := s.CallsTo("sendMessage")[2]
	if last.Description != "Too Many Requests: retry after 1" || last.RetryAfter != 1 || last.Status != 429 {
		t.Errorf("429 call = %+v", last)
	}
	time.Sleep(time.Until(limitedAt.Add(time.Second + 50*time.Millisecond)))
	if _, err := b.Send(chat, "after the wait"); err != nil {
		t.Errorf("after retry_after: %v", err)
	}
	if n := len(s.EarlyCalls()); n != 1 {
		t.Errorf("early calls = %d, want 1", n)
	}

	// FailNext with 429 opens a window too
	s.FailNext("editMessageText", 429, "Too Many Requests: retry after 5", 5)
	m := s.Messages(bob.ID)[0]
	if _, err := b.Edit(&m2{m}, "edited"); !errors.As(err, &fe) || fe.RetryAfter != 5 {
		t.Errorf("FailNext 429: %v", err)
	}
	if _, err := b.Send(telegramtest.PrivateChat(bob), "too soon"); !errors.As(err, &fe) || fe.RetryAfter < 4 {
		t.Errorf("inside the FailNext window: %v", err)
	}
	if n := len(s.EarlyCalls()); n != 2 {
		t.Errorf("early calls = %d, want 2", n)
	}
}

// m2 makes a telegramtest.Message editable by telebot.
type m2 struct{ telegramtest.Message }

func (m *m2) MessageSig() (string, int64) { return strconv.Itoa(m.ID), m.ChatID }

func TestServer_GroupAndGlobalLimits(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{
		GroupLimit:  telegramtest.Limit{Every: 3 * time.Second, Burst: 1},
		GlobalLimit: telegramtest.Limit{Every: time.Minute, Burst: 3},
	})
	s.AddChat(group)
	s.AddChat(telegramtest.PrivateChat(ann))
	s.AddChat(telegramtest.PrivateChat(bob))
	b := newBot(t, s)
	if _, err := b.Send(&tele.Chat{ID: group.ID}, "one"); err != nil {
		t.Fatal(err)
	}
	var fe tele.FloodError
	if _, err := b.Send(&tele.Chat{ID: group.ID}, "two"); !errors.As(err, &fe) || fe.RetryAfter != 3 {
		t.Errorf("group limit: %v", err)
	}
	for _, u := range []telegramtest.User{ann, bob} {
		if _, err := b.Send(telegramtest.PrivateChat(u), "hi"); err != nil {
			t.Errorf("send to %s: %v", u.Username, err)
		}
	}
	if _, err := b.Send(telegramtest.PrivateChat(ann), "over"); !errors.As(err, &fe) || fe.RetryAfter != 60 {
		t.Errorf("global limit: %v", err)
	}
	// the global window holds every chat back
	if _, err := b.Send(telegramtest.PrivateChat(bob), "over"); !errors.As(err, &fe) || fe.RetryAfter < 59 {
		t.Errorf("global window: %v", err)
	}
	if n := len(s.EarlyCalls()); n != 0 {
		t.Errorf("early calls = %d", n)
	}
}

func TestServer_SendDocument(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	chat := telegramtest.PrivateChat(ann)
	s.AddChat(chat)
	b := newBot(t, s)
	data := []byte("# Export\n\nremember me\n")
	doc := &tele.Document{File: tele.FromReader(bytes.NewReader(data)), FileName: "export.md", Caption: "<b>Your</b> export"}
	m, err := b.Send(chat, doc, tele.ModeHTML)
	if err != nil {
		t.Fatal(err)
	}
	if m.Document == nil || m.Document.FileName != "export.md" || m.Document.FileID == "" || m.Caption != "Your export" ||
		len(m.CaptionEntities) != 1 || m.Document.FileSize != int64(len(data)) {
		t.Errorf("returned message = %+v / %+v", m, m.Document)
	}
	got := s.Messages(ann.ID)
	if len(got) != 1 || got[0].Document == nil || !bytes.Equal(got[0].Document.Data, data) ||
		got[0].Document.FileName != "export.md" || got[0].Document.Caption != "Your export" || got[0].Text != "" {
		t.Fatalf("messages = %+v", got)
	}
	if mt := got[0].Document.MIMEType; mt != "text/markdown" {
		t.Errorf("MIME type = %q", mt)
	}
	call := s.CallsTo("sendDocument")[0]
	if call.Params["document"] != "file export.md (22 bytes)" || call.Params["chat_id"] != "42" {
		t.Errorf("params = %v", call.Params)
	}
	// resend by file_id
	if _, err := b.Send(chat, &tele.Document{File: tele.File{FileID: m.Document.FileID}}); err != nil {
		t.Errorf("by file_id: %v", err)
	}
	long := &tele.Document{File: tele.FromReader(bytes.NewReader(data)), FileName: "a.txt", Caption: strings.Repeat("c", 1025)}
	if _, err := b.Send(chat, long); err == nil || !strings.Contains(err.Error(), "message caption is too long") {
		t.Errorf("long caption: %v", err)
	}
	empty := &tele.Document{File: tele.FromReader(bytes.NewReader(nil)), FileName: "empty.txt"}
	if _, err := b.Send(chat, empty); err == nil || !strings.Contains(err.Error(), "file must be non-empty") {
		t.Errorf("empty file: %v", err)
	}
}

func TestServer_Commands(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	b := newBot(t, s)
	cmds := []tele.Command{{Text: "new", Description: "Start a new conversation"}, {Text: "model", Description: "Pick a model"}}
	if err := b.SetCommands(cmds); err != nil {
		t.Fatal(err)
	}
	want := []telegramtest.BotCommand{{Command: "new", Description: "Start a new conversation"}, {Command: "model", Description: "Pick a model"}}
	if got := s.Commands(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Commands() = %+v", got)
	}
	back, err := b.Commands()
	if err != nil || len(back) != 2 || back[1].Text != "model" {
		t.Errorf("getMyCommands = %+v, %v", back, err)
	}
	for _, bad := range []struct {
		cmd  tele.Command
		want string
	}{
		{tele.Command{Text: "New", Description: "x"}, "BOT_COMMAND_INVALID"},
		{tele.Command{Text: "a-b", Description: "x"}, "BOT_COMMAND_INVALID"},
		{tele.Command{Text: strings.Repeat("a", 33), Description: "x"}, "command length must not exceed 32"},
		{tele.Command{Text: "ok", Description: " "}, "command description must be non-empty"},
		{tele.Command{Text: "ok", Description: strings.Repeat("d", 257)}, "command description length must not exceed 256"},
	} {
		if err := b.SetCommands([]tele.Command{bad.cmd}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v, want %q", bad.cmd, err, bad.want)
		}
	}
	many := make([]tele.Command, 101)
	for i := range many {
		many[i] = tele.Command{Text: "c" + strconv.Itoa(i), Description: "d"}
	}
	if err := b.SetCommands(many); err == nil || !strings.Contains(err.Error(), "BOT_COMMANDS_TOO_MUCH") {
		t.Errorf("101 commands: %v", err)
	}
	if got := s.Commands(); len(got) != 2 {
		t.Errorf("failed calls changed the commands: %+v", got)
	}
	if err := b.DeleteCommands(); err != nil {
		t.Fatal(err)
	}
	if got := s.Commands(); len(got) != 0 {
		t.Errorf("after delete: %+v", got)
	}
}

func TestServer_InlineKeyboardAndCallbacks(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	chat := telegramtest.PrivateChat(ann)
	s.AddChat(chat)
	b := newBot(t, s)
	answered := make(chan *tele.Callback, 1)
	b.Handle(tele.OnCallback, func(c tele.Context) error {
		answered <- c.Callback()
		return c.Respond(&tele.CallbackResponse{Text: "switched"})
	})
	run(t, b)

	kb := &tele.ReplyMarkup{InlineKeyboard: [][]tele.InlineButton{{{Text: "Claude", Data: "/model claude"}, {Text: "GPT", Data: "/model gpt"}}}}
	m, err := b.Send(chat, "Model: gpt", kb)
	if err != nil {
		t.Fatal(err)
	}
	stored := s.Messages(ann.ID)[0]
	if !strings.Contains(string(stored.ReplyMarkup), `"callback_data":"/model claude"`) || m.ReplyMarkup == nil {
		t.Fatalf("markup = %s / %+v", stored.ReplyMarkup, m.ReplyMarkup)
	}
	_, id := s.PressButton(chat, ann, m.ID, "/model claude")
	select {
	case cb := <-answered:
		if cb.ID != id || cb.Data != "/model claude" || cb.Message == nil || cb.Message.ID != m.ID || cb.Sender.ID != ann.ID {
			t.Errorf("callback = %+v", cb)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no callback")
	}
	waitFor(t, "the answer", func() bool { return s.CallbackAnswers()[id] == "switched" })
	if err := b.Respond(&tele.Callback{ID: id}); !errors.Is(err, tele.ErrQueryTooOld) {
		t.Errorf("second answer: %v", err)
	}
	if err := b.Respond(&tele.Callback{ID: "nope"}); !errors.Is(err, tele.ErrQueryTooOld) {
		t.Errorf("unknown id: %v", err)
	}

	// markup edits; an edit of the text without markup drops the keyboard
	if _, err := b.EditReplyMarkup(m, kb); !errors.Is(err, tele.ErrSameMessageContent) {
		t.Errorf("same markup: %v", err)
	}
	if _, err := b.Edit(m, "Model: claude"); err != nil {
		t.Fatal(err)
	}
	if got := s.Messages(ann.ID)[0]; got.ReplyMarkup != nil || got.Text != "Model: claude" {
		t.Errorf("after a text edit without markup: %+v", got)
	}
	if _, err := b.Edit(m, "Model: claude", kb); err != nil {
		t.Errorf("adding the keyboard back: %v", err)
	}
	bad := &tele.ReplyMarkup{InlineKeyboard: [][]tele.InlineButton{{{Text: "x", Data: strings.Repeat("d", 65)}}}}
	if _, err := b.Send(chat, "bad", bad); !errors.Is(err, tele.ErrBadButtonData) {
		t.Errorf("65-byte callback data: %v", err)
	}
}

func TestServer_MessageDraft(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{ChatLimit: telegramtest.Limit{Every: time.Minute, Burst: 2}})
	chat := telegramtest.PrivateChat(ann)
	s.AddChat(chat)
	s.AddChat(group)
	b := newBot(t, s)
	if _, err := b.Raw("sendMessageDraft", map[string]any{"chat_id": ann.ID, "draft_id": 1, "text": "Thinking"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Raw("sendMessageDraft", map[string]any{"chat_id": ann.ID, "draft_id": 1, "text": "<b>Think</b>ing more", "parse_mode": "HTML"}); err != nil {
		t.Fatal(err)
	}
	if d := s.Drafts(ann.ID); len(d) != 2 || d[1].Params["text"] != "<b>Think</b>ing more" {
		t.Errorf("drafts = %+v", d)
	}
	if n := len(s.Messages(ann.ID)); n != 0 {
		t.Errorf("drafts are not messages: %d", n)
	}
	for _, c := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{"chat_id": group.ID, "draft_id": 1, "text": "x"}, "TEXTDRAFT_PEER_INVALID"},
		{map[string]any{"chat_id": ann.ID, "draft_id": 0, "text": "x"}, "draft_id must be non-zero"},
		{map[string]any{"chat_id": ann.ID, "draft_id": 2, "text": "<i>x", "parse_mode": "HTML"}, "can't parse entities"},
		{map[string]any{"chat_id": ann.ID, "draft_id": 2, "text": strings.Repeat("x", 4097)}, "message is too long"},
		{map[string]any{"chat_id": ann.ID, "draft_id": 2, "text": ""}, "retry after 60 (429)"},
	} {
		if _, err := b.Raw("sendMessageDraft", c.params); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.params, err, c.want)
		}
	}
	if d := s.Drafts(ann.ID); len(d) != 2 {
		t.Errorf("failed drafts are not listed: %d", len(d))
	}
}

func TestServer_GetUpdatesConflict(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	first := newBot(t, s)
	second := newBot(t, s)
	const want = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	poll := func(b *tele.Bot) chan error {
		errc := make(chan error, 1)
		n := len(s.CallsTo("getUpdates"))
		go func() {
			_, err := b.Raw("getUpdates", map[string]string{"timeout": "10"})
			errc <- err
		}()
		waitFor(t, "the long poll", func() bool { return len(s.CallsTo("getUpdates")) == n+1 })
		time.Sleep(20 * time.Millisecond)
		return errc
	}
	is409 := func(err error) bool {
		return err != nil && strings.Contains(err.Error(), want) && strings.Contains(err.Error(), "(409)")
	}

	errc1 := poll(first)
	start := time.Now()
	errc2 := poll(second)
	// the newer request wins: the older one is terminated at once
	select {
	case err := <-errc1:
		if !is409(err) {
			t.Errorf("first poll: %v", err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("the 409 came after %s", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the first poll was not terminated")
	}
	// the loser polls again at once: its rival's 409 waits 3 s, as the
	// real server spaces them
	start = time.Now()
	errc3 := poll(first)
	select {
	case err := <-errc2:
		if !is409(err) {
			t.Errorf("second poll: %v", err)
		}
		if d := time.Since(start); d < 2900*time.Millisecond || d > 4*time.Second {
			t.Errorf("the second 409 came after %s, want 3 s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second poll was not terminated")
	}
	s.SendText(telegramtest.PrivateChat(ann), ann, "hi")
	if err := <-errc3; err != nil {
		t.Errorf("third poll: %v", err)
	}
	calls := s.CallsTo("getUpdates")
	if len(calls) != 3 || calls[0].ErrorCode != 409 || calls[0].Status != 409 || calls[1].ErrorCode != 409 || !calls[2].OK {
		t.Errorf("calls = %+v", calls)
	}
}

func TestServer_CloseReleasesLongPoll(t *testing.T) {
	s := telegramtest.NewServer(telegramtest.Options{})
	b := newBot(t, s)
	done := make(chan error, 1)
	go func() {
		_, err := b.Raw("getUpdates", map[string]string{"timeout": "30"})
		done <- err
	}()
	waitFor(t, "the long poll", func() bool { return len(s.CallsTo("getUpdates")) == 1 })
	start := time.Now()
	s.Close()
	select {
	case <-done:
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %s", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the long poll was not released")
	}
	s.Close() // idempotent
}

func TestServer_FailNext(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	s.AddChat(telegramtest.PrivateChat(ann))
	b := newBot(t, s)
	s.FailNext("sendMessage", 403, "Forbidden: bot was blocked by the user", 0)
	s.FailNext("sendmessage", 502, "Bad Gateway", 0)
	if _, err := b.Send(telegramtest.PrivateChat(ann), "x"); !errors.Is(err, tele.ErrBlockedByUser) {
		t.Errorf("first: %v", err)
	}
	if _, err := b.Send(telegramtest.PrivateChat(ann), "x"); err == nil || !strings.Contains(err.Error(), "Bad Gateway (502)") {
		t.Errorf("second: %v", err)
	}
	if _, err := b.Send(telegramtest.PrivateChat(ann), "x"); err != nil {
		t.Errorf("third: %v", err)
	}
	calls := s.CallsTo("sendMessage")
	if calls[0].Status != 403 || calls[1].Status != 502 || !calls[2].OK {
		t.Errorf("calls = %+v", calls)
	}
}

func TestServer_Misc(t *testing.T) {
	s := telegramtest.New(t, telegramtest.Options{})
	chat := telegramtest.PrivateChat(ann)
	s.AddChat(chat)
	b := newBot(t, s)

	// SetChatLimit applies at once, with fresh buckets; the window it
	// opened stays
	bobChat := telegramtest.PrivateChat(bob)
	s.AddChat(bobChat)
	s.SetChatLimit(telegramtest.Limit{Every: time.Hour, Burst: 1})
	if _, err := b.Send(bobChat, "one"); err != nil {
		t.Fatal(err)
	}
	var fe tele.FloodError
	if _, err := b.Send(bobChat, "two"); !errors.As(err, &fe) || fe.RetryAfter != 3600 {
		t.Errorf("after SetChatLimit: %v", err)
	}
	s.SetChatLimit(telegramtest.Limit{})
	if _, err := b.Send(bobChat, "three"); !errors.As(err, &fe) || fe.RetryAfter < 3599 {
		t.Errorf("the window outlives the limit: %v", err)
	}
	s.SetGlobalLimit(telegramtest.Limit{})
	s.SetGroupLimit(telegramtest.Limit{})

	// replies
	_, userMsg := s.SendText(chat, ann, "question")
	m, err := b.Send(chat, "answer", &tele.SendOptions{ReplyTo: &tele.Message{ID: userMsg}})
	if err != nil || m.ReplyTo == nil || m.ReplyTo.Text != "question" {
		t.Fatalf("reply: %+v %v", m, err)
	}
	if got, ok := s.Message(ann.ID, m.ID); !ok || got.ReplyTo != userMsg {
		t.Errorf("Message() = %+v %v", got, ok)
	}
	if got, ok := s.Message(ann.ID, userMsg); !ok || got.Text != "question" {
		t.Errorf("a user's message: %+v %v", got, ok)
	}
	if _, err := b.Send(chat, "x", &tele.SendOptions{ReplyTo: &tele.Message{ID: 999}}); err == nil ||
		!strings.Contains(err.Error(), "message to be replied not found") {
		t.Errorf("reply to nothing: %v", err)
	}
	if _, err := b.Send(chat, "x", &tele.SendOptions{ReplyTo: &tele.Message{ID: 999}, AllowWithoutReply: true}); err != nil {
		t.Errorf("allow_sending_without_reply: %v", err)
	}

	// scoped commands are kept apart
	scope := tele.CommandScope{Type: tele.CommandScopeChat, ChatID: ann.ID}
	if err := b.SetCommands([]tele.Command{{Text: "secret", Description: "for Ann"}}, scope); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Commands(scope); err != nil || len(got) != 1 || got[0].Text != "secret" {
		t.Errorf("scoped: %+v %v", got, err)
	}
	if got, err := b.Commands(); err != nil || len(got) != 0 {
		t.Errorf("default scope: %+v %v", got, err)
	}
	if err := b.SetCommands([]tele.Command{{Text: "x", Description: "y"}}, "english"); err == nil {
		t.Error("a bad language code was accepted")
	}

	// text_mention and custom emoji
	m, err = b.Send(chat, `<a href="tg://user?id=42">Ann</a>, hi`, tele.ModeHTML)
	if err != nil || len(m.Entities) != 1 || m.Entities[0].Type != tele.EntityTMention || m.Entities[0].User == nil ||
		m.Entities[0].User.FirstName != "Ann" {
		t.Errorf("text_mention: %+v %v", m, err)
	}
	m, err = b.Send(chat, `Ok ![👍](tg://emoji?id=5368324170671202286)`, tele.ModeMarkdownV2)
	if err != nil || len(m.Entities) != 1 || m.Entities[0].CustomEmoji != "5368324170671202286" || m.Text != "Ok 👍" {
		t.Errorf("custom emoji: %+v %v", m, err)
	}
	if _, err := b.Send(chat, `![x](https://t.me)`, tele.ModeMarkdownV2); err == nil || !strings.Contains(err.Error(), "Custom emoji URL must have scheme tg") {
		t.Errorf("bad custom emoji: %v", err)
	}

	// deleteWebhook with drop_pending_updates confirms everything
	s.SendText(chat, ann, "pending")
	if _, err := b.Raw("deleteWebhook", map[string]any{"drop_pending_updates": true}); err != nil || s.Unconfirmed() != 0 {
		t.Errorf("deleteWebhook: %v, %d pending", err, s.Unconfirmed())
	}
	// unknown actions and parse modes
	if err := b.Notify(chat, "dancing"); err == nil || !strings.Contains(err.Error(), "wrong parameter action") {
		t.Errorf("bad action: %v", err)
	}
	if _, err := b.Send(chat, "x", tele.ParseMode("BBCode")); err == nil || !strings.Contains(err.Error(), "unsupported parse_mode") {
		t.Errorf("bad parse mode: %v", err)
	}
}
