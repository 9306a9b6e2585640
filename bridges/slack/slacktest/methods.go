package slacktest

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

type method struct {
	appToken bool                       // needs the xapp- token instead of the bot's
	fn       func(*Server, *call) reply // called with s.mu held
}

// methods maps Web API method names (case-sensitive, as in Slack) to
// their handlers.
var methods map[string]method

func init() {
	methods = map[string]method{
		"auth.test":                    {fn: (*Server).authTest},
		"apps.connections.open":        {appToken: true, fn: (*Server).connectionsOpen},
		"chat.postMessage":             {fn: (*Server).postMessage},
		"chat.postEphemeral":           {fn: (*Server).postEphemeral},
		"chat.update":                  {fn: (*Server).update},
		"chat.delete":                  {fn: (*Server).deleteMessage},
		"chat.startStream":             {fn: (*Server).startStream},
		"chat.appendStream":            {fn: (*Server).appendStream},
		"chat.stopStream":              {fn: (*Server).stopStream},
		"assistant.threads.setStatus":  {fn: (*Server).setStatus},
		"conversations.open":           {fn: (*Server).conversationsOpen},
		"users.info":                   {fn: (*Server).usersInfo},
		"files.getUploadURLExternal":   {fn: (*Server).getUploadURL},
		"files.completeUploadExternal": {fn: (*Server).completeUpload},
	}
}

const (
	maxBlocks        = 50
	maxSectionText   = 3000
	maxHeaderText    = 150
	maxMarkdownBlock = 12000
	maxLoadingMsgs   = 10
)

func (s *Server) authTest(*call) reply {
	return ok(map[string]any{
		"url":                   "https://" + s.opts.TeamDomain + ".slack.com/",
		"team":                  s.opts.TeamDomain,
		"user":                  s.opts.BotName,
		"team_id":               s.opts.TeamID,
		"user_id":               s.opts.BotUserID,
		"bot_id":                s.opts.BotID,
		"is_enterprise_install": false,
	})
}

// channelFor resolves the channel parameter k: a known channel ID, or a
// user ID (which means the DM with that user). It returns a Slack error
// code on failure.
func (s *Server) channelFor(c *call, k string) (*channelState, string) {
	id := c.param(k)
	if u, isUser := s.users[id]; isUser && !u.IsBot {
		id = DMChannel(id)
	}
	cs := s.channels[id]
	if cs == nil {
		return nil, "channel_not_found"
	}
	if cs.BotAbsent {
		return nil, "not_in_channel"
	}
	return cs, ""
}

// content is the validated text, blocks and attachments of a post or
// update. has* tell whether the parameter was sent at all.
type content struct {
	text                              string
	blocks, attachments               json.RawMessage
	hasText, hasBlocks, hasAttachment bool
}

// checkContent validates text, blocks and attachments like Slack does.
func (s *Server) checkContent(c *call) (content, string) {
	var ct content
	ct.text, ct.hasText = c.params["text"]
	if raw, sent := c.params["blocks"]; sent {
		ct.hasBlocks = true
		n, e := checkBlocks(raw)
		if e != "" {
			return ct, e
		}
		if n > 0 {
			ct.blocks = json.RawMessage(raw)
		}
	}
	if raw, sent := c.params["attachments"]; sent {
		ct.hasAttachment = true
		var atts []map[string]any
		if err := json.Unmarshal([]byte(raw), &atts); err != nil {
			return ct, "invalid_attachments"
		}
		if len(atts) > 100 {
			return ct, "too_many_attachments"
		}
		if len(atts) > 0 {
			ct.attachments = json.RawMessage(raw)
		}
	}
	if strings.TrimSpace(ct.text) == "" && len(ct.blocks) == 0 && len(ct.attachments) == 0 {
		return ct, "no_text"
	}
	if utf8.RuneCountInString(ct.text) > s.opts.MaxTextLen {
		return ct, "msg_too_long"
	}
	return ct, ""
}

// checkBlocks validates a blocks parameter and returns how many blocks it
// holds.
func checkBlocks(raw string) (int, string) {
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return 0, "invalid_blocks_format"
	}
	if len(blocks) > maxBlocks {
		return 0, "invalid_blocks"
	}
	markdown := 0
	for _, b := range blocks {
		typ, _ := b["type"].(string)
		switch typ {
		case "":
			return 0, "invalid_blocks"
		case "section":
			t, hasText := textOf(b["text"])
			_, hasFields := b["fields"]
			if (!hasText && !hasFields) || utf8.RuneCountInString(t) > maxSectionText {
				return 0, "invalid_blocks"
			}
		case "header":
			t, hasText := textOf(b["text"])
			if !hasText || t == "" || utf8.RuneCountInString(t) > maxHeaderText {
				return 0, "invalid_blocks"
			}
		case "markdown":
			t, isStr := b["text"].(string)
			if !isStr || t == "" {
				return 0, "invalid_blocks"
			}
			markdown += utf8.RuneCountInString(t)
		}
	}
	if markdown > maxMarkdownBlock {
		return 0, "msg_blocks_too_long"
	}
	return len(blocks), ""
}

// textOf reads the text of a text object {"type":..., "text":...}.
func textOf(v any) (string, bool) {
	obj, isObj := v.(map[string]any)
	if !isObj {
		return "", false
	}
	t, isStr := obj["text"].(string)
	return t, isStr
}

// threadOf returns the thread a reply with thread_ts goes to: the parent
// of threadTS when threadTS is itself a reply, as Slack does.
func (s *Server) threadOf(channel, threadTS string) string {
	if m, found := s.byTS[threadTS]; found && m.Channel == channel && m.ThreadTS != "" {
		return m.ThreadTS
	}
	return threadTS
}

// newBotMsgLocked adds a bot message to cs and clears the assistant
// status of its thread, as Slack does when the app replies.
func (s *Server) newBotMsgLocked(cs *channelState, c *call, threadTS string) *storedMsg {
	m := &storedMsg{Message: Message{
		Channel:  cs.ID,
		TS:       s.nextTS(c.now),
		User:     s.opts.BotUserID,
		BotID:    s.opts.BotID,
		Mrkdwn:   true,
		PostedAt: c.now,
	}}
	if threadTS != "" {
		m.ThreadTS = s.threadOf(cs.ID, threadTS)
		delete(s.current, [2]string{cs.ID, m.ThreadTS})
	}
	cs.msgs = append(cs.msgs, m)
	s.byTS[m.TS] = m
	return m
}

func flag(c *call, k string) *bool {
	v, sent := c.params[k]
	if !sent {
		return nil
	}
	b := v == "true" || v == "1"
	return &b
}

func (s *Server) messageJSON(m *storedMsg) map[string]any {
	out := map[string]any{
		"type": "message",
		"text": m.Text,
		"user": m.User,
		"ts":   m.TS,
		"team": s.opts.TeamID,
	}
	if !m.human {
		out["bot_id"] = m.BotID
		out["app_id"] = s.opts.AppID
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if len(m.Blocks) > 0 {
		out["blocks"] = m.Blocks
	}
	if len(m.Attachments) > 0 {
		out["attachments"] = m.Attachments
	}
	if m.Edits > 0 {
		out["edited"] = map[string]any{"user": m.User, "ts": tsOf(m.EditedAt)}
	}
	return out
}

func (s *Server) postMessage(c *call) reply {
	cs, e := s.channelFor(c, "channel")
	if e != "" {
		return fail(e)
	}
	ct, e := s.checkContent(c)
	if e != "" {
		return fail(e)
	}
	m := s.newBotMsgLocked(cs, c, c.param("thread_ts"))
	m.Text, m.Versions = ct.text, []string{ct.text}
	m.Blocks, m.Attachments = ct.blocks, ct.attachments
	m.Mrkdwn = c.param("mrkdwn") != "false"
	m.UnfurlLinks, m.UnfurlMedia = flag(c, "unfurl_links"), flag(c, "unfurl_media")
	m.ReplyBroadcast = c.param("reply_broadcast") == "true"
	return ok(map[string]any{"channel": cs.ID, "ts": m.TS, "message": s.messageJSON(m)})
}

func (s *Server) postEphemeral(c *call) reply {
	cs, e := s.channelFor(c, "channel")
	if e != "" {
		return fail(e)
	}
	user := c.param("user")
	if u, known := s.users[user]; !known || u.IsBot || (cs.IsIM() && cs.User != user) {
		return fail("user_not_in_channel")
	}
	ct, e := s.checkContent(c)
	if e != "" {
		return fail(e)
	}
	m := s.newBotMsgLocked(cs, c, c.param("thread_ts"))
	m.Text, m.Versions = ct.text, []string{ct.text}
	m.Blocks, m.Attachments = ct.blocks, ct.attachments
	m.Ephemeral, m.EphemeralUser = true, user
	return ok(map[string]any{"message_ts": m.TS})
}

// ownMessage finds the message ts in cs that the bot may change.
func (s *Server) ownMessage(cs *channelState, ts, notOwn string) (*storedMsg, string) {
	m, found := s.byTS[ts]
	if !found || m.Channel != cs.ID || m.Ephemeral {
		return nil, "message_not_found"
	}
	if m.human {
		return nil, notOwn
	}
	return m, ""
}

func (s *Server) update(c *call) reply {
	cs, e := s.channelFor(c, "channel")
	if e != "" {
		return fail(e)
	}
	m, e := s.ownMessage(cs, c.param("ts"), "cant_update_message")
	if e != "" {
		return fail(e)
	}
	ct, e := s.checkContent(c)
	if e != "" {
		return fail(e)
	}
	if ct.hasText {
		m.Text = ct.text
	}
	if ct.hasBlocks {
		m.Blocks = ct.blocks
	}
	if ct.hasAttachment {
		m.Attachments = ct.attachments
	}
	m.Edits++
	m.EditedAt = c.now
	m.Versions = append(m.Versions, m.Text)
	return ok(map[string]any{"channel": cs.ID, "ts": m.TS, "text": m.Text, "message": s.messageJSON(m)})
}

func (s *Server) deleteMessage(c *call) reply {
	cs, e := s.channelFor(c, "channel")
	if e != "" {
		return fail(e)
	}
	m, e := s.ownMessage(cs, c.param("ts"), "cant_delete_message")
	if e != "" {
		return fail(e)
	}
	delete(s.byTS, m.TS)
	for i, x := range cs.msgs {
		if x == m {
			cs.msgs = append(cs.msgs[:i], cs.msgs[i+1:]...)
			break
		}
	}
	return ok(map[string]any{"channel": cs.ID, "ts": m.TS})
}

func (s *Server) conversationsOpen(c *call) reply {
	if c.param("channel") != "" {
		cs, e := s.channelFor(c, "channel")
		if e != "" {
			return fail(e)
		}
		return ok(map[string]any{"channel": map[string]any{"id": cs.ID}, "already_open": true, "no_op": true})
	}
	users := c.param("users")
	if users == "" {
		return fail("users_list_not_supplied")
	}
	if strings.Contains(users, ",") {
		return fail("method_not_supported_for_channel_type")
	}
	u, known := s.users[users]
	if !known || u.IsBot {
		return fail("user_not_found")
	}
	cs := s.addChannelLocked(Channel{ID: DMChannel(u.ID), User: u.ID})
	open := len(cs.msgs) > 0
	return ok(map[string]any{
		"channel":      map[string]any{"id": cs.ID, "is_im": true, "user": u.ID, "is_open": true},
		"already_open": open,
		"no_op":        open,
	})
}

func (s *Server) usersInfo(c *call) reply {
	u, known := s.users[c.param("user")]
	if !known {
		return fail("user_not_found")
	}
	profile := map[string]any{"real_name": u.RealName, "display_name": u.Name}
	if u.IsBot && u.ID == s.opts.BotUserID {
		profile["bot_id"] = s.opts.BotID
	}
	return ok(map[string]any{"user": map[string]any{
		"id":        u.ID,
		"team_id":   s.opts.TeamID,
		"name":      u.Name,
		"real_name": u.RealName,
		"deleted":   false,
		"is_bot":    u.IsBot,
		"tz":        "Etc/UTC",
		"tz_label":  "Coordinated Universal Time",
		"tz_offset": 0,
		"profile":   profile,
	}})
}
