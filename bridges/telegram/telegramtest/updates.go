package telegramtest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Updates live in a queue, as in the Bot API server's TQueue. getUpdates
// with offset N confirms (forgets) every update below N and returns those
// from N on; without an offset it returns the unconfirmed ones, again and
// again, until some later call confirms them.

type storedUpdate struct {
	id   int64
	kind string // "message", "callback_query", ...
	data []byte // the whole Update, update_id included
}

// pollWaiter is a held getUpdates; kick ends it with 409 after the given
// delay.
type pollWaiter struct {
	kick chan time.Duration
}

const (
	maxLongPoll      = 50 * time.Second // LONG_POLL_MAX_TIMEOUT
	longPollBatching = 2 * time.Millisecond
	conflictSpacing  = 3 * time.Second
	conflictText     = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

// defaultUpdateTypes are delivered when allowed_updates was never set or
// set to []: all but chat_member, message_reaction and
// message_reaction_count.
func defaultAllowed(kind string) bool {
	switch kind {
	case "chat_member", "message_reaction", "message_reaction_count":
		return false
	}
	return true
}

func (s *Server) allowedLocked(kind string) bool {
	if s.allowed == nil {
		return defaultAllowed(kind)
	}
	return s.allowed[kind]
}

// pushLocked queues an update and wakes a held getUpdates.
func (s *Server) pushLocked(kind string, payload any) int64 {
	id := s.opts.FirstUpdateID + int64(len(s.updates))
	data, err := json.Marshal(map[string]any{"update_id": id, kind: payload})
	if err != nil {
		panic("telegramtest: " + err.Error())
	}
	s.updates = append(s.updates, storedUpdate{id: id, kind: kind, data: data})
	close(s.updWake)
	s.updWake = make(chan struct{})
	return id
}

// PushRaw queues an update given as JSON (an object such as
// {"message":{...}}); any update_id in it is replaced. It returns the
// update_id. It panics if update is not a JSON object.
func (s *Server) PushRaw(update json.RawMessage) int64 {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(update, &obj); err != nil {
		panic("telegramtest: PushRaw: " + err.Error())
	}
	delete(obj, "update_id")
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kind := ""
	if len(keys) > 0 {
		kind = keys[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.opts.FirstUpdateID + int64(len(s.updates))
	obj["update_id"] = json.RawMessage(strconv.FormatInt(id, 10))
	data, _ := json.Marshal(obj)
	s.updates = append(s.updates, storedUpdate{id: id, kind: kind, data: data})
	close(s.updWake)
	s.updWake = make(chan struct{})
	return id
}

// Redeliver simulates Telegram forgetting the confirmations, as after a
// crash of the bot before it confirmed its offset: every update ever
// pushed becomes unconfirmed, so the next getUpdates without a higher
// offset delivers them all again. Use it to test deduplication across a
// restart.
func (s *Server) Redeliver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.head = 0
	close(s.updWake)
	s.updWake = make(chan struct{})
}

// Unconfirmed is the number of updates not yet confirmed by an offset.
func (s *Server) Unconfirmed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates) - s.head
}

// SendText makes from send text to the bot in chat. The message gets the
// entities a Telegram client would attach (bot_command for /cmd and
// /cmd@bot, mention for @name, hashtags, URLs...). It returns the
// update_id and the message_id.
func (s *Server) SendText(chat Chat, from User, text string) (updateID int64, messageID int) {
	return s.sendUserText(chat, from, text, 0)
}

// SendReply is SendText as a reply to message replyTo of the chat (the
// bot's or a user's); the update carries that message in full as
// reply_to_message.
func (s *Server) SendReply(chat Chat, from User, text string, replyTo int) (updateID int64, messageID int) {
	return s.sendUserText(chat, from, text, replyTo)
}

func (s *Server) sendUserText(chat Chat, from User, text string, replyTo int) (int64, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.registerChat(chat)
	s.users[from.ID] = from
	m := s.newMsg(cs, time.Now())
	m.from = from
	m.Text = text
	m.Raw = text
	m.Entities = exportEntities(findEntities(text))
	m.ReplyTo = replyTo
	id := s.pushLocked("message", s.apiMessage(cs, m, true))
	return id, m.ID
}

// PressButton makes from press the inline button with callback data data
// under the bot's message messageID. It returns the update_id and the
// callback query id to answer.
func (s *Server) PressButton(chat Chat, from User, messageID int, data string) (updateID int64, callbackID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.registerChat(chat)
	s.users[from.ID] = from
	s.nextCB++
	callbackID = strconv.FormatInt(4700000000000000000+s.nextCB, 10)
	s.callbacks[callbackID] = &callbackState{chatID: cs.chat.ID}
	q := map[string]any{
		"id":            callbackID,
		"from":          apiUserOf(from),
		"chat_instance": strconv.FormatInt(-cs.chat.ID*7919-17, 10),
		"data":          data,
	}
	if m := s.findMsg(cs.chat.ID, messageID); m != nil {
		q["message"] = s.apiMessage(cs, m, true)
	}
	return s.pushLocked("callback_query", q), callbackID
}

// getUpdates serves one getUpdates call, holding it for a long poll.
func (s *Server) getUpdates(c *call) reply {
	offset, _ := integer(c.params, "offset")
	limit := int64(100)
	if n, ok := integer(c.params, "limit"); ok {
		limit = min(max(n, 1), 100)
	}
	var timeout time.Duration
	if n, ok := integer(c.params, "timeout"); ok && n > 0 {
		timeout = min(time.Duration(n)*time.Second, maxLongPoll)
	}
	var allowed []string
	allowedSet := false
	if raw, ok := jsonParam(c.params, "allowed_updates"); ok {
		if err := json.Unmarshal(raw, &allowed); err != nil {
			return bad("can't parse allowed updates")
		}
		allowedSet = true
	}

	s.mu.Lock()
	if allowedSet {
		if len(allowed) == 0 {
			s.allowed = nil
		} else {
			s.allowed = map[string]bool{}
			for _, a := range allowed {
				s.allowed[a] = true
			}
		}
	}
	if offset < 0 {
		if keep := int(-offset); len(s.updates)-keep > s.head {
			s.head = len(s.updates) - keep
		}
		offset = 0
	}
	from := s.head
	if offset > 0 {
		switch idx := offset - s.opts.FirstUpdateID; {
		case idx > int64(len(s.updates)):
			// an offset in the future confirms nothing (TQueue rejects it)
		case idx > int64(s.head):
			s.head = int(idx)
			from = s.head
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if s.head > from {
			from = s.head
		}
		var out []json.RawMessage
		for i := from; i < len(s.updates) && len(out) < int(limit); i++ {
			if s.allowedLocked(s.updates[i].kind) {
				out = append(out, s.updates[i].data)
			}
		}
		if out == nil {
			out = []json.RawMessage{}
		}
		if len(out) > 0 || timeout == 0 || s.isClosed() {
			s.mu.Unlock()
			return ok(out)
		}

		// hold the request; a held one from before is terminated
		if s.poll != nil {
			var delay time.Duration
			if now := time.Now(); now.Before(s.nextConflict) {
				delay = conflictSpacing
			} else {
				s.nextConflict = now.Add(conflictSpacing)
			}
			s.poll.kick <- delay
			s.poll = nil
		}
		me := &pollWaiter{kick: make(chan time.Duration, 1)}
		s.poll = me
		wake := s.updWake
		s.mu.Unlock()

		select {
		case <-wake:
			batch := time.NewTimer(longPollBatching)
			select {
			case <-batch.C:
			case <-c.r.Context().Done():
			case <-s.closed:
			}
			batch.Stop()
		case <-deadline.C:
		case <-s.closed:
		case <-c.r.Context().Done():
			s.dropPoll(me)
			return reply{hold: true}
		case delay := <-me.kick:
			if delay > 0 {
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-s.closed:
				case <-c.r.Context().Done():
					t.Stop()
					return reply{hold: true}
				}
				t.Stop()
			}
			return fail(409, conflictText)
		}
		s.mu.Lock()
		if s.poll == me {
			s.poll = nil
		}
		if c.r.Context().Err() != nil {
			s.mu.Unlock()
			return reply{hold: true}
		}
		select {
		case <-me.kick:
			// terminated by a newer request while waking up
			s.mu.Unlock()
			return fail(409, conflictText)
		default:
		}
		// answer with whatever there is now: as in the real server, a
		// woken poll answers even if what woke it is filtered out
		timeout = 0
	}
}

func (s *Server) dropPoll(me *pollWaiter) {
	s.mu.Lock()
	if s.poll == me {
		s.poll = nil
	}
	s.mu.Unlock()
}

func (s *Server) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// ---- chats and messages ----

func (s *Server) registerChat(c Chat) *chatState {
	if c.Type == "" {
		if c.ID > 0 {
			c.Type = "private"
		} else {
			c.Type = "supergroup"
		}
	}
	cs := s.chats[c.ID]
	if cs == nil {
		cs = &chatState{chat: c, nextID: 1}
		s.chats[c.ID] = cs
		return cs
	}
	cs.chat.Type = c.Type
	if c.Title != "" {
		cs.chat.Title = c.Title
	}
	if c.Username != "" {
		cs.chat.Username = c.Username
	}
	return cs
}

func (s *Server) newMsg(cs *chatState, now time.Time) *storedMsg {
	m := &storedMsg{date: now}
	m.ID = cs.nextID
	cs.nextID++
	m.ChatID = cs.chat.ID
	m.SentAt = now
	cs.msgs = append(cs.msgs, m)
	return m
}

func (s *Server) findMsg(chatID int64, id int) *storedMsg {
	cs := s.chats[chatID]
	if cs == nil {
		return nil
	}
	for _, m := range cs.msgs {
		if m.ID == id {
			return m
		}
	}
	return nil
}

// ---- JSON shapes ----

type apiUser struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	Username  string `json:"username,omitempty"`
}

func apiUserOf(u User) apiUser {
	name := u.FirstName
	if name == "" {
		name = "User" + strconv.FormatInt(u.ID, 10)
	}
	return apiUser{ID: u.ID, IsBot: u.IsBot, FirstName: name, Username: u.Username}
}

type apiChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
}

type apiDocument struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name,omitempty"`
	MIMEType     string `json:"mime_type,omitempty"`
	FileSize     int    `json:"file_size"`
}

type apiMessage struct {
	MessageID       int             `json:"message_id"`
	ThreadID        int             `json:"message_thread_id,omitempty"`
	From            *apiUser        `json:"from,omitempty"`
	Chat            apiChat         `json:"chat"`
	Date            int64           `json:"date"`
	EditDate        int64           `json:"edit_date,omitempty"`
	ReplyTo         *apiMessage     `json:"reply_to_message,omitempty"`
	Text            string          `json:"text,omitempty"`
	Entities        []apiEntity     `json:"entities,omitempty"`
	Document        *apiDocument    `json:"document,omitempty"`
	Caption         string          `json:"caption,omitempty"`
	CaptionEntities []apiEntity     `json:"caption_entities,omitempty"`
	ReplyMarkup     json.RawMessage `json:"reply_markup,omitempty"`
}

// apiEntity is a MessageEntity on the wire: a text_mention carries the
// user instead of a URL.
type apiEntity struct {
	Type          string   `json:"type"`
	Offset        int      `json:"offset"`
	Length        int      `json:"length"`
	URL           string   `json:"url,omitempty"`
	User          *apiUser `json:"user,omitempty"`
	Language      string   `json:"language,omitempty"`
	CustomEmojiID string   `json:"custom_emoji_id,omitempty"`
}

func (s *Server) apiEntities(es []Entity) []apiEntity {
	var out []apiEntity
	for _, e := range es {
		x := apiEntity{Type: e.Type, Offset: e.Offset, Length: e.Length, URL: e.URL, Language: e.Language, CustomEmojiID: e.CustomEmojiID}
		if e.Type == "text_mention" {
			id, _ := strconv.ParseInt(strings.TrimPrefix(e.URL, "tg://user?id="), 10, 64)
			u, known := s.users[id]
			if !known {
				u = User{ID: id}
			}
			au := apiUserOf(u)
			x.URL, x.User = "", &au
		}
		out = append(out, x)
	}
	return out
}

func (s *Server) apiChatOf(c Chat) apiChat {
	out := apiChat{ID: c.ID, Type: c.Type, Title: c.Title, Username: c.Username}
	if c.Type == "private" {
		if u, ok := s.users[c.ID]; ok {
			out.FirstName = apiUserOf(u).FirstName
			if out.Username == "" {
				out.Username = u.Username
			}
		} else {
			out.FirstName = apiUserOf(User{ID: c.ID}).FirstName
		}
	}
	return out
}

// apiMessage renders m; withReply adds reply_to_message (one level, as
// Telegram does).
func (s *Server) apiMessage(cs *chatState, m *storedMsg, withReply bool) *apiMessage {
	out := &apiMessage{
		MessageID: m.ID,
		ThreadID:  m.threadID,
		Chat:      s.apiChatOf(cs.chat),
		Date:      m.date.Unix(),
	}
	if m.fromBot {
		u := apiUserOf(s.Bot())
		out.From = &u
	} else {
		u := apiUserOf(m.from)
		out.From = &u
	}
	if !m.editDate.IsZero() {
		out.EditDate = m.editDate.Unix()
	}
	if m.Document != nil {
		out.Document = &apiDocument{
			FileID: fileID(m), FileUniqueID: fileUniqueID(m), FileName: m.Document.FileName,
			MIMEType: m.Document.MIMEType, FileSize: len(m.Document.Data),
		}
		out.Caption = m.Document.Caption
		out.CaptionEntities = s.apiEntities(m.Entities)
	} else {
		out.Text = m.Text
		out.Entities = s.apiEntities(m.Entities)
	}
	if len(m.ReplyMarkup) > 0 {
		out.ReplyMarkup = m.ReplyMarkup
	}
	if withReply && m.ReplyTo != 0 {
		if r := s.findMsg(cs.chat.ID, m.ReplyTo); r != nil {
			out.ReplyTo = s.apiMessage(cs, r, false)
		}
	}
	return out
}

func fileID(m *storedMsg) string {
	return fmt.Sprintf("BQACAgIAAxkDAAI%dx%d", absInt(m.ChatID), m.ID)
}

func fileUniqueID(m *storedMsg) string {
	return fmt.Sprintf("AgAD%dx%d", absInt(m.ChatID), m.ID)
}

func absInt(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
