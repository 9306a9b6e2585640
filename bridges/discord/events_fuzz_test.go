package discord

import (
	"encoding/json"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// FuzzEventDecoding decodes arbitrary JSON as a MESSAGE_CREATE and as an
// INTERACTION_CREATE and turns each into an event as the bridge does. It
// must never panic, and an accepted event names its chat and user and
// carries text or a command.
func FuzzEventDecoding(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","channel_id":"100","content":"hello","timestamp":"2026-01-01T00:00:00Z","author":{"id":"42","username":"a"}}`,
		`{"id":"2","guild_id":"5","channel_id":"200","content":"<@900> hi","author":{"id":"42"},"mentions":[{"id":"900"}]}`,
		`{"id":"3","channel_id":"100","content":"/model x","author":{"id":"42"}}`,
		`{"id":"4","channel_id":"100","content":"x","author":null}`,
		`{"id":"i1","application_id":"800","type":2,"token":"t","channel_id":"100","user":{"id":"42"},"data":{"id":"7","name":"model","type":1,"options":[{"name":"id","type":3,"value":"x"}]}}`,
		`{"id":"i2","type":3,"channel_id":"100","member":{"user":{"id":"42"}},"data":{"custom_id":"/help","component_type":2}}`,
		`{"id":"i3","type":4,"channel_id":"100","user":{"id":"42"},"data":{"name":"model","options":[{"name":"id","type":3,"value":7,"focused":true}]}}`,
		`{"id":"i4","type":2,"data":null}`, `{"type":5}`, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	me := identity{id: "900"}
	known := func(n string) bool { return n == "model" || n == "help" }
	f.Fuzz(func(t *testing.T, data []byte) {
		var m discordgo.Message
		if json.Unmarshal(data, &m) == nil {
			for _, thread := range []bool{false, true} {
				if ev, ok := eventFromMessage(&m, me, thread, known); ok && (ev.Chat == "" && m.ChannelID != "" || ev.User == "" || ev.Text == "" && ev.Command == "") {
					t.Errorf("accepted a bad message event %+v from %s", ev, data)
				}
			}
		}
		var i discordgo.Interaction
		if json.Unmarshal(data, &i) != nil {
			return
		}
		if ev, ok := eventFromInteraction(&i); ok && (ev.Command == "" || ev.User == "") {
			t.Errorf("accepted a bad interaction event %+v from %s", ev, data)
		}
		if i.Type == discordgo.InteractionApplicationCommandAutocomplete {
			_ = focusedText(&i)
		}
	})
}
