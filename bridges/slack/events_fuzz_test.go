package slack

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// FuzzEventDecoding decodes arbitrary JSON as an Events API callback, a
// slash command and a block action, and turns each into an event as the
// bridge does. It must never panic, and an accepted event names its chat
// and user and carries text or a command.
func FuzzEventDecoding(f *testing.F) {
	for _, s := range []string{
		`{"type":"event_callback","event_id":"Ev1","event_time":1,"event":{"type":"message","channel":"D1","channel_type":"im","user":"U1","text":"hi &amp; <https://x|y>","ts":"1.1","client_msg_id":"c"}}`,
		`{"type":"event_callback","event_id":"Ev2","event":{"type":"app_mention","channel":"C1","user":"U1","text":"<@UBOT> hi","ts":"2.2","thread_ts":"2.1"}}`,
		`{"type":"event_callback","event":{"type":"message","subtype":"message_changed","channel":"D1"}}`,
		`{"type":"event_callback","event":null}`, `{"type":"url_verification","challenge":"x"}`,
		`{"command":"/model","text":"x","user_id":"U1","channel_id":"D1","trigger_id":"t"}`,
		`{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"D1"},"actions":[{"action_id":"a","value":"/help"}]}`,
		`{}`, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	known := func(n string) bool { return n == "model" || n == "help" }
	f.Fuzz(func(t *testing.T, data []byte) {
		if outer, err := slackevents.ParseEvent(data, slackevents.OptionNoVerifyToken()); err == nil {
			if ev, _, ok := fromInner(outer.InnerEvent.Data, "Ev", "env", time.Unix(1, 0), me); ok && (ev.Chat == "" || ev.User == "" || ev.Text == "") {
				t.Errorf("accepted a bad event %+v from %s", ev, data)
			}
		}
		var c slack.SlashCommand
		if json.Unmarshal(data, &c) == nil {
			if ev, _, ok := fromSlash(c, "env", known); ok && (ev.Command == "" || ev.User == "" || ev.Chat == "") {
				t.Errorf("accepted a bad command %+v from %s", ev, data)
			}
		}
		var cb slack.InteractionCallback
		if json.Unmarshal(data, &cb) == nil {
			if ev, _, ok := fromButton(cb, "env", known); ok && (ev.Command == "" || ev.User == "") {
				t.Errorf("accepted a bad button %+v from %s", ev, data)
			}
		}
		_ = fromMrkdwn(string(data))
	})
}
