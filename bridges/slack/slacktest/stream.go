package slacktest

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// streamText validates markdown_text and chunks of a stream call and
// returns the text they add, the chunks as sent, and whether anything
// was sent.
func (s *Server) streamText(c *call) (string, json.RawMessage, bool, string) {
	md, hasMD := c.params["markdown_text"]
	if utf8.RuneCountInString(md) > s.opts.MaxMarkdownLen {
		return "", nil, false, "msg_too_long"
	}
	raw, hasChunks := c.params["chunks"]
	if !hasChunks {
		return md, nil, hasMD, ""
	}
	var chunks []map[string]any
	if err := json.Unmarshal([]byte(raw), &chunks); err != nil {
		return "", nil, false, "invalid_chunks"
	}
	var b strings.Builder
	b.WriteString(md)
	for _, ch := range chunks {
		typ, _ := ch["type"].(string)
		switch typ {
		case "markdown_text":
			t, _ := ch["text"].(string)
			if utf8.RuneCountInString(t) > s.opts.MaxMarkdownLen {
				return "", nil, false, "msg_too_long"
			}
			b.WriteString(t)
		case "task_update", "plan_update", "blocks":
		default:
			return "", nil, false, "invalid_chunks"
		}
	}
	return b.String(), json.RawMessage(raw), true, ""
}

func (s *Server) startStream(c *call) reply {
	cs, e := s.channelFor(c, "channel")
	if e != "" {
		return fail(e)
	}
	if !cs.IsIM() {
		if c.param("recipient_team_id") == "" {
			return fail("missing_recipient_team_id")
		}
		if c.param("recipient_user_id") == "" {
			return fail("missing_recipient_user_id")
		}
	}
	text, chunks, _, e := s.streamText(c)
	if e != "" {
		return fail(e)
	}
	m := s.newBotMsgLocked(cs, c, c.param("thread_ts"))
	m.Text, m.Versions = text, []string{text}
	m.Streamed, m.Streaming, m.lastCall = true, true, c.now
	if chunks != nil {
		m.Chunks = append(m.Chunks, chunks)
	}
	return ok(map[string]any{"channel": cs.ID, "ts": m.TS})
}

// openStream finds the streaming message of an append or stop call.
func (s *Server) openStream(c *call) (*channelState, *storedMsg, string) {
	cs, e := s.channelFor(c, "channel")
	if e != "" {
		return nil, nil, e
	}
	m, e := s.ownMessage(cs, c.param("ts"), "message_not_found")
	if e != "" {
		return nil, nil, e
	}
	s.expireLocked(m, c.now)
	if !m.Streaming {
		return nil, nil, "message_not_in_streaming_state"
	}
	return cs, m, ""
}

// expireLocked ends a stream idle for longer than Options.StreamTimeout.
func (s *Server) expireLocked(m *storedMsg, now time.Time) {
	if m.Streaming && s.opts.StreamTimeout > 0 && now.Sub(m.lastCall) > s.opts.StreamTimeout {
		m.Streaming = false
	}
}

// appendText adds a stream call's text to m, within MaxTextLen.
func (s *Server) appendText(m *storedMsg, c *call, text string, chunks json.RawMessage) string {
	if utf8.RuneCountInString(m.Text)+utf8.RuneCountInString(text) > s.opts.MaxTextLen {
		return "msg_too_long"
	}
	m.Text += text
	m.Versions = append(m.Versions, m.Text)
	if chunks != nil {
		m.Chunks = append(m.Chunks, chunks)
	}
	m.lastCall = c.now
	return ""
}

func (s *Server) appendStream(c *call) reply {
	cs, m, e := s.openStream(c)
	if e != "" {
		return fail(e)
	}
	text, chunks, sent, e := s.streamText(c)
	if e != "" {
		return fail(e)
	}
	if !sent {
		return fail("invalid_arguments")
	}
	if e := s.appendText(m, c, text, chunks); e != "" {
		return fail(e)
	}
	return ok(map[string]any{"channel": cs.ID, "ts": m.TS})
}

func (s *Server) stopStream(c *call) reply {
	cs, m, e := s.openStream(c)
	if e != "" {
		return fail(e)
	}
	text, chunks, sent, e := s.streamText(c)
	if e != "" {
		return fail(e)
	}
	var blocks json.RawMessage
	if raw, has := c.params["blocks"]; has {
		n, e := checkBlocks(raw)
		if e != "" {
			return fail(e)
		}
		if n > 0 {
			blocks = json.RawMessage(raw)
		}
	}
	if sent {
		if e := s.appendText(m, c, text, chunks); e != "" {
			return fail(e)
		}
	}
	if blocks != nil {
		m.Blocks = blocks
	}
	m.Streaming = false
	return ok(map[string]any{"channel": cs.ID, "ts": m.TS, "message": s.messageJSON(m)})
}
