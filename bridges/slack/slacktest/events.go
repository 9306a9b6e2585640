package slacktest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sent identifies what a Send helper delivered, for correlation.
type Sent struct {
	// EnvelopeID is the Socket Mode envelope (ack it with this ID).
	EnvelopeID string
	// EventID is the event_id of an events_api payload.
	EventID string
	Channel string
	// TS is the user's message ts (messages and mentions), ThreadTS the
	// thread it was posted in, or "".
	TS, ThreadTS string
	// ResponseURL and TriggerID come with slash commands and interactions.
	ResponseURL, TriggerID string
}

// DMEvent records a direct message from user to the bot (registering the
// user and the DM) and returns the inner "message" event Slack sends for
// it (channel_type "im", with client_msg_id, ts and event_ts, and
// thread_ts when threadTS is set). The message is the user's: chat.update
// on it fails with cant_update_message.
func (s *Server) DMEvent(user, text, threadTS string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(User{ID: user})
	cs := s.channels[DMChannel(user)]
	m := s.userMessageLocked(cs, user, text, threadTS)
	ev := map[string]any{
		"type":          "message",
		"channel":       cs.ID,
		"channel_type":  "im",
		"user":          user,
		"text":          text,
		"ts":            m.TS,
		"event_ts":      m.TS,
		"client_msg_id": uuidFor(s.nextID()),
		"team":          s.opts.TeamID,
	}
	if m.ThreadTS != "" {
		ev["thread_ts"] = m.ThreadTS
	}
	return ev
}

// MentionEvent records a message from user in channel that mentions the
// bot (registering both; a new channel has the bot as a member) and
// returns the inner "app_mention" event. The text gets "<@BOTUSER> " in
// front unless it already mentions the bot.
func (s *Server) MentionEvent(channel, user, text, threadTS string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(User{ID: user})
	cs := s.addChannelLocked(Channel{ID: channel})
	mention := "<@" + s.opts.BotUserID + ">"
	if !strings.Contains(text, mention) {
		text = mention + " " + text
	}
	m := s.userMessageLocked(cs, user, text, threadTS)
	ev := map[string]any{
		"type":          "app_mention",
		"channel":       cs.ID,
		"user":          user,
		"text":          text,
		"ts":            m.TS,
		"event_ts":      m.TS,
		"client_msg_id": uuidFor(s.nextID()),
		"team":          s.opts.TeamID,
	}
	if m.ThreadTS != "" {
		ev["thread_ts"] = m.ThreadTS
	}
	return ev
}

func (s *Server) userMessageLocked(cs *channelState, user, text, threadTS string) *storedMsg {
	now := time.Now()
	m := &storedMsg{human: true, Message: Message{Channel: cs.ID, TS: s.nextTS(now), User: user, Text: text, Versions: []string{text}, Mrkdwn: true, PostedAt: now}}
	if threadTS != "" {
		m.ThreadTS = s.threadOf(cs.ID, threadTS)
	}
	cs.msgs = append(cs.msgs, m)
	s.byTS[m.TS] = m
	return m
}

// callbackLocked wraps an inner event into an event_callback payload.
func (s *Server) callbackLocked(inner map[string]any) (map[string]any, string) {
	now := time.Now()
	id := fmt.Sprintf("Ev0FAKE%06d", s.nextID())
	if _, has := inner["event_ts"]; !has {
		inner["event_ts"] = tsOf(now)
	}
	return map[string]any{
		"token":                 s.opts.VerificationToken,
		"team_id":               s.opts.TeamID,
		"context_team_id":       s.opts.TeamID,
		"api_app_id":            s.opts.AppID,
		"event":                 inner,
		"type":                  "event_callback",
		"event_id":              id,
		"event_time":            now.Unix(),
		"event_context":         "4-fake-" + id,
		"is_ext_shared_channel": false,
		"authorizations": []map[string]any{{
			"enterprise_id": "", "team_id": s.opts.TeamID, "user_id": s.opts.BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
	}, id
}

// EventBody returns the JSON of an event_callback wrapping inner (from
// DMEvent, MentionEvent or a test's own map), as the Events API posts it
// in HTTP mode, and its fresh event_id. Nothing is delivered. Sign it
// with Sign, or build the request with NewEventRequest.
func (s *Server) EventBody(inner map[string]any) ([]byte, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	payload, id := s.callbackLocked(inner)
	body, _ := json.Marshal(payload)
	return body, id
}

// SendEvent delivers an inner event in an events_api envelope on the
// Socket Mode connection (or when one opens).
func (s *Server) SendEvent(inner map[string]any) Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	payload, id := s.callbackLocked(inner)
	e := s.newEnvelopeLocked("events_api", payload, false, id)
	str := func(k string) string { v, _ := inner[k].(string); return v }
	return Sent{EnvelopeID: e.ID, EventID: id, Channel: str("channel"), TS: str("ts"), ThreadTS: str("thread_ts")}
}

// SendDM delivers a direct message from user to the bot.
func (s *Server) SendDM(user, text string) Sent {
	return s.SendEvent(s.DMEvent(user, text, ""))
}

// SendDMInThread delivers a direct message posted in the thread of
// threadTS.
func (s *Server) SendDMInThread(user, text, threadTS string) Sent {
	return s.SendEvent(s.DMEvent(user, text, threadTS))
}

// SendMention delivers an app_mention from user in channel (threadTS may
// be empty).
func (s *Server) SendMention(channel, user, text, threadTS string) Sent {
	return s.SendEvent(s.MentionEvent(channel, user, text, threadTS))
}

// SendSlashCommand delivers a slash_commands envelope (accepts_response_
// payload true) for command (with its '/') and text, typed by user in
// channel, or in the user's DM when channel is empty. Its response_url is
// served by the fake (see ResponseURLPosts).
func (s *Server) SendSlashCommand(user, channel, command, text string) Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.addUserLocked(User{ID: user})
	if channel == "" {
		channel = DMChannel(user)
	}
	cs := s.addChannelLocked(Channel{ID: channel})
	name := cs.Name
	if cs.IsIM() {
		name = "directmessage"
	}
	now := time.Now()
	sent := Sent{
		Channel:     cs.ID,
		ResponseURL: s.newResponseURLLocked("commands", cs.ID, now),
		TriggerID:   s.triggerIDLocked(now),
	}
	e := s.newEnvelopeLocked("slash_commands", map[string]any{
		"token":                 s.opts.VerificationToken,
		"team_id":               s.opts.TeamID,
		"team_domain":           s.opts.TeamDomain,
		"channel_id":            cs.ID,
		"channel_name":          name,
		"user_id":               u.ID,
		"user_name":             u.Name,
		"command":               command,
		"text":                  text,
		"api_app_id":            s.opts.AppID,
		"is_enterprise_install": "false",
		"response_url":          sent.ResponseURL,
		"trigger_id":            sent.TriggerID,
	}, true, "")
	sent.EnvelopeID = e.ID
	return sent
}

// SendBlockAction delivers an interactive block_actions envelope: user
// pressed the button actionID (with value) on the message messageTS in
// channel.
func (s *Server) SendBlockAction(user, channel, messageTS, actionID, value string) Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.addUserLocked(User{ID: user})
	cs := s.addChannelLocked(Channel{ID: channel})
	now := time.Now()
	sent := Sent{
		Channel:     cs.ID,
		TS:          messageTS,
		ResponseURL: s.newResponseURLLocked("actions", cs.ID, now),
		TriggerID:   s.triggerIDLocked(now),
	}
	msg := map[string]any{"type": "message", "ts": messageTS}
	if m := s.byTS[messageTS]; m != nil && m.Channel == cs.ID {
		msg = s.messageJSON(m)
	}
	e := s.newEnvelopeLocked("interactive", map[string]any{
		"type":         "block_actions",
		"token":        s.opts.VerificationToken,
		"api_app_id":   s.opts.AppID,
		"trigger_id":   sent.TriggerID,
		"response_url": sent.ResponseURL,
		"user":         map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": s.opts.TeamID},
		"team":         map[string]any{"id": s.opts.TeamID, "domain": s.opts.TeamDomain},
		"channel":      map[string]any{"id": cs.ID, "name": cs.Name},
		"container":    map[string]any{"type": "message", "message_ts": messageTS, "channel_id": cs.ID, "is_ephemeral": false},
		"message":      msg,
		"actions": []map[string]any{{
			"action_id": actionID, "block_id": "fake-block", "type": "button", "value": value,
			"action_ts": tsOf(now), "text": map[string]any{"type": "plain_text", "text": actionID},
		}},
	}, false, "")
	sent.EnvelopeID = e.ID
	return sent
}

func (s *Server) triggerIDLocked(now time.Time) string {
	return fmt.Sprintf("%d.1000000001.fake%06d", now.Unix(), s.nextID())
}

// Headers of a signed Events API request.
const (
	SignatureHeader = "X-Slack-Signature"
	TimestampHeader = "X-Slack-Request-Timestamp"
)

// Sign returns the X-Slack-Signature value for body sent at ts:
// "v0=" + hex(HMAC-SHA256(secret, "v0:" + unix seconds + ":" + body)).
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	_, _ = fmt.Fprintf(mac, "v0:%d:", ts.Unix())
	_, _ = mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// NewEventRequest builds the POST the Events API would make to url:
// body as JSON, with the timestamp and signature headers for secret.
func NewEventRequest(url, secret string, ts time.Time, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("slacktest: new event request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(SignatureHeader, Sign(secret, ts, body))
	return req, nil
}

// URLVerificationBody is the body of the url_verification request Slack
// sends when an Events API URL is configured.
func URLVerificationBody(token, challenge string) []byte {
	b, _ := json.Marshal(map[string]string{"token": token, "challenge": challenge, "type": "url_verification"})
	return b
}
