package slacktest

import (
	"encoding/json"
	"strings"
	"time"
)

// Status is one successful assistant.threads.setStatus call.
type Status struct {
	Channel  string
	ThreadTS string
	// Status is the text shown ("is thinking…"); empty clears it.
	Status string
	// LoadingMessages as sent (slack-go joins them with commas; a JSON
	// array is accepted too).
	LoadingMessages []string
	At              time.Time
}

func (s *Server) setStatus(c *call) reply {
	cs, e := s.channelFor(c, "channel_id")
	if e != "" {
		return fail(e)
	}
	thread := c.param("thread_ts")
	if thread == "" {
		return fail("invalid_arguments")
	}
	status, sent := c.params["status"]
	if !sent {
		return fail("invalid_arguments")
	}
	var loading []string
	if raw := strings.TrimSpace(c.param("loading_messages")); raw != "" {
		if strings.HasPrefix(raw, "[") {
			if err := json.Unmarshal([]byte(raw), &loading); err != nil {
				return fail("invalid_arguments")
			}
		} else {
			loading = strings.Split(raw, ",")
		}
		if len(loading) > maxLoadingMsgs {
			return fail("invalid_arguments")
		}
	}
	s.statuses = append(s.statuses, Status{Channel: cs.ID, ThreadTS: thread, Status: status, LoadingMessages: loading, At: c.now})
	key := [2]string{cs.ID, thread}
	if status == "" {
		delete(s.current, key)
	} else {
		s.current[key] = status
	}
	return ok(nil)
}

// Statuses returns the successful assistant.threads.setStatus calls, in
// order.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, len(s.statuses))
	for i, st := range s.statuses {
		st.LoadingMessages = append([]string(nil), st.LoadingMessages...)
		out[i] = st
	}
	return out
}

// CurrentStatus is the assistant status shown in a thread: the last one
// set, until it is cleared with an empty status or the bot posts in the
// thread (chat.postMessage, chat.postEphemeral, chat.startStream or a
// file share). The two-minute expiry of the real status is not modelled.
func (s *Server) CurrentStatus(channel, threadTS string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current[[2]string{channel, threadTS}]
}
