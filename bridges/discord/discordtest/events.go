package discordtest

import (
	"sort"
	"strings"
	"time"
)

// appPermissions is what the fake says the bot may do in a channel
// (app_permissions), as Discord's decimal string.
const appPermissions = "2248473465835073"

// ---- channels ----

// AddChannel makes a guild channel or thread known, as if the bot could
// see it, and returns it with defaults filled in: a new ID if ID is
// empty, type ChannelGuildText (or ChannelPublicThread with a ParentID),
// a thread's GuildID from its parent. A new guild is announced with
// GUILD_CREATE, a new channel with CHANNEL_CREATE or THREAD_CREATE. For
// DMs use DM. It panics if a thread's parent is unknown.
func (s *Server) AddChannel(c Channel) Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if c.ID == "" {
		c.ID = s.newIDLocked(now)
	}
	if c.ParentID != "" {
		parent := s.channels[c.ParentID]
		if parent == nil {
			panic("discordtest: AddChannel: unknown parent channel " + c.ParentID)
		}
		c.GuildID = parent.ch.GuildID
		if c.Type == ChannelGuildText {
			c.Type = ChannelPublicThread
		}
	}
	if c.Name == "" {
		c.Name = "channel-" + c.ID
	}
	return s.addChannelLocked(c, now).ch
}

// AddBotThread declares a public thread the bot started under parentID.
func (s *Server) AddBotThread(parentID, name string) Channel {
	return s.AddChannel(Channel{Type: ChannelPublicThread, ParentID: parentID, Name: name, OwnerID: s.opts.BotID})
}

func (s *Server) addChannelLocked(c Channel, now time.Time) *channelState {
	if cs := s.channels[c.ID]; cs != nil {
		return cs
	}
	newGuild := false
	if c.GuildID != "" && s.guilds[c.GuildID] == nil {
		s.guilds[c.GuildID] = &guildState{id: c.GuildID, name: "guild-" + c.GuildID}
		s.guildOrder = append(s.guildOrder, c.GuildID)
		newGuild = true
	}
	cs := &channelState{ch: c}
	s.channels[c.ID] = cs
	if c.GuildID == "" || !s.liveSessionLocked() {
		return cs // READY and GUILD_CREATE will tell the next session
	}
	guilds := func(intents int) bool { return intents&IntentGuilds != 0 }
	switch {
	case newGuild:
		gid := c.GuildID
		s.dispatchLocked("GUILD_CREATE", func(intents int) (any, bool) { return s.guildJSONLocked(gid), guilds(intents) }, nil)
	case c.IsThread():
		j := s.channelJSON(c)
		j["newly_created"] = true
		s.dispatchLocked("THREAD_CREATE", func(intents int) (any, bool) { return j, guilds(intents) }, nil)
	default:
		j := s.channelJSON(c)
		s.dispatchLocked("CHANNEL_CREATE", func(intents int) (any, bool) { return j, guilds(intents) }, nil)
	}
	return cs
}

func (s *Server) guildJSONLocked(gid string) map[string]any {
	g := s.guilds[gid]
	var chans, threads []*channelState
	for _, cs := range s.channels {
		if cs.ch.GuildID != gid {
			continue
		}
		if cs.ch.IsThread() {
			threads = append(threads, cs)
		} else {
			chans = append(chans, cs)
		}
	}
	toJSON := func(list []*channelState) []any {
		sort.Slice(list, func(i, j int) bool { return list[i].ch.ID < list[j].ch.ID })
		out := []any{}
		for _, cs := range list {
			out = append(out, s.channelJSON(cs.ch))
		}
		return out
	}
	return map[string]any{
		"id": g.id, "name": g.name, "icon": nil, "owner_id": "1", "joined_at": timestamp(time.Now()),
		"large": false, "unavailable": false, "member_count": 2, "channels": toJSON(chans), "threads": toJSON(threads),
		"members": []any{}, "roles": []any{}, "emojis": []any{}, "stickers": []any{}, "voice_states": []any{},
		"presences": []any{}, "features": []any{}, "stage_instances": []any{}, "guild_scheduled_events": []any{},
		"preferred_locale": "en-US", "verification_level": 0, "system_channel_flags": 0,
	}
}

// DM returns the DM channel between the bot and u, creating it (as if u
// had opened it).
func (s *Server) DM(u User) Channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dmLocked(u, time.Now()).ch
}

// ---- messages from users ----

// SendDM delivers a DM from a user to the bot: MESSAGE_CREATE without
// guild_id (to sessions with the DIRECT_MESSAGES intent). It returns the
// stored message.
func (s *Server) SendDM(from User, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.postLocked(s.dmLocked(from, time.Now()), from, text)
}

// SendGuildMessage delivers a message from a user in a guild channel,
// registering the guild and the channel if they are new. With mentionBot
// the content starts with the bot's mention "<@BOT_ID> ". Sessions need
// GUILD_MESSAGES to get it, and MESSAGE_CONTENT to see its content unless
// it mentions the bot.
func (s *Server) SendGuildMessage(guildID, channelID string, from User, text string, mentionBot bool) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.channels[channelID]
	if cs == nil {
		cs = s.addChannelLocked(Channel{ID: channelID, Type: ChannelGuildText, GuildID: guildID, Name: "channel-" + channelID}, time.Now())
	}
	if mentionBot {
		text = "<@" + s.opts.BotID + "> " + text
	}
	return s.postLocked(cs, from, text)
}

// Post delivers a message from a user in any known channel (a DM, a guild
// channel, a thread). It panics on an unknown channel.
func (s *Server) Post(channelID string, from User, text string) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.channels[channelID]
	if cs == nil {
		panic("discordtest: Post: unknown channel " + channelID)
	}
	return s.postLocked(cs, from, text)
}

func (s *Server) postLocked(cs *channelState, from User, text string) Message {
	if _, known := s.users[from.ID]; !known {
		s.users[from.ID] = from
	}
	m := s.newMsgLocked(cs, from, time.Now())
	m.Content = text
	resolveMentions(&m.Message, nil, mentionsRegular, "")
	s.messageEventLocked("MESSAGE_CREATE", m, false)
	return m.snapshot()
}

// messageEventLocked dispatches MESSAGE_CREATE or MESSAGE_UPDATE for m to
// the sessions whose intents allow it, hiding content from those without
// MESSAGE_CONTENT where Discord does.
func (s *Server) messageEventLocked(typ string, m *storedMsg, own bool) {
	base := s.messageJSON(m)
	if m.GuildID != "" {
		base["member"] = map[string]any{"roles": []any{}, "joined_at": timestamp(m.SentAt), "deaf": false, "mute": false, "flags": 0}
	}
	visible := own || m.GuildID == "" || m.Author.Bot || mentionsUser(m.Content, s.opts.BotID)
	need := IntentGuildMessages
	if m.GuildID == "" {
		need = IntentDirectMessages
	}
	s.dispatchLocked(typ, func(intents int) (any, bool) {
		if intents&need == 0 {
			return nil, false
		}
		if visible || intents&IntentMessageContent != 0 {
			return base, true
		}
		hidden := make(map[string]any, len(base))
		for k, v := range base {
			hidden[k] = v
		}
		hidden["content"], hidden["embeds"], hidden["attachments"], hidden["components"] = "", []any{}, []any{}, []any{}
		return hidden, true
	}, nil)
}

// echoLocked dispatches the bot's own message event, as Discord does,
// unless Options.NoEcho or the message is ephemeral.
func (s *Server) echoLocked(typ string, m *storedMsg) {
	if s.opts.NoEcho || m.Ephemeral {
		return
	}
	s.messageEventLocked(typ, m, true)
}

// deletedLocked dispatches MESSAGE_DELETE for m.
func (s *Server) deletedLocked(m *storedMsg) {
	if m.Ephemeral {
		return
	}
	need := IntentGuildMessages
	if m.GuildID == "" {
		need = IntentDirectMessages
	}
	d := map[string]any{"id": m.ID, "channel_id": m.ChannelID}
	if m.GuildID != "" {
		d["guild_id"] = m.GuildID
	}
	s.dispatchLocked("MESSAGE_DELETE", func(intents int) (any, bool) { return d, intents&need != 0 }, nil)
}

// ---- interactions ----

// SendInteraction sends an INTERACTION_CREATE for a slash command (type
// 2) invoked by from in channelID, with options. The command's ID is the
// registered one (guild commands first, then global), or a fresh one if
// it was never registered. The 3-second deadline starts when the event
// is written to a connection. It panics on an unknown channel.
func (s *Server) SendInteraction(from User, channelID, command string, options ...Option) Interaction {
	return s.sendInteraction(InteractionApplicationCommand, from, channelID, command, "", "", options)
}

// SendAutocomplete sends an autocomplete interaction (type 4) for command,
// as the user types. If no option is Focused, the last one is.
func (s *Server) SendAutocomplete(from User, channelID, command string, options ...Option) Interaction {
	options = append([]Option(nil), options...)
	focused := false
	for _, o := range options {
		focused = focused || o.Focused
	}
	if !focused && len(options) > 0 {
		options[len(options)-1].Focused = true
	}
	return s.sendInteraction(InteractionAutocomplete, from, channelID, command, "", "", options)
}

// SendComponent sends a message component interaction (type 3): from
// pressed the button customID on message messageID of channelID.
func (s *Server) SendComponent(from User, channelID, messageID, customID string) Interaction {
	return s.sendInteraction(InteractionMessageComponent, from, channelID, "", messageID, customID, nil)
}

func (s *Server) sendInteraction(typ int, from User, channelID, command, messageID, customID string, options []Option) Interaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.channels[channelID]
	if cs == nil {
		panic("discordtest: interaction in unknown channel " + channelID)
	}
	if _, known := s.users[from.ID]; !known {
		s.users[from.ID] = from
	}
	now := time.Now()
	id := s.newIDLocked(now)
	st := &interactionState{Interaction: Interaction{
		ID: id, Token: "aW50ZXJhY3Rpb246" + id + ":" + strings.ToLower(randomHex(24)), ApplicationID: s.opts.ApplicationID,
		Type: typ, ChannelID: channelID, GuildID: cs.ch.GuildID, User: s.users[from.ID], Command: command, CustomID: customID,
	}, options: options, messageID: messageID}
	s.interactions[id] = st
	s.tokens[st.Token] = st

	d := map[string]any{
		"id": id, "application_id": s.opts.ApplicationID, "type": typ, "token": st.Token, "version": 1,
		"channel_id": channelID, "channel": s.channelJSON(cs.ch), "app_permissions": appPermissions,
		"locale": "en-US", "entitlements": []any{}, "attachment_size_limit": s.opts.MaxFileSize,
	}
	if cs.ch.GuildID != "" {
		d["guild_id"] = cs.ch.GuildID
		d["guild_locale"] = "en-US"
		d["context"] = 0
		d["authorizing_integration_owners"] = map[string]any{"0": cs.ch.GuildID}
		d["member"] = map[string]any{"user": userJSON(st.User), "roles": []any{}, "joined_at": timestamp(now),
			"deaf": false, "mute": false, "flags": 0, "permissions": appPermissions}
	} else {
		d["context"] = 1
		d["authorizing_integration_owners"] = map[string]any{"0": "0"}
		d["user"] = userJSON(st.User)
	}
	switch typ {
	case InteractionMessageComponent:
		d["data"] = map[string]any{"custom_id": customID, "component_type": 2}
		if m := s.findMsgLocked(channelID, messageID); m != nil {
			d["message"] = s.messageJSON(m)
		}
	default:
		data := map[string]any{"id": s.commandIDLocked(cs.ch.GuildID, command, now), "name": command, "type": 1}
		if len(options) > 0 {
			data["options"] = options
		}
		if cs.ch.GuildID != "" {
			data["guild_id"] = cs.ch.GuildID
		}
		d["data"] = data
	}
	s.dispatchLocked("INTERACTION_CREATE", func(int) (any, bool) { return d, true }, func(at time.Time) {
		if st.SentAt.IsZero() {
			st.SentAt = at
		}
	})
	return st.Interaction
}

func (s *Server) commandIDLocked(guildID, name string, now time.Time) string {
	for _, scope := range []string{guildID, ""} {
		for _, c := range s.commands[scope] {
			if c.Name == name && c.Type == 1 {
				return c.ID
			}
		}
	}
	return s.newIDLocked(now)
}
