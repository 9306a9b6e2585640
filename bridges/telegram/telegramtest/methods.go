package telegramtest

import (
	"encoding/json"
	"errors"
	"mime"
	"path"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

type method struct {
	name string
	fn   func(*Server, *call) reply // called with s.mu held; nil for getUpdates
}

// methods maps lower-cased method names (the Bot API matches them
// case-insensitively) to their handlers.
var methods = map[string]method{}

func init() {
	for _, m := range []method{
		{"getMe", (*Server).getMe},
		{"getUpdates", nil},
		{"deleteWebhook", (*Server).deleteWebhook},
		{"getWebhookInfo", (*Server).getWebhookInfo},
		{"sendMessage", (*Server).sendMessage},
		{"editMessageText", (*Server).editMessageText},
		{"editMessageReplyMarkup", (*Server).editMessageReplyMarkup},
		{"deleteMessage", (*Server).deleteMessage},
		{"sendChatAction", (*Server).sendChatAction},
		{"sendDocument", (*Server).sendDocument},
		{"sendMessageDraft", (*Server).sendMessageDraft},
		{"setMyCommands", (*Server).setMyCommands},
		{"getMyCommands", (*Server).getMyCommands},
		{"deleteMyCommands", (*Server).deleteMyCommands},
		{"answerCallbackQuery", (*Server).answerCallbackQuery},
	} {
		methods[strings.ToLower(m.name)] = m
	}
}

const (
	maxTextLen    = 4096
	maxCaptionLen = 1024
	notModified   = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"
)

func (s *Server) getMe(*call) reply {
	return ok(map[string]any{
		"id":                          s.opts.BotID,
		"is_bot":                      true,
		"first_name":                  s.opts.BotName,
		"username":                    s.opts.BotUsername,
		"can_join_groups":             true,
		"can_read_all_group_messages": false,
		"supports_inline_queries":     false,
		"can_connect_to_business":     false,
		"has_main_web_app":            false,
	})
}

func (s *Server) deleteWebhook(c *call) reply {
	if boolean(c.params, "drop_pending_updates") {
		s.head = len(s.updates)
	}
	return ok(true)
}

func (s *Server) getWebhookInfo(*call) reply {
	return ok(map[string]any{"url": "", "has_custom_certificate": false, "pending_update_count": len(s.updates) - s.head})
}

// chat resolves chat_id to a known chat.
func (s *Server) chat(c *call) (*chatState, reply, bool) {
	raw, present := str(c.params, "chat_id")
	if !present || strings.TrimSpace(raw) == "" {
		return nil, bad("chat_id is empty"), false
	}
	if id, isInt := integer(c.params, "chat_id"); isInt {
		if cs := s.chats[id]; cs != nil {
			return cs, reply{}, true
		}
		return nil, bad("chat not found"), false
	}
	if name, isName := strings.CutPrefix(raw, "@"); isName {
		for _, cs := range s.chats {
			if cs.chat.Type != "private" && strings.EqualFold(cs.chat.Username, name) {
				return cs, reply{}, true
			}
		}
	}
	return nil, bad("chat not found"), false
}

// text parses a text parameter with its parse mode.
func (s *Server) text(c *call, textKey, modeKey, entitiesKey string, allowEmpty bool, limit int, tooLong string) (formatted, reply, bool) {
	raw, _ := str(c.params, textKey)
	mode, _ := str(c.params, modeKey)
	var explicit []ent
	if data, has := jsonParam(c.params, entitiesKey); has && mode == "" {
		var in []Entity
		if err := json.Unmarshal(data, &in); err != nil {
			return formatted{}, bad("can't parse entities JSON object"), false
		}
		es, err := importEntities(in)
		if err != nil {
			return formatted{}, bad("can't parse entities: " + err.Error()), false
		}
		explicit = es
	}
	if raw == "" && !allowEmpty {
		return formatted{}, bad("message text is empty"), false
	}
	f, err := formatText(raw, mode, explicit, allowEmpty)
	var pe *parseError
	switch {
	case errors.As(err, &pe):
		return formatted{}, bad("can't parse entities: " + pe.msg), false
	case errors.Is(err, errBadParseMode):
		return formatted{}, bad("unsupported parse_mode"), false
	case errors.Is(err, errEmptyText):
		return formatted{}, bad("message text is empty"), false
	case err != nil:
		return formatted{}, bad(err.Error()), false
	}
	if UTF16Len(f.text) > limit {
		return formatted{}, bad(tooLong), false
	}
	return f, reply{}, true
}

// flood applies the rate limits to a call for cs; ok is false with the
// 429 to send.
func (s *Server) flood(c *call, cs *chatState) (reply, bool) {
	if n := s.floodCheck(cs.chat, c.now); n > 0 {
		return reply{code: 429, desc: "Too Many Requests: retry after " + strconv.Itoa(n), retryAfter: n}, false
	}
	return reply{}, true
}

// markup reads reply_markup. inline is the canonical inline keyboard, or
// nil when there is none (no markup, {}, an empty keyboard or a reply
// keyboard, which is not attached to the message).
func (s *Server) markup(c *call, inlineOnly bool) (inline json.RawMessage, _ reply, _ bool) {
	data, has := jsonParam(c.params, "reply_markup")
	if !has {
		return nil, reply{}, true
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, bad("can't parse reply keyboard markup JSON object"), false
	}
	kb, hasInline := obj["inline_keyboard"]
	if !hasInline {
		if inlineOnly && len(obj) > 0 {
			return nil, bad("inline keyboard expected"), false
		}
		return nil, reply{}, true
	}
	var rows [][]map[string]any
	if err := json.Unmarshal(kb, &rows); err != nil {
		return nil, bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object"), false
	}
	var kept [][]map[string]any
	for _, row := range rows {
		if len(row) == 0 {
			continue
		}
		for _, b := range row {
			if _, isStr := b["text"].(string); !isStr {
				return nil, bad("can't parse inline keyboard button: Field \"text\" must be of type String"), false
			}
			action := false
			for _, k := range []string{"url", "callback_data", "web_app", "login_url", "switch_inline_query",
				"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay"} {
				if _, has := b[k]; has {
					action = true
				}
			}
			if !action {
				return nil, bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"), false
			}
			if d, has := b["callback_data"]; has {
				ds, isStr := d.(string)
				if !isStr || len(ds) < 1 || len(ds) > 64 {
					return nil, bad("BUTTON_DATA_INVALID"), false
				}
			}
			if u, has := b["url"]; has {
				us, isStr := u.(string)
				if !isStr || checkedLink(us) == "" {
					return nil, bad("inline keyboard button URL '" + us + "' is invalid"), false
				}
			}
		}
		kept = append(kept, row)
	}
	if len(kept) == 0 {
		return nil, reply{}, true
	}
	canon, _ := json.Marshal(map[string]any{"inline_keyboard": kept})
	return canon, reply{}, true
}

func (s *Server) sendMessage(c *call) reply {
	cs, rep, good := s.chat(c)
	if !good {
		return rep
	}
	f, rep, good := s.text(c, "text", "parse_mode", "entities", false, maxTextLen, "message is too long")
	if !good {
		return rep
	}
	kb, rep, good := s.markup(c, false)
	if !good {
		return rep
	}
	replyTo, rep, good := s.replyTarget(c, cs)
	if !good {
		return rep
	}
	if data, has := jsonParam(c.params, "link_preview_options"); has {
		var lp map[string]any
		if json.Unmarshal(data, &lp) != nil {
			return bad("can't parse link preview options JSON object")
		}
	}
	if rep, good := s.flood(c, cs); !good {
		return rep
	}
	m := s.newMsg(cs, c.now)
	m.fromBot = true
	s.setText(m, c, f, "text", "parse_mode")
	m.ReplyMarkup = kb
	m.ReplyTo = replyTo
	if id, has := integer(c.params, "message_thread_id"); has {
		m.threadID = int(id)
	}
	return ok(s.apiMessage(cs, m, true))
}

func (s *Server) setText(m *storedMsg, c *call, f formatted, textKey, modeKey string) {
	raw, _ := str(c.params, textKey)
	mode, _ := str(c.params, modeKey)
	m.Text = f.text
	m.Raw = raw
	m.ParseMode = mode
	m.HTML = ""
	if strings.EqualFold(mode, "html") {
		m.HTML = raw
	}
	m.Entities = exportEntities(f.entities)
}

// replyTarget reads reply_parameters or reply_to_message_id.
func (s *Server) replyTarget(c *call, cs *chatState) (int, reply, bool) {
	var id int64
	var has, allowMissing bool
	if data, ok := jsonParam(c.params, "reply_parameters"); ok {
		var rp map[string]any
		if json.Unmarshal(data, &rp) != nil {
			return 0, bad("can't parse reply parameters JSON object"), false
		}
		if id, has = integer(rp, "message_id"); !has {
			return 0, bad("can't parse reply parameters JSON object"), false
		}
		allowMissing = boolean(rp, "allow_sending_without_reply")
	} else if id, has = integer(c.params, "reply_to_message_id"); has {
		allowMissing = boolean(c.params, "allow_sending_without_reply")
	}
	if !has || id == 0 {
		return 0, reply{}, true
	}
	if s.findMsg(cs.chat.ID, int(id)) == nil {
		if allowMissing {
			return 0, reply{}, true
		}
		return 0, bad("message to be replied not found"), false
	}
	return int(id), reply{}, true
}

// target finds the message of chat_id + message_id for an edit.
func (s *Server) target(c *call, notFound string) (*chatState, *storedMsg, reply, bool) {
	if _, inline := c.params["inline_message_id"]; inline {
		return nil, nil, bad("MESSAGE_ID_INVALID"), false
	}
	cs, rep, good := s.chat(c)
	if !good {
		return nil, nil, rep, false
	}
	id, has := integer(c.params, "message_id")
	if !has {
		return nil, nil, bad("message identifier is not specified"), false
	}
	m := s.findMsg(cs.chat.ID, int(id))
	if m == nil {
		return nil, nil, bad(notFound), false
	}
	return cs, m, reply{}, true
}

func (s *Server) editMessageText(c *call) reply {
	cs, m, rep, good := s.target(c, "message to edit not found")
	if !good {
		return rep
	}
	f, rep, good := s.text(c, "text", "parse_mode", "entities", false, maxTextLen, "message is too long")
	if !good {
		return rep
	}
	kb, rep, good := s.markup(c, true)
	if !good {
		return rep
	}
	if !m.fromBot {
		return bad("message can't be edited")
	}
	if m.Document != nil {
		return bad("there is no text in the message to edit")
	}
	if rep, good := s.flood(c, cs); !good {
		return rep
	}
	ents := exportEntities(f.entities)
	if f.text == m.Text && reflect.DeepEqual(ents, m.Entities) && string(kb) == string(m.ReplyMarkup) {
		return bad(notModified)
	}
	s.setText(m, c, f, "text", "parse_mode")
	m.ReplyMarkup = kb
	m.Edits++
	m.EditedAt = c.now
	m.editDate = c.now
	return ok(s.apiMessage(cs, m, true))
}

func (s *Server) editMessageReplyMarkup(c *call) reply {
	cs, m, rep, good := s.target(c, "message to edit not found")
	if !good {
		return rep
	}
	kb, rep, good := s.markup(c, true)
	if !good {
		return rep
	}
	if !m.fromBot {
		return bad("message can't be edited")
	}
	if string(kb) == string(m.ReplyMarkup) {
		return bad(notModified)
	}
	m.ReplyMarkup = kb
	m.Edits++
	m.EditedAt = c.now
	m.editDate = c.now
	return ok(s.apiMessage(cs, m, true))
}

func (s *Server) deleteMessage(c *call) reply {
	cs, m, rep, good := s.target(c, "message to delete not found")
	if !good {
		return rep
	}
	for i, x := range cs.msgs {
		if x == m {
			cs.msgs = append(cs.msgs[:i:i], cs.msgs[i+1:]...)
			break
		}
	}
	return ok(true)
}

var chatActions = map[string]bool{
	"typing": true, "upload_photo": true, "record_video": true, "upload_video": true, "record_voice": true,
	"upload_voice": true, "upload_document": true, "choose_sticker": true, "find_location": true,
	"record_video_note": true, "upload_video_note": true,
}

func (s *Server) sendChatAction(c *call) reply {
	cs, rep, good := s.chat(c)
	if !good {
		return rep
	}
	action, _ := str(c.params, "action")
	if !chatActions[action] {
		return bad("wrong parameter action in request")
	}
	if rep, good := s.flood(c, cs); !good {
		return rep
	}
	return ok(true)
}

func (s *Server) sendDocument(c *call) reply {
	cs, rep, good := s.chat(c)
	if !good {
		return rep
	}
	var doc Document
	ref, _ := str(c.params, "document")
	if up, has := c.files["document"]; has {
		doc.FileName, doc.Data = up.name, up.data
	} else if name, attach := strings.CutPrefix(ref, "attach://"); attach {
		up, has := c.files[name]
		if !has {
			return bad("there is no document in the request")
		}
		doc.FileName, doc.Data = up.name, up.data
	} else if ref == "" {
		return bad("there is no document in the request")
	} else if known := s.files[ref]; known != nil {
		doc = *known
	} else {
		return bad("wrong file identifier/HTTP URL specified")
	}
	if len(doc.Data) == 0 {
		return bad("file must be non-empty")
	}
	if doc.MIMEType == "" {
		doc.MIMEType = mime.TypeByExtension(strings.ToLower(path.Ext(doc.FileName)))
		if i := strings.IndexByte(doc.MIMEType, ';'); i >= 0 {
			doc.MIMEType = doc.MIMEType[:i]
		}
		if doc.MIMEType == "" {
			doc.MIMEType = "application/octet-stream"
		}
	}
	f, rep, good := s.text(c, "caption", "parse_mode", "caption_entities", true, maxCaptionLen, "message caption is too long")
	if !good {
		return rep
	}
	kb, rep, good := s.markup(c, false)
	if !good {
		return rep
	}
	replyTo, rep, good := s.replyTarget(c, cs)
	if !good {
		return rep
	}
	if rep, good := s.flood(c, cs); !good {
		return rep
	}
	m := s.newMsg(cs, c.now)
	m.fromBot = true
	s.setText(m, c, f, "caption", "parse_mode")
	m.Text = ""
	doc.Caption = f.text
	m.Document = &doc
	m.ReplyMarkup = kb
	m.ReplyTo = replyTo
	stored := doc
	s.files[fileID(m)] = &stored
	return ok(s.apiMessage(cs, m, true))
}

func (s *Server) sendMessageDraft(c *call) reply {
	cs, rep, good := s.chat(c)
	if !good {
		return rep
	}
	if cs.chat.Type != "private" {
		return bad("TEXTDRAFT_PEER_INVALID")
	}
	if id, has := integer(c.params, "draft_id"); !has || id == 0 {
		return bad("draft_id must be non-zero")
	}
	if _, rep, good := s.text(c, "text", "parse_mode", "entities", true, maxTextLen, "message is too long"); !good {
		return rep
	}
	if rep, good := s.flood(c, cs); !good {
		return rep
	}
	return ok(true)
}

// commandsKey identifies a command list by scope and language.
func commandsKey(c *call) (string, reply, bool) {
	scope := "default"
	if data, has := jsonParam(c.params, "scope"); has {
		var sc map[string]any
		if json.Unmarshal(data, &sc) != nil {
			return "", bad("can't parse BotCommandScope JSON object"), false
		}
		t, _ := sc["type"].(string)
		switch t {
		case "default", "all_private_chats", "all_group_chats", "all_chat_administrators":
			scope = t
		case "chat", "chat_administrators", "chat_member":
			id, _ := str(sc, "chat_id")
			user, _ := str(sc, "user_id")
			scope = t + ":" + id + ":" + user
		default:
			return "", bad("unsupported bot command scope type"), false
		}
	}
	lang, _ := str(c.params, "language_code")
	if lang != "" && (len(lang) != 2 || !isAlpha(lang[0]) || !isAlpha(lang[1])) {
		return "", bad("invalid language code specified"), false
	}
	return scope + "|" + lang, reply{}, true
}

func (s *Server) setMyCommands(c *call) reply {
	key, rep, good := commandsKey(c)
	if !good {
		return rep
	}
	var cmds []BotCommand
	if data, has := jsonParam(c.params, "commands"); has {
		var raw []map[string]any
		if json.Unmarshal(data, &raw) != nil {
			return bad("can't parse commands JSON object")
		}
		for _, r := range raw {
			cmd, okCmd := r["command"].(string)
			desc, okDesc := r["description"].(string)
			if !okCmd {
				return bad("can't parse BotCommand: Field \"command\" must be of type String")
			}
			if !okDesc {
				return bad("can't parse BotCommand: Field \"description\" must be of type String")
			}
			cmds = append(cmds, BotCommand{Command: cmd, Description: desc})
		}
	}
	if len(cmds) > 100 {
		return bad("BOT_COMMANDS_TOO_MUCH")
	}
	for i, cmd := range cmds {
		name := strings.TrimSpace(cmd.Command)
		name = strings.TrimPrefix(name, "/")
		if name == "" {
			return bad("command must be non-empty")
		}
		if utf8.RuneCountInString(name) > 32 {
			return bad("command length must not exceed 32")
		}
		desc := strings.TrimSpace(cmd.Description)
		if desc == "" {
			return bad("command description must be non-empty")
		}
		if utf8.RuneCountInString(desc) > 256 {
			return bad("command description length must not exceed 256")
		}
		for j := 0; j < len(name); j++ {
			if ch := name[j]; !(ch >= 'a' && ch <= 'z' || isDigit(ch) || ch == '_') {
				return bad("BOT_COMMAND_INVALID")
			}
		}
		cmds[i] = BotCommand{Command: name, Description: desc}
	}
	if len(cmds) == 0 {
		delete(s.commands, key)
	} else {
		s.commands[key] = cmds
	}
	s.lastCmds = cmds
	return ok(true)
}

func (s *Server) getMyCommands(c *call) reply {
	key, rep, good := commandsKey(c)
	if !good {
		return rep
	}
	cmds := s.commands[key]
	if cmds == nil {
		cmds = []BotCommand{}
	}
	return ok(cmds)
}

func (s *Server) deleteMyCommands(c *call) reply {
	key, rep, good := commandsKey(c)
	if !good {
		return rep
	}
	delete(s.commands, key)
	if key == "default|" {
		s.lastCmds = nil
	}
	return ok(true)
}

func (s *Server) answerCallbackQuery(c *call) reply {
	id, _ := str(c.params, "callback_query_id")
	cb := s.callbacks[id]
	if cb == nil || cb.answered {
		return bad("query is too old and response timeout expired or query ID is invalid")
	}
	text, _ := str(c.params, "text")
	if utf8.RuneCountInString(text) > 200 {
		return bad("MESSAGE_TOO_LONG")
	}
	cb.answered = true
	s.answers[id] = text
	return ok(true)
}
