package telegram

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	tele "gopkg.in/telebot.v3"
)

// FuzzEventDecoding decodes arbitrary JSON as a Telegram update and turns
// it into an event as the bridge does. It must never panic, and an event it
// accepts names its platform, chat and user and carries non-empty text or
// a command.
func FuzzEventDecoding(f *testing.F) {
	for _, s := range []string{
		`{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"first_name":"A"},"text":"hi"}}`,
		`{"update_id":2,"message":{"message_id":2,"chat":{"id":-1,"type":"supergroup"},"from":{"id":42},"text":"@bot hi","entities":[{"type":"mention","offset":0,"length":4}]}}`,
		`{"update_id":3,"message":{"message_id":3,"chat":{"id":-1,"type":"group"},"from":{"id":42},"text":"/help@bot x"}}`,
		`{"update_id":4,"callback_query":{"id":"c","from":{"id":42},"data":"/model x","message":{"message_id":9,"chat":{"id":42,"type":"private"}}}}`,
		`{"update_id":5,"message":{"message_id":5,"chat":{"id":-1,"type":"group"},"from":{"id":42},"text":"x","entities":[{"type":"mention","offset":-5,"length":99}]}}`,
		`{"update_id":6,"message":{"chat":null,"from":null}}`, `{}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	me := botIdentity{id: 1000, username: "bot"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var u tele.Update
		if json.Unmarshal(data, &u) != nil {
			return
		}
		if u.Message != nil {
			if ev, ok := eventFromMessage(u.ID, u.Message, me); ok {
				if ev.Platform != Name || ev.Chat == "" || ev.User == "" || (ev.Text == "" && ev.Command == "") || !utf8.ValidString(ev.Text) && utf8.ValidString(u.Message.Text) {
					t.Errorf("accepted a bad event %+v from %s", ev, data)
				}
			}
		}
		if u.Callback != nil {
			if ev, ok := eventFromCallback(u.ID, u.Callback, me); ok && (ev.Command == "" || ev.User == "") {
				t.Errorf("accepted a bad button event %+v from %s", ev, data)
			}
		}
	})
}
