package discordtest

import (
	"encoding/json"
	"time"
)

// ---- JSON shapes ----

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }

func userJSON(u User) map[string]any {
	out := map[string]any{"id": u.ID, "username": u.Username, "discriminator": "0", "avatar": nil,
		"global_name": nil, "public_flags": 0}
	if u.GlobalName != "" {
		out["global_name"] = u.GlobalName
	}
	if u.Bot {
		out["bot"] = true
	}
	return out
}

func (s *Server) userLocked(id string) User {
	if u, ok := s.users[id]; ok {
		return u
	}
	return User{ID: id, Username: "user" + id}
}

func (s *Server) messageJSON(m *storedMsg) map[string]any {
	mentions := make([]any, 0, len(m.Mentions))
	for _, id := range m.Mentions {
		mentions = append(mentions, userJSON(s.userLocked(id)))
	}
	attachments := make([]any, 0, len(m.Attachments))
	for _, a := range m.Attachments {
		url := "https://cdn.discordapp.com/attachments/" + m.ChannelID + "/" + a.ID + "/" + a.Filename
		aj := map[string]any{"id": a.ID, "filename": a.Filename, "size": len(a.Data), "url": url, "proxy_url": url}
		if a.ContentType != "" {
			aj["content_type"] = a.ContentType
		}
		attachments = append(attachments, aj)
	}
	embeds := make([]json.RawMessage, 0, len(m.Embeds))
	embeds = append(embeds, m.Embeds...)
	var components any = []any{}
	if len(m.Components) > 0 {
		components = m.Components
	}
	var edited any
	if !m.EditedAt.IsZero() {
		edited = timestamp(m.EditedAt)
	}
	out := map[string]any{
		"id": m.ID, "channel_id": m.ChannelID, "author": userJSON(m.Author), "content": m.Content,
		"timestamp": timestamp(m.SentAt), "edited_timestamp": edited, "tts": false,
		"mention_everyone": m.MentionsEveryone, "mentions": mentions, "mention_roles": append([]string{}, m.MentionRoles...),
		"attachments": attachments, "embeds": embeds, "components": components, "pinned": false,
		"type": m.typ, "flags": m.Flags,
	}
	if m.GuildID != "" {
		out["guild_id"] = m.GuildID
	}
	if m.WebhookID != "" {
		out["webhook_id"] = m.WebhookID
		out["application_id"] = s.opts.ApplicationID
	}
	if m.ReplyTo != "" {
		ref := map[string]any{"type": 0, "message_id": m.ReplyTo, "channel_id": m.ChannelID}
		if m.GuildID != "" {
			ref["guild_id"] = m.GuildID
		}
		out["message_reference"] = ref
	}
	if m.hasThread {
		if th := s.channels[m.ID]; th != nil {
			out["thread"] = s.channelJSON(th.ch)
		}
	}
	if st := m.inter; st != nil {
		out["interaction_metadata"] = map[string]any{"id": st.ID, "type": st.Type, "user": userJSON(st.User),
			"authorizing_integration_owners": map[string]any{}}
	}
	return out
}

func (s *Server) channelJSON(ch Channel) map[string]any {
	out := map[string]any{"id": ch.ID, "type": ch.Type, "flags": 0, "last_message_id": nil}
	if cs := s.channels[ch.ID]; cs != nil && len(cs.msgs) > 0 {
		out["last_message_id"] = cs.msgs[len(cs.msgs)-1].ID
	}
	if ch.Type == ChannelDM {
		out["recipients"] = []any{userJSON(ch.Recipient)}
		return out
	}
	out["guild_id"] = ch.GuildID
	out["name"] = ch.Name
	out["nsfw"] = false
	out["rate_limit_per_user"] = 0
	if ch.ParentID != "" {
		out["parent_id"] = ch.ParentID
	}
	if ch.IsThread() {
		out["owner_id"] = ch.OwnerID
		out["member_count"] = 1
		out["message_count"] = 0
		out["thread_metadata"] = map[string]any{"archived": false, "auto_archive_duration": 1440,
			"archive_timestamp": timestamp(time.Now()), "locked": false}
	} else {
		out["position"] = 0
		out["permission_overwrites"] = []any{}
		out["topic"] = nil
	}
	return out
}
