package discordtest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// interactionState is an interaction the fake sent, with its answers.
type interactionState struct {
	Interaction
	options   []Option
	messageID string // component interactions: the message of the component

	callbackType int
	callbackAt   time.Time
	callbacks    int
	data         json.RawMessage
	choices      []Choice
	original     *storedMsg
	followups    []*storedMsg
}

func unknownInteraction() reply { return apiError(404, 10062, "Unknown interaction") }

// callbackTypes lists the callback types valid for each interaction type.
var callbackTypes = map[int][]int{
	InteractionApplicationCommand: {4, 5, 9},
	InteractionMessageComponent:   {4, 5, 6, 7, 9},
	InteractionAutocomplete:       {8},
}

const interactionFlags = FlagSuppressEmbeds | FlagEphemeral | FlagSuppressNotification | FlagIsVoiceMessage | FlagIsComponentsV2

func choicesText(types []int) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = strconv.Itoa(t)
	}
	return "Value must be one of {" + strings.Join(parts, ", ") + "}."
}

func (s *Server) interactionCallback(c *call) reply {
	st := s.interactions[c.params["interaction"]]
	if st == nil || st.Token != c.params["token"] {
		return unknownInteraction()
	}
	st.callbacks++
	if st.callbackType != 0 {
		return apiError(400, 40060, "Interaction has already been acknowledged.")
	}
	if st.SentAt.IsZero() || c.now.Sub(st.SentAt) > s.opts.InteractionDeadline {
		return unknownInteraction()
	}
	fe := formErrors{}
	typ, hasType := c.fields.integer("type")
	valid := callbackTypes[st.Type]
	switch {
	case !hasType:
		fe.add("type", "BASE_TYPE_REQUIRED", "This field is required")
	case !slices.Contains(valid, typ):
		fe.add("type", "BASE_TYPE_CHOICES", choicesText(valid))
	}
	if rep, bad := fe.reply(); bad {
		return rep
	}
	data, _ := c.fields.object("data")
	cs := s.channels[st.ChannelID]
	switch typ {
	case 4:
		in := parseMessage(data, c.files, fe, "data.")
		if rep, bad := fe.reply(); bad {
			return rep
		}
		if in.emptyNew() {
			return emptyMessage()
		}
		m := s.newMsgLocked(cs, s.Bot(), c.now)
		s.applyNewLocked(m, in, interactionFlags, mentionsWebhook, c.now)
		s.markInteractionMsg(m, st)
		st.original = m
		s.echoLocked("MESSAGE_CREATE", m)
	case 5:
		flags, _ := data.integer("flags")
		m := s.newMsgLocked(cs, s.Bot(), c.now)
		m.Flags = FlagLoading | flags&FlagEphemeral
		m.Ephemeral = m.Flags&FlagEphemeral != 0
		s.markInteractionMsg(m, st)
		st.original = m
		s.echoLocked("MESSAGE_CREATE", m)
	case 6, 7:
		m := s.findMsgLocked(st.ChannelID, st.messageID)
		if m == nil {
			return unknownMessage()
		}
		if typ == 7 {
			in := parseMessage(data, c.files, fe, "data.")
			if rep, bad := fe.reply(); bad {
				return rep
			}
			if rep, refused := s.applyEditLocked(m, in, mentionsWebhook, c.now); refused {
				return rep
			}
			s.echoLocked("MESSAGE_UPDATE", m)
		}
		st.original = m
	case 8:
		var choices []Choice
		if _, isList := data.array("choices"); !isList {
			fe.add("data.choices", "BASE_TYPE_REQUIRED", "This field is required")
		} else if err := json.Unmarshal(data["choices"], &choices); err != nil {
			fe.add("data.choices", "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
		}
		validateChoices(choices, "data.choices", fe)
		if rep, bad := fe.reply(); bad {
			return rep
		}
		st.choices = choices
	case 9:
		if id, _ := data.str("custom_id"); id == "" {
			fe.add("data.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if title, _ := data.str("title"); title == "" || len([]rune(title)) > 45 {
			fe.add("data.title", "BASE_TYPE_BAD_LENGTH", badLen(1, 45))
		}
		if rep, bad := fe.reply(); bad {
			return rep
		}
	}
	st.callbackType, st.callbackAt = typ, c.now
	st.data = c.fields["data"]
	if c.r.URL.Query().Get("with_response") != "true" {
		return noContent()
	}
	cb := map[string]any{"id": st.ID, "type": st.Type}
	res := map[string]any{"type": typ}
	if m := st.original; m != nil && (typ == 4 || typ == 5 || typ == 7) {
		cb["response_message_id"] = m.ID
		cb["response_message_loading"] = m.Flags&FlagLoading != 0
		cb["response_message_ephemeral"] = m.Ephemeral
		if typ != 5 {
			res["message"] = s.messageJSON(m)
		}
	}
	return ok(map[string]any{"interaction": cb, "resource": res})
}

func (s *Server) markInteractionMsg(m *storedMsg, st *interactionState) {
	m.WebhookID = s.opts.ApplicationID
	m.InteractionID = st.ID
	m.inter = st
	if st.Type == InteractionApplicationCommand {
		m.typ = 20
	}
}

// webhookInteraction finds the interaction of a webhook route's token.
func (s *Server) webhookInteraction(c *call) (*interactionState, reply, bool) {
	st := s.tokens[c.params["token"]]
	if c.params["application"] != s.opts.ApplicationID || st == nil || st.SentAt.IsZero() {
		return nil, unknownWebhook(), false
	}
	if c.now.Sub(st.SentAt) > s.opts.InteractionTokenTTL {
		return nil, apiError(401, 50027, "Invalid Webhook Token"), false
	}
	if st.callbackType == 0 {
		return nil, unknownWebhook(), false
	}
	return st, reply{}, true
}

// webhookMsg finds the message of a webhook message route: @original or a
// followup (or the original by ID).
func (s *Server) webhookMsg(c *call) (*interactionState, *storedMsg, reply, bool) {
	st, rep, good := s.webhookInteraction(c)
	if !good {
		return nil, nil, rep, false
	}
	id := c.params["message"]
	if id == "" || id == "@original" {
		if st.original == nil {
			return nil, nil, unknownMessage(), false
		}
		return st, st.original, reply{}, true
	}
	if st.original != nil && st.original.ID == id {
		return st, st.original, reply{}, true
	}
	for _, f := range st.followups {
		if f.ID == id {
			return st, f, reply{}, true
		}
	}
	return nil, nil, unknownMessage(), false
}

func (s *Server) getWebhookMessage(c *call) reply {
	_, m, rep, found := s.webhookMsg(c)
	if !found {
		return rep
	}
	return ok(s.messageJSON(m))
}

func (s *Server) editWebhookMessage(c *call) reply {
	_, m, rep, found := s.webhookMsg(c)
	if !found {
		return rep
	}
	fe := formErrors{}
	in := parseMessage(c.fields, c.files, fe, "")
	if rep, bad := fe.reply(); bad {
		return rep
	}
	if rep, refused := s.applyEditLocked(m, in, mentionsWebhook, c.now); refused {
		return rep
	}
	s.echoLocked("MESSAGE_UPDATE", m)
	return ok(s.messageJSON(m))
}

func (s *Server) deleteWebhookMessage(c *call) reply {
	st, m, rep, found := s.webhookMsg(c)
	if !found {
		return rep
	}
	s.removeMsgLocked(m)
	if st.original == m {
		st.original = nil
	}
	st.followups = slices.DeleteFunc(st.followups, func(f *storedMsg) bool { return f == m })
	s.deletedLocked(m)
	return noContent()
}

func (s *Server) createFollowup(c *call) reply {
	st, rep, good := s.webhookInteraction(c)
	if !good {
		return rep
	}
	fe := formErrors{}
	in := parseMessage(c.fields, c.files, fe, "")
	if rep, bad := fe.reply(); bad {
		return rep
	}
	if in.emptyNew() {
		return emptyMessage()
	}
	if o := st.original; st.callbackType == 5 && o != nil && o.Flags&FlagLoading != 0 {
		// Discord's deprecated behaviour: the first followup after a
		// deferred response edits the loading message instead.
		in.contentSet, in.embedsSet, in.componentsSet = true, true, true
		if rep, refused := s.applyEditLocked(o, in, mentionsWebhook, c.now); refused {
			return rep
		}
		s.echoLocked("MESSAGE_UPDATE", o)
		return ok(s.messageJSON(o))
	}
	m := s.newMsgLocked(s.channels[st.ChannelID], s.Bot(), c.now)
	s.applyNewLocked(m, in, interactionFlags, mentionsWebhook, c.now)
	s.markInteractionMsg(m, st)
	st.followups = append(st.followups, m)
	s.echoLocked("MESSAGE_CREATE", m)
	return ok(s.messageJSON(m))
}
