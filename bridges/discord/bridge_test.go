package discord_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/bridges/discord"
	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	ann = discordtest.User{ID: "42", Username: "ann"}
	eve = discordtest.User{ID: "66", Username: "eve"}
)

const (
	guild   = "5000"
	general = "5001"
)

// rig is a running bridge and engine against a fake Discord.
type rig struct {
	t      *testing.T
	fake   *discordtest.Server
	prov   *enginetest.Provider
	store  *enginetest.MemStore
	bridge *discord.Bridge
	eng    *engine.Engine
	stop   func()
}

type rigOption func(*discord.Options, *discordtest.Options)

func newRig(t *testing.T, prov *enginetest.Provider, opts ...rigOption) *rig {
	t.Helper()
	fo := discordtest.Options{}
	bo := discord.Options{Backoff: 20 * time.Millisecond}
	for _, f := range opts {
		f(&bo, &fo)
	}
	fake := discordtest.New(t, fo)
	fake.AddChannel(discordtest.Channel{ID: general, Type: discordtest.ChannelGuildText, GuildID: guild, Name: "general"})
	bo.APIURL, bo.Token = fake.URL(), fake.Token()
	r := &rig{t: t, fake: fake, prov: prov, store: enginetest.NewMemStore()}
	r.start(bo)
	return r
}

func (r *rig) start(bo discord.Options) {
	r.t.Helper()
	br, err := discord.New(context.Background(), bo)
	if err != nil {
		r.t.Fatal(err)
	}
	r.bridge = br
	r.eng, r.stop = enginetest.StartBridge(r.t, br, r.prov, r.store, engine.UserID(ann.ID))
	r.waitFor("the gateway session", r.fake.Connected)
}

func (r *rig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	enginetest.WaitFor(r.t, what, cond, func() string {
		var names, last []string
		for _, c := range r.fake.Calls() {
			names = append(names, c.Route)
			last = append(last, fmt.Sprintf("%d %s", c.Status, c.Body))
		}
		return "calls: " + strings.Join(names, ",") + "\n" + strings.Join(last, "\n")
	})
}

func (r *rig) texts(channel string) []string {
	var out []string
	for _, m := range r.fake.Messages(channel) {
		out = append(out, m.Content)
	}
	return out
}

func (r *rig) lastText(channel string) string {
	t := r.texts(channel)
	if len(t) == 0 {
		return ""
	}
	// Discord shows a message without its surrounding whitespace.
	return strings.TrimSpace(t[len(t)-1])
}

func TestBridge_DMStreamsByEdits(t *testing.T) {
	deltas := enginetest.Words(12, "streamed")
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r := newRig(t, enginetest.NewProvider(enginetest.Script{FirstDelay: 300 * time.Millisecond, Delay: 250 * time.Millisecond, Deltas: deltas}))
	in := r.fake.SendDM(ann, "hello")
	dm := in.ChannelID
	r.waitFor("the whole reply", func() bool { return r.lastText(dm) == want })
	r.stop()
	var typing, send time.Time
	var edits []time.Time
	for _, c := range r.fake.Calls() {
		switch c.Route {
		case discordtest.RouteTyping:
			if typing.IsZero() {
				typing = c.At
			}
		case discordtest.RouteCreateMessage:
			send = c.At
		case discordtest.RouteEditMessage:
			if c.Status == 200 {
				edits = append(edits, c.At)
			}
		}
	}
	if typing.IsZero() || !typing.Before(send) {
		t.Errorf("typing at %v, first send at %v: want typing first", typing, send)
	}
	if len(edits) < 2 {
		t.Errorf("edits = %d, want the reply to grow by edits", len(edits))
	}
	prev := send
	for _, e := range edits {
		if gap := e.Sub(prev); gap < time.Second {
			t.Errorf("edit %s after the previous call, want >= 1s", gap)
		}
		prev = e
	}
	msgs := r.fake.Messages(dm)
	if len(msgs) != 1 {
		t.Fatalf("messages = %d, want 1", len(msgs))
	}
	if am := msgs[0].AllowedMentions; am == nil || am.Parse == nil || len(am.Parse) != 0 {
		t.Errorf("allowed_mentions = %+v, want parse: []", am)
	}
	if len(r.fake.EarlyCalls()) != 0 {
		t.Errorf("calls before retry_after: %+v", r.fake.EarlyCalls())
	}
}

func TestBridge_LongReplySplitIntoPartsOf2000(t *testing.T) {
	var b strings.Builder
	for b.Len() < 5500 {
		b.WriteString("This sentence is part of a long answer. ")
		if b.Len()%600 < 40 {
			b.WriteString("\n\n")
		}
	}
	reply := b.String()
	var deltas []string
	for s := reply; s != ""; {
		n := min(300, len(s))
		deltas, s = append(deltas, s[:n]), s[n:]
	}
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 20 * time.Millisecond, Deltas: deltas}))
	dm := r.fake.SendDM(ann, "write a lot").ChannelID
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	r.waitFor("the whole reply", func() bool { return norm(strings.Join(r.texts(dm), " ")) == norm(reply) })
	if n := len(r.texts(dm)); n < 3 {
		t.Errorf("messages = %d, want 3 or more", n)
	}
	for i, m := range r.texts(dm) {
		if n := utf8.RuneCountInString(m); n > 2000 {
			t.Errorf("message %d has %d characters", i, n)
		}
	}
}

func TestBridge_StrangerCostsNothing(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	dm := r.fake.SendDM(eve, "hi").ChannelID
	r.fake.SendDM(eve, "hello?")
	r.waitFor("the refusal", func() bool { return len(r.texts(dm)) == 1 })
	time.Sleep(300 * time.Millisecond)
	r.stop()
	if got := r.texts(dm); len(got) != 1 || !strings.Contains(got[0], "private bot") {
		t.Errorf("stranger saw %q, want one refusal", got)
	}
	if n := len(r.prov.Requests()); n != 0 {
		t.Errorf("provider requests = %d, want 0", n)
	}
}

func TestBridge_GuildAnswersMentionsAndBotThreadsOnly(t *testing.T) {
	r := newRig(t, enginetest.NewProvider(), func(bo *discord.Options, _ *discordtest.Options) { bo.MessageContent = true })
	thread := r.fake.AddBotThread(general, "our thread")
	other := r.fake.AddChannel(discordtest.Channel{ID: "5003", Type: discordtest.ChannelPublicThread, GuildID: guild, ParentID: general, Name: "theirs", OwnerID: eve.ID})
	r.fake.SendGuildMessage(guild, general, ann, "just chatting", false)
	r.fake.SendGuildMessage(guild, other.ID, ann, "in someone's thread", false)
	r.fake.SendGuildMessage(guild, general, ann, "ping", true)
	r.waitFor("the answer to the mention", func() bool { return r.lastText(general) == "You said: ping" })
	r.fake.SendGuildMessage(guild, thread.ID, ann, "go on", false)
	r.waitFor("the answer in the bot's thread", func() bool { return r.lastText(thread.ID) == "You said: go on" })
	r.stop()
	if n := len(r.prov.Requests()); n != 2 {
		t.Errorf("provider requests = %d, want 2 (the mention and the bot's thread)", n)
	}
	if got := r.texts(other.ID); len(got) != 0 {
		t.Errorf("answered in another user's thread: %q", got)
	}
}

func TestBridge_SlashCommandsDeferredAndEphemeral(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	cmds := r.fake.Commands()
	names := map[string]discordtest.Command{}
	for _, c := range cmds {
		names[c.Name] = c
	}
	for _, want := range r.eng.Commands() {
		if _, ok := names[want.Name]; !ok {
			t.Errorf("application commands lack /%s", want.Name)
		}
	}
	dm := r.fake.DM(ann)
	help := r.fake.SendInteraction(ann, dm.ID, "help")
	var resp discordtest.InteractionResponse
	r.waitFor("the /help answer", func() bool {
		var ok bool
		resp, ok = r.fake.InteractionResponse(help.ID)
		return ok && resp.Original != nil && strings.Contains(resp.Original.Content, "/model")
	})
	if resp.CallbackType != 5 {
		t.Errorf("callback type = %d, want 5 (deferred)", resp.CallbackType)
	}
	if d := resp.CallbackAt.Sub(help.SentAt); d > 3*time.Second {
		t.Errorf("deferred %s after the interaction, want within 3s", d)
	}
	if resp.Original.Ephemeral {
		t.Error("/help was ephemeral")
	}
	set := r.fake.SendInteraction(ann, dm.ID, "temperature", discordtest.StringOption("value", "0.4"))
	r.waitFor("the /temperature answer", func() bool {
		var ok bool
		resp, ok = r.fake.InteractionResponse(set.ID)
		return ok && resp.Original != nil && strings.Contains(resp.Original.Content, "0.4")
	})
	if !resp.Original.Ephemeral {
		t.Error("a settings command's answer was not ephemeral")
	}
}

func TestBridge_ModelAutocompleteFromTheCatalogue(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	dm := r.fake.DM(ann)
	ac := r.fake.SendAutocomplete(ann, dm.ID, "model", discordtest.Option{Name: "id", Type: 3, Value: "claude", Focused: true})
	var resp discordtest.InteractionResponse
	r.waitFor("the choices", func() bool {
		var ok bool
		resp, ok = r.fake.InteractionResponse(ac.ID)
		return ok && resp.CallbackType == 8
	})
	if len(resp.Choices) != 1 || resp.Choices[0].Value != "anthropic/claude-3.5-sonnet" {
		t.Errorf("choices = %+v, want the one Claude model", resp.Choices)
	}
	all := r.fake.SendAutocomplete(ann, dm.ID, "model", discordtest.Option{Name: "id", Type: 3, Value: "", Focused: true})
	r.waitFor("all choices", func() bool {
		var ok bool
		resp, ok = r.fake.InteractionResponse(all.ID)
		return ok && resp.CallbackType == 8
	})
	if n := len(resp.Choices); n != 4 {
		t.Errorf("choices with nothing typed = %d, want the whole (4-model) catalogue", n)
	}
}

// TestBridge_ModelOutputPingsNobodyAndUnfurlsNothing: model output with
// mass mentions, user and role mentions and a link pings nobody and shows
// no embed, in the message and in every edit of it.
func TestBridge_ModelOutputPingsNobodyAndUnfurlsNothing(t *testing.T) {
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Deltas: []string{
		"Hey @everyone and @here, ask <@66> or <@&77> ", "and read https://example.com/page"}}))
	r.fake.SendGuildMessage(guild, general, ann, "say it", true)
	r.waitFor("the reply", func() bool { return strings.Contains(r.lastText(general), "example.com/page") })
	for _, m := range r.fake.Messages(general) {
		if m.Author.ID == ann.ID {
			continue
		}
		if pings := m.Pings(); pings || m.MentionsEveryone || len(m.Mentions) > 0 || len(m.MentionRoles) > 0 {
			t.Errorf("message %q pinged %v (everyone %v)", m.Content, pings, m.MentionsEveryone)
		}
		if m.Flags&discordtest.FlagSuppressEmbeds == 0 {
			t.Errorf("message %q may unfurl its link: flags %b", m.Content, m.Flags)
		}
	}
}

func TestBridge_RateLimitStormNothingEarly(t *testing.T) {
	deltas := enginetest.Words(30, "storm")
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 100 * time.Millisecond, Deltas: deltas}),
		func(_ *discord.Options, fo *discordtest.Options) {
			fo.ChannelLimit = discordtest.Limit{Every: 2 * time.Second, Burst: 1}
		})
	dm := r.fake.SendDM(ann, "hi").ChannelID
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r.waitFor("the reply", func() bool { return r.lastText(dm) == want })
	r.stop()
	if early := r.fake.EarlyCalls(); len(early) != 0 {
		t.Errorf("%d calls came before retry_after ended: %+v", len(early), early[0])
	}
}

func TestBridge_InjectedRateLimitPausesTheChannel(t *testing.T) {
	deltas := enginetest.Words(30, "pause")
	r := newRig(t, enginetest.NewProvider(enginetest.Script{Delay: 100 * time.Millisecond, Deltas: deltas}))
	r.fake.FailNext(discordtest.RouteEditMessage, discordtest.Fault{Status: 429, RetryAfter: 2 * time.Second})
	dm := r.fake.SendDM(ann, "hi").ChannelID
	want := strings.TrimSpace(strings.Join(deltas, ""))
	r.waitFor("the reply", func() bool { return r.lastText(dm) == want })
	r.stop()
	var limitedAt time.Time
	for _, c := range r.fake.Calls() {
		if c.Status == 429 {
			limitedAt = c.At
		} else if !limitedAt.IsZero() && strings.Contains(c.Path, "/channels/"+dm) && c.At.Sub(limitedAt) < 2*time.Second {
			t.Errorf("%s %s after the 429, want none for 2s", c.Route, c.At.Sub(limitedAt))
		}
	}
	if limitedAt.IsZero() {
		t.Error("the 429 never happened")
	}
}

func TestBridge_ResentEventAnsweredOnce(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	dm := r.fake.SendDM(ann, "only once").ChannelID
	r.waitFor("the reply", func() bool { return r.lastText(dm) == "You said: only once" })
	r.stop()
	r.start(discord.Options{APIURL: r.fake.URL(), Token: r.fake.Token()})
	for _, ev := range r.fake.Events() {
		if ev.Type == "MESSAGE_CREATE" && strings.Contains(string(ev.Data), "only once") {
			r.fake.Resend(ev)
		}
	}
	r.fake.SendDM(ann, "a new one")
	r.waitFor("the new reply", func() bool { return r.lastText(dm) == "You said: a new one" })
	r.stop()
	if n := len(r.prov.Requests()); n != 2 {
		t.Errorf("provider requests = %d, want 2", n)
	}
}

func TestBridge_ExportAttachesAFile(t *testing.T) {
	r := newRig(t, enginetest.NewProvider())
	dm := r.fake.SendDM(ann, "remember me").ChannelID
	r.waitFor("the reply", func() bool { return r.lastText(dm) == "You said: remember me" })
	r.fake.SendDM(ann, "/export")
	r.waitFor("the export file", func() bool {
		for _, m := range r.fake.Messages(dm) {
			for _, a := range m.Attachments {
				if bytes.Contains(a.Data, []byte("remember me")) {
					return true
				}
			}
		}
		return false
	})
	ex := r.fake.SendInteraction(ann, dm, "export")
	r.waitFor("the export as an interaction answer", func() bool {
		resp, ok := r.fake.InteractionResponse(ex.ID)
		return ok && resp.Original != nil && len(resp.Original.Attachments) == 1
	})
}

func TestBridge_ResumesAfterADroppedConnection(t *testing.T) {
	r := newRig(t, enginetest.NewProvider(), func(bo *discord.Options, fo *discordtest.Options) {
		bo.Reconnect = true
		fo.HeartbeatInterval = time.Minute
	})
	r.waitFor("the first heartbeat", func() bool { return r.fake.Heartbeats() > 0 })
	r.fake.DropConnection()
	r.waitFor("the resume", func() bool { return len(r.fake.Resumes()) > 0 })
	if res := r.fake.Resumes()[0]; !res.OK {
		t.Errorf("resume = %+v, want the session resumed", res)
	}
	dm := r.fake.SendDM(ann, "still there?").ChannelID
	r.waitFor("the reply", func() bool { return r.lastText(dm) == "You said: still there?" })
}

func TestBridge_EventJSONIsWhatDiscordSends(t *testing.T) {
	// Guards the fixtures: the fake's events carry what the bridge reads.
	r := newRig(t, enginetest.NewProvider())
	r.fake.SendDM(ann, "x")
	r.waitFor("an event", func() bool { return len(r.fake.Events()) > 0 })
	var d struct {
		Author struct{ ID string } `json:"author"`
	}
	for _, ev := range r.fake.Events() {
		if ev.Type == "MESSAGE_CREATE" {
			if err := json.Unmarshal(ev.Data, &d); err != nil || d.Author.ID == "" {
				t.Errorf("MESSAGE_CREATE without an author: %s", ev.Data)
			}
			return
		}
	}
}

func TestBridge_IntentsGuildCommandsAndNoGlobals(t *testing.T) {
	apiBefore := discordgo.EndpointAPI
	r := newRig(t, enginetest.NewProvider(), func(bo *discord.Options, _ *discordtest.Options) { bo.GuildIDs = []string{guild} })
	ids := r.fake.Identifies()
	if len(ids) == 0 {
		t.Fatal("no IDENTIFY")
	}
	const guildMessages, directMessages, messageContent = 1 << 9, 1 << 12, 1 << 15
	if in := ids[0].Intents; in&guildMessages == 0 || in&directMessages == 0 || in&messageContent != 0 {
		t.Errorf("intents = %b, want guild and direct messages, and no Message Content unless configured", in)
	}
	if n := len(r.fake.GuildCommands(guild)); n != len(r.eng.Commands()) {
		t.Errorf("guild commands = %d, want the %d of the table", n, len(r.eng.Commands()))
	}
	if n := len(r.fake.Commands()); n != 0 {
		t.Errorf("global commands = %d, want none when guild_ids is set", n)
	}
	if discordgo.EndpointAPI != apiBefore || strings.Contains(discordgo.EndpointAPI, "127.0.0.1") {
		t.Errorf("discordgo's global EndpointAPI changed to %q", discordgo.EndpointAPI)
	}
	r.stop()

	withContent := newRig(t, enginetest.NewProvider(), func(bo *discord.Options, _ *discordtest.Options) { bo.MessageContent = true })
	if in := withContent.fake.Identifies()[0].Intents; in&messageContent == 0 {
		t.Errorf("intents = %b, want Message Content when configured", in)
	}
}
