package telegramtest_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
)

// The Bot API spec scraped from core.telegram.org (PaulSonOfLars/
// telegram-bot-api-spec api.json). The test skips when it is absent.
type apiSpec struct {
	Version string `json:"version"`
	Methods map[string]struct {
		Returns []string    `json:"returns"`
		Fields  []specField `json:"fields"`
	} `json:"methods"`
	Types map[string]struct {
		Fields   []specField `json:"fields"`
		Subtypes []string    `json:"subtypes"`
	} `json:"types"`
}

type specField struct {
	Name     string   `json:"name"`
	Types    []string `json:"types"`
	Required bool     `json:"required"`
}

func loadSpec(t *testing.T) *apiSpec {
	t.Helper()
	paths := []string{os.Getenv("TELEGRAM_BOT_API_SPEC"), "/work/shared/specs/telegram-bot-api.json"}
	for _, p := range paths {
		if p == "" {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var s apiSpec
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return &s
	}
	t.Skip("the Bot API spec (telegram-bot-api.json) is not available; set TELEGRAM_BOT_API_SPEC")
	return nil
}

// check validates v against a spec type and returns the problems found.
func (s *apiSpec) check(typ string, v any, path string) []string {
	if elem, isArray := strings.CutPrefix(typ, "Array of "); isArray {
		list, ok := v.([]any)
		if !ok {
			return []string{path + ": want an array"}
		}
		var errs []string
		for i, x := range list {
			errs = append(errs, s.check(elem, x, path+"["+itoa(i)+"]")...)
		}
		return errs
	}
	switch typ {
	case "Integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return []string{path + ": want an integer"}
		}
		return nil
	case "Float":
		if _, ok := v.(float64); !ok {
			return []string{path + ": want a number"}
		}
		return nil
	case "String":
		if _, ok := v.(string); !ok {
			return []string{path + ": want a string"}
		}
		return nil
	case "Boolean", "True":
		if _, ok := v.(bool); !ok {
			return []string{path + ": want a boolean"}
		}
		return nil
	}
	def, known := s.Types[typ]
	if !known {
		return []string{path + ": unknown type " + typ}
	}
	if len(def.Subtypes) > 0 {
		var first []string
		for _, sub := range def.Subtypes {
			errs := s.check(sub, v, path)
			if len(errs) == 0 {
				return nil
			}
			if first == nil {
				first = errs
			}
		}
		return first
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{path + ": want an object of type " + typ}
	}
	var errs []string
	fields := map[string]specField{}
	for _, f := range def.Fields {
		fields[f.Name] = f
		if _, has := obj[f.Name]; f.Required && !has {
			errs = append(errs, path+"."+f.Name+": required by "+typ)
		}
	}
	for k, x := range obj {
		f, has := fields[k]
		if !has {
			errs = append(errs, path+"."+k+": not a field of "+typ)
			continue
		}
		var best []string
		for i, ft := range f.Types {
			e := s.check(ft, x, path+"."+k)
			if len(e) == 0 {
				best = nil
				break
			}
			if i == 0 {
				best = e
			}
		}
		errs = append(errs, best...)
	}
	return errs
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestServer_MatchesTheBotAPISpec(t *testing.T) {
	spec := loadSpec(t)
	s := telegramtest.New(t, telegramtest.Options{})
	chat := telegramtest.PrivateChat(ann)
	_, userMsg := s.SendText(chat, ann, "hello @bob /start https://t.me")

	checkResult := func(method string, params map[string]any, typ string) map[string]any {
		t.Helper()
		if _, ok := spec.Methods[method]; !ok {
			t.Errorf("%s is not a Bot API %s method", method, spec.Version)
		}
		for k := range params {
			found := false
			for _, f := range spec.Methods[method].Fields {
				found = found || f.Name == k
			}
			if !found {
				t.Errorf("%s has no parameter %q", method, k)
			}
		}
		code, res := raw(t, s, method, params)
		if code != 200 {
			t.Fatalf("%s: %d %v", method, code, res)
		}
		for _, e := range spec.check(typ, res["result"], method) {
			t.Error(e)
		}
		m, _ := res["result"].(map[string]any)
		return m
	}
	checkResult("getMe", nil, "User")
	checkResult("getWebhookInfo", nil, "WebhookInfo")
	sent := checkResult("sendMessage", map[string]any{
		"chat_id": ann.ID, "parse_mode": "HTML",
		"text":             `<b>Hi</b> <a href="https://example.com">x</a> <pre><code class="language-go">y</code></pre> @ann <a href="tg://user?id=42">Ann</a>`,
		"reply_parameters": map[string]any{"message_id": userMsg},
		"reply_markup":     map[string]any{"inline_keyboard": [][]map[string]any{{{"text": "A", "callback_data": "a"}, {"text": "U", "url": "https://t.me"}}}},
	}, "Message")
	checkResult("editMessageText", map[string]any{"chat_id": ann.ID, "message_id": sent["message_id"], "text": "edited"}, "Message")
	checkResult("editMessageReplyMarkup", map[string]any{"chat_id": ann.ID, "message_id": sent["message_id"],
		"reply_markup": `{"inline_keyboard":[[{"text":"B","callback_data":"b"}]]}`}, "Message")
	checkResult("sendChatAction", map[string]any{"chat_id": ann.ID, "action": "typing"}, "Boolean")
	checkResult("sendMessageDraft", map[string]any{"chat_id": ann.ID, "draft_id": 7, "text": "draft"}, "Boolean")
	checkResult("setMyCommands", map[string]any{"commands": []map[string]string{{"command": "new", "description": "New chat"}}}, "Boolean")
	checkResult("getMyCommands", nil, "Array of BotCommand")
	checkResult("deleteMyCommands", nil, "Boolean")

	// sendDocument is multipart
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("chat_id", "42")
	_ = mw.WriteField("caption", "<i>the</i> file")
	_ = mw.WriteField("parse_mode", "HTML")
	fw, _ := mw.CreateFormFile("document", "notes.txt")
	_, _ = fw.Write([]byte("notes"))
	_ = mw.Close()
	resp, err := http.Post(s.URL()+"/bot"+s.Token()+"/sendDocument", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	code, res := decode(t, resp)
	resp.Body.Close()
	if code != 200 {
		t.Fatalf("sendDocument: %d %v", code, res)
	}
	for _, e := range spec.check("Message", res["result"], "sendDocument") {
		t.Error(e)
	}

	_, cb := s.PressButton(chat, ann, int(sent["message_id"].(float64)), "b")
	s.SendReply(chat, ann, "a reply", int(sent["message_id"].(float64)))
	s.SendText(group, bob, "/help@chatbridge_bot")
	_, res = raw(t, s, "getUpdates", map[string]any{"offset": 0})
	if n := len(res["result"].([]any)); n != 4 {
		t.Errorf("updates = %d", n)
	}
	for _, e := range spec.check("Array of Update", res["result"], "getUpdates") {
		t.Error(e)
	}
	checkResult("answerCallbackQuery", map[string]any{"callback_query_id": cb, "text": "done"}, "Boolean")
	checkResult("deleteMessage", map[string]any{"chat_id": ann.ID, "message_id": sent["message_id"]}, "Boolean")
}
