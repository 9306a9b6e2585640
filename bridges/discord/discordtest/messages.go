package discordtest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// storedMsg is a message with the fake's bookkeeping.
type storedMsg struct {
	Message
	typ       int // Discord message type: 0 default, 19 reply, 20 command
	hasThread bool
	inter     *interactionState
}

func (m *storedMsg) snapshot() Message {
	out := m.Message
	out.Mentions = slices.Clone(m.Mentions)
	out.MentionRoles = slices.Clone(m.MentionRoles)
	out.Embeds = slices.Clone(m.Embeds)
	out.Components = slices.Clone(m.Components)
	out.Attachments = make([]Attachment, len(m.Attachments))
	for i, a := range m.Attachments {
		a.Data = slices.Clone(a.Data)
		out.Attachments[i] = a
	}
	if m.AllowedMentions != nil {
		am := *m.AllowedMentions
		am.Parse, am.Users, am.Roles = slices.Clone(am.Parse), slices.Clone(am.Users), slices.Clone(am.Roles)
		out.AllowedMentions = &am
	}
	return out
}

func (s *Server) findMsgLocked(channelID, id string) *storedMsg {
	if cs := s.channels[channelID]; cs != nil {
		for _, m := range cs.msgs {
			if m.ID == id {
				return m
			}
		}
	}
	return nil
}

func (s *Server) newMsgLocked(cs *channelState, author User, now time.Time) *storedMsg {
	m := &storedMsg{Message: Message{
		ID: s.newIDLocked(now), ChannelID: cs.ch.ID, GuildID: cs.ch.GuildID, Author: author, SentAt: now,
	}}
	cs.msgs = append(cs.msgs, m)
	return m
}

func (s *Server) removeMsgLocked(m *storedMsg) {
	if cs := s.channels[m.ChannelID]; cs != nil {
		cs.msgs = slices.DeleteFunc(cs.msgs, func(x *storedMsg) bool { return x == m })
	}
}

// msgInput is a parsed message body (create, edit, callback data).
type msgInput struct {
	content       string
	contentSet    bool // present, even as null
	embeds        []json.RawMessage
	embedsSet     bool
	components    json.RawMessage
	componentsSet bool
	other         bool // stickers or poll
	flags         int
	flagsSet      bool
	allowed       *AllowedMentions
	replyTo       string
	replyOptional bool     // fail_if_not_exists: false
	keep          []string // attachments to keep (edits)
	keepSet       bool
	files         []Attachment
}

// parseMessage validates a message body o, adding errors under prefix
// ("" or "data.").
func parseMessage(o obj, files []Attachment, fe formErrors, prefix string) msgInput {
	in := msgInput{files: files}
	if o.present("content") {
		in.contentSet = true
		if !o.isString("content") {
			fe.add(prefix+"content", "BASE_TYPE_STRING", "Must be a string.")
		}
		in.content, _ = o.str("content")
		if utf8.RuneCountInString(in.content) > MaxContentLength {
			fe.add(prefix+"content", "BASE_TYPE_MAX_LENGTH", maxLen(MaxContentLength))
		}
	}
	if o.present("embeds") {
		in.embedsSet = true
		in.embeds, _ = o.array("embeds")
		if len(in.embeds) > 10 {
			fe.add(prefix+"embeds", "BASE_TYPE_MAX_LENGTH", maxLen(10))
		}
		for i, e := range in.embeds {
			var eo obj
			if json.Unmarshal(e, &eo) != nil {
				continue
			}
			p := prefix + "embeds." + strconv.Itoa(i) + "."
			if t, _ := eo.str("title"); utf8.RuneCountInString(t) > 256 {
				fe.add(p+"title", "BASE_TYPE_MAX_LENGTH", maxLen(256))
			}
			if d, _ := eo.str("description"); utf8.RuneCountInString(d) > 4096 {
				fe.add(p+"description", "BASE_TYPE_MAX_LENGTH", maxLen(4096))
			}
		}
	}
	if o.present("components") {
		in.componentsSet = true
		if list, _ := o.array("components"); len(list) > 0 {
			in.components = o["components"]
		}
	}
	if l, _ := o.array("sticker_ids"); len(l) > 0 {
		in.other = true
	}
	if o.has("poll") {
		in.other = true
	}
	if o.has("flags") {
		in.flagsSet = true
		in.flags, _ = o.integer("flags")
	}
	in.allowed = parseAllowedMentions(o, "allowed_mentions", fe, prefix+"allowed_mentions")
	if ref, isObj := o.object("message_reference"); isObj {
		in.replyTo, _ = ref.str("message_id")
		in.replyOptional = ref.has("fail_if_not_exists") && string(ref["fail_if_not_exists"]) == "false"
	}
	if list, isList := o.array("attachments"); isList {
		in.keepSet = true
		for _, a := range list {
			var ao obj
			if json.Unmarshal(a, &ao) == nil {
				id, _ := ao.str("id")
				if id == "" {
					if n, isNum := ao.integer("id"); isNum {
						id = strconv.Itoa(n)
					}
				}
				in.keep = append(in.keep, id)
			}
		}
	}
	if len(files) > 10 {
		fe.add(prefix+"attachments", "BASE_TYPE_MAX_LENGTH", maxLen(10))
	}
	return in
}

// emptyNew reports whether a new message with this input would have
// nothing to show.
func (in msgInput) emptyNew() bool {
	return strings.TrimSpace(in.content) == "" && len(in.embeds) == 0 && len(in.components) == 0 &&
		!in.other && len(in.files) == 0
}

// msgEmpty reports whether m has nothing to show.
func msgEmpty(m *Message) bool {
	return strings.TrimSpace(m.Content) == "" && len(m.Embeds) == 0 && len(m.Components) == 0 && len(m.Attachments) == 0
}

// applyNewLocked fills a new message from in, keeping only allowedFlags.
func (s *Server) applyNewLocked(m *storedMsg, in msgInput, allowedFlags int, ctx mentionContext, now time.Time) {
	m.Content = in.content
	m.Embeds = in.embeds
	m.Components = in.components
	m.Flags = in.flags & allowedFlags
	m.Ephemeral = m.Flags&FlagEphemeral != 0
	m.AllowedMentions = in.allowed
	for _, f := range in.files {
		f.ID = s.newIDLocked(now)
		m.Attachments = append(m.Attachments, f)
	}
	if in.replyTo != "" {
		m.ReplyTo = in.replyTo
		m.typ = 19
	}
	resolveMentions(&m.Message, in.allowed, ctx, s.repliedAuthorLocked(m))
}

// applyEditLocked edits m by in. refused is true, with the answer, when
// the edit would leave the message empty; m is then unchanged.
func (s *Server) applyEditLocked(m *storedMsg, in msgInput, ctx mentionContext, now time.Time) (rep reply, refused bool) {
	next := m.Message
	if in.contentSet {
		next.Content = in.content
	}
	if in.embedsSet {
		next.Embeds = in.embeds
	}
	if in.componentsSet {
		next.Components = in.components
	}
	if in.keepSet {
		var kept []Attachment
		for _, a := range m.Attachments {
			if slices.Contains(in.keep, a.ID) {
				kept = append(kept, a)
			}
		}
		next.Attachments = kept
	}
	for _, f := range in.files {
		f.ID = s.newIDLocked(now)
		next.Attachments = append(next.Attachments, f)
	}
	if in.flagsSet {
		next.Flags = next.Flags&^FlagSuppressEmbeds | in.flags&FlagSuppressEmbeds
	}
	next.Flags &^= FlagLoading
	if msgEmpty(&next) {
		return emptyMessage(), true
	}
	if in.contentSet || in.allowed != nil {
		next.AllowedMentions = in.allowed
		resolveMentions(&next, in.allowed, ctx, s.repliedAuthorLocked(m))
	}
	next.Edits++
	next.EditedAt = now
	m.Message = next
	return reply{}, false
}

func (s *Server) repliedAuthorLocked(m *storedMsg) string {
	if m.ReplyTo == "" {
		return ""
	}
	if r := s.findMsgLocked(m.ChannelID, m.ReplyTo); r != nil {
		return r.Author.ID
	}
	return ""
}

// ---- gateway and users ----

func (s *Server) gateway(*call) reply { return ok(map[string]any{"url": s.GatewayURL()}) }

func (s *Server) gatewayBot(*call) reply {
	return ok(map[string]any{"url": s.GatewayURL(), "shards": 1, "session_start_limit": map[string]any{
		"total": 1000, "remaining": max(0, 1000-len(s.identifies)), "reset_after": 86400000, "max_concurrency": 1,
	}})
}

func (s *Server) currentUser(*call) reply {
	u := userJSON(s.Bot())
	u["verified"], u["mfa_enabled"], u["flags"] = true, false, 0
	return ok(u)
}

// currentApplication is the bot's application, as GET
// /oauth2/applications/@me answers it to a bot token.
func (s *Server) currentApplication(*call) reply {
	bot := s.Bot()
	return ok(map[string]any{
		"id": s.opts.ApplicationID, "name": bot.Username, "description": "",
		"bot_public": false, "bot_require_code_grant": false, "flags": 0, "bot": userJSON(bot),
	})
}

func (s *Server) user(c *call) reply {
	u, known := s.users[c.params["user"]]
	if !known {
		return apiError(404, 10013, "Unknown User")
	}
	return ok(userJSON(u))
}

func (s *Server) createDM(c *call) reply {
	id, _ := c.fields.str("recipient_id")
	if id == "" {
		fe := formErrors{}
		fe.add("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")
		rep, _ := fe.reply()
		return rep
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		fe := formErrors{}
		fe.add("recipient_id", "NUMBER_TYPE_COERCE", "Value \""+id+"\" is not snowflake.")
		rep, _ := fe.reply()
		return rep
	}
	return ok(s.channelJSON(s.dmLocked(s.userLocked(id), c.now).ch))
}

// dmLocked returns the DM channel with u, creating it.
func (s *Server) dmLocked(u User, now time.Time) *channelState {
	if _, known := s.users[u.ID]; !known {
		s.users[u.ID] = u
	}
	if id, ok := s.dms[u.ID]; ok {
		return s.channels[id]
	}
	cs := &channelState{ch: Channel{ID: s.newIDLocked(now), Type: ChannelDM, Recipient: s.users[u.ID]}}
	s.channels[cs.ch.ID] = cs
	s.dms[u.ID] = cs.ch.ID
	return cs
}

// ---- channels and messages ----

func (s *Server) channel(c *call) reply {
	cs := s.channels[c.params["channel"]]
	if cs == nil {
		return unknownChannel()
	}
	return ok(s.channelJSON(cs.ch))
}

const channelFlags = FlagSuppressEmbeds | FlagSuppressNotification | FlagIsVoiceMessage | FlagIsComponentsV2

func (s *Server) createMessage(c *call) reply {
	cs := s.channels[c.params["channel"]]
	if cs == nil {
		return unknownChannel()
	}
	fe := formErrors{}
	in := parseMessage(c.fields, c.files, fe, "")
	if rep, bad := fe.reply(); bad {
		return rep
	}
	if in.emptyNew() {
		return emptyMessage()
	}
	if in.replyTo != "" && s.findMsgLocked(cs.ch.ID, in.replyTo) == nil {
		if !in.replyOptional {
			fe.add("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
			rep, _ := fe.reply()
			return rep
		}
		in.replyTo = ""
	}
	m := s.newMsgLocked(cs, s.Bot(), c.now)
	s.applyNewLocked(m, in, channelFlags, mentionsRegular, c.now)
	s.echoLocked("MESSAGE_CREATE", m)
	return ok(s.messageJSON(m))
}

// channelMsg finds the channel and message of c's path; a message only
// the invoking user sees (ephemeral) is not found.
func (s *Server) channelMsg(c *call) (*storedMsg, reply, bool) {
	if s.channels[c.params["channel"]] == nil {
		return nil, unknownChannel(), false
	}
	m := s.findMsgLocked(c.params["channel"], c.params["message"])
	if m == nil || m.Ephemeral {
		return nil, unknownMessage(), false
	}
	return m, reply{}, true
}

func (s *Server) getMessage(c *call) reply {
	m, rep, found := s.channelMsg(c)
	if !found {
		return rep
	}
	return ok(s.messageJSON(m))
}

func (s *Server) editMessage(c *call) reply {
	m, rep, found := s.channelMsg(c)
	if !found {
		return rep
	}
	if m.Author.ID != s.opts.BotID {
		return apiError(403, 50005, "Cannot edit a message authored by another user")
	}
	fe := formErrors{}
	in := parseMessage(c.fields, c.files, fe, "")
	if rep, bad := fe.reply(); bad {
		return rep
	}
	if rep, refused := s.applyEditLocked(m, in, mentionsRegular, c.now); refused {
		return rep
	}
	s.echoLocked("MESSAGE_UPDATE", m)
	return ok(s.messageJSON(m))
}

func (s *Server) deleteMessage(c *call) reply {
	m, rep, found := s.channelMsg(c)
	if !found {
		return rep
	}
	if m.Author.ID != s.opts.BotID {
		if m.GuildID == "" {
			return apiError(403, 50003, "Cannot execute action on a DM channel")
		}
		return apiError(403, 50013, "Missing Permissions")
	}
	s.removeMsgLocked(m)
	s.deletedLocked(m)
	return noContent()
}

func (s *Server) typing(c *call) reply {
	if s.channels[c.params["channel"]] == nil {
		return unknownChannel()
	}
	return noContent()
}

// ---- threads ----

func (s *Server) threadParent(c *call) (*channelState, reply, bool) {
	cs := s.channels[c.params["channel"]]
	if cs == nil {
		return nil, unknownChannel(), false
	}
	if cs.ch.Type != ChannelGuildText && cs.ch.Type != 5 {
		return nil, apiError(400, 50024, "Cannot execute action on this channel type"), false
	}
	return cs, reply{}, true
}

func threadName(c *call, fe formErrors) string {
	name, _ := c.fields.str("name")
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
		fe.add("name", "BASE_TYPE_BAD_LENGTH", badLen(1, 100))
	}
	return name
}

func (s *Server) startThreadFromMessage(c *call) reply {
	parent, rep, good := s.threadParent(c)
	if !good {
		return rep
	}
	m := s.findMsgLocked(parent.ch.ID, c.params["message"])
	if m == nil {
		return unknownMessage()
	}
	fe := formErrors{}
	name := threadName(c, fe)
	if rep, bad := fe.reply(); bad {
		return rep
	}
	if m.hasThread {
		return apiError(400, 160004, "A thread has already been created for this message")
	}
	m.hasThread = true
	th := s.addChannelLocked(Channel{ID: m.ID, Type: ChannelPublicThread, GuildID: parent.ch.GuildID,
		ParentID: parent.ch.ID, Name: name, OwnerID: s.opts.BotID}, c.now)
	return reply{status: 201, body: s.channelJSON(th.ch)}
}

func (s *Server) startThread(c *call) reply {
	parent, rep, good := s.threadParent(c)
	if !good {
		return rep
	}
	fe := formErrors{}
	name := threadName(c, fe)
	typ, hasType := c.fields.integer("type")
	switch {
	case !hasType && c.rec.Version >= 10:
		fe.add("type", "BASE_TYPE_REQUIRED", "This field is required")
	case !hasType:
		typ = ChannelPrivateThread
	case typ != ChannelPublicThread && typ != ChannelPrivateThread && typ != 10:
		fe.add("type", "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")
	}
	if rep, bad := fe.reply(); bad {
		return rep
	}
	th := s.addChannelLocked(Channel{ID: s.newIDLocked(c.now), Type: typ, GuildID: parent.ch.GuildID,
		ParentID: parent.ch.ID, Name: name, OwnerID: s.opts.BotID}, c.now)
	return reply{status: 201, body: s.channelJSON(th.ch)}
}
