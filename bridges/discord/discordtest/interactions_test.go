package discordtest_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
)

func testInteractions(t *testing.T, fake *discordtest.Server, dg *discordgo.Session, ev *gatewayEvents) {
	got := ev.inter
	dm := fake.DM(alice)
	general := fake.AddChannel(discordtest.Channel{GuildID: "500", Name: "general"})

	t.Run("deferred, edited, followups", func(t *testing.T) {
		sent := fake.SendInteraction(alice, dm.ID, "ask", discordtest.StringOption("prompt", "why?"))
		ic := receive(t, got, "INTERACTION_CREATE")
		data := ic.ApplicationCommandData()
		if ic.ID != sent.ID || ic.Token != sent.Token || ic.Type != discordgo.InteractionApplicationCommand ||
			ic.User == nil || ic.User.ID != alice.ID || ic.GuildID != "" || ic.ChannelID != dm.ID ||
			data.Name != "ask" || data.Options[0].StringValue() != "why?" || sent.SentAt.IsZero() {
			t.Fatalf("interaction = %+v data %+v", ic.Interaction, data)
		}
		err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral},
		})
		if err != nil {
			t.Fatal(err)
		}
		err = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource})
		re := restError(t, err, 400, 40060)
		if re.Message.Message != "Interaction has already been acknowledged." {
			t.Errorf("message = %q", re.Message.Message)
		}
		for _, text := range []string{"partial", "final @everyone <@43>"} {
			m, err := dg.InteractionResponseEdit(ic.Interaction, &discordgo.WebhookEdit{Content: &text})
			if err != nil || m.Content != text {
				t.Fatalf("edit = %+v, %v", m, err)
			}
		}
		long := strings.Repeat("x", 2001)
		_, err = dg.InteractionResponseEdit(ic.Interaction, &discordgo.WebhookEdit{Content: &long})
		restError(t, err, 400, 50035)
		f, err := dg.FollowupMessageCreate(ic.Interaction, true, &discordgo.WebhookParams{Content: "more", Flags: discordgo.MessageFlagsEphemeral})
		if err != nil {
			t.Fatal(err)
		}
		edited := "more, edited"
		if _, err := dg.FollowupMessageEdit(ic.Interaction, f.ID, &discordgo.WebhookEdit{Content: &edited}); err != nil {
			t.Fatal(err)
		}
		f2, err := dg.FollowupMessageCreate(ic.Interaction, true, &discordgo.WebhookParams{Content: "gone soon"})
		if err != nil {
			t.Fatal(err)
		}
		if err := dg.FollowupMessageDelete(ic.Interaction, f2.ID); err != nil {
			t.Fatal(err)
		}

		r, _ := fake.InteractionResponse(sent.ID)
		o := r.Original
		if r.CallbackType != 5 || r.Callbacks != 2 || o == nil || o.Content != "final @everyone <@43>" || o.Edits != 2 ||
			!o.Ephemeral || o.Flags&discordtest.FlagLoading != 0 || o.MentionsEveryone || o.Mentions[0] != "43" {
			t.Errorf("response = %+v original %+v", r, o)
		}
		if len(r.Followups) != 1 || r.Followups[0].Content != edited || !r.Followups[0].Ephemeral || r.Followups[0].Edits != 1 {
			t.Errorf("followups = %+v", r.Followups)
		}
		var mine []discordtest.Message
		for _, m := range fake.Messages(dm.ID) {
			if m.InteractionID == sent.ID {
				mine = append(mine, m)
			}
		}
		if len(mine) != 2 || mine[0].ID != o.ID || mine[0].WebhookID != fake.ApplicationID() {
			t.Errorf("messages = %+v", mine)
		}
	})

	t.Run("guild reply", func(t *testing.T) {
		sent := fake.SendInteraction(bob, general.ID, "help")
		ic := receive(t, got, "INTERACTION_CREATE")
		if ic.Member == nil || ic.Member.User.ID != bob.ID || ic.GuildID != "500" || ic.AppPermissions == 0 {
			t.Fatalf("guild interaction = %+v", ic.Interaction)
		}
		err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: "commands: /ask"},
		})
		if err != nil {
			t.Fatal(err)
		}
		m, err := dg.InteractionResponse(ic.Interaction)
		if err != nil || m.Content != "commands: /ask" || m.Type != discordgo.MessageTypeChatInputCommand {
			t.Errorf("original = %+v, %v", m, err)
		}
		if r, _ := fake.InteractionResponse(sent.ID); r.Original == nil || r.Original.Ephemeral || r.Original.GuildID != "500" {
			t.Errorf("response = %+v", r)
		}
	})

	t.Run("followup after defer edits the loading message", func(t *testing.T) {
		sent := fake.SendInteraction(alice, dm.ID, "ask")
		ic := receive(t, got, "INTERACTION_CREATE")
		_, err := dg.InteractionResponseEdit(ic.Interaction, &discordgo.WebhookEdit{})
		restError(t, err, 404, 10015) // not acknowledged yet
		err = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource})
		if err != nil {
			t.Fatal(err)
		}
		_, err = dg.FollowupMessageCreate(ic.Interaction, true, &discordgo.WebhookParams{})
		restError(t, err, 400, 50006)
		f, err := dg.FollowupMessageCreate(ic.Interaction, true, &discordgo.WebhookParams{Content: "answer"})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := fake.InteractionResponse(sent.ID)
		if r.Original == nil || f.ID != r.Original.ID || r.Original.Content != "answer" || len(r.Followups) != 0 {
			t.Errorf("response = %+v, followup %+v", r, f)
		}
	})

	t.Run("autocomplete", func(t *testing.T) {
		sent := fake.SendAutocomplete(alice, dm.ID, "model", discordtest.StringOption("id", "gp"))
		ic := receive(t, got, "autocomplete")
		opt := ic.ApplicationCommandData().Options[0]
		if ic.Type != discordgo.InteractionApplicationCommandAutocomplete || !opt.Focused || opt.StringValue() != "gp" {
			t.Fatalf("autocomplete = %+v", ic.Interaction)
		}
		err := dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseChannelMessageWithSource, Data: &discordgo.InteractionResponseData{Content: "x"}})
		restError(t, err, 400, 50035)
		calls := fake.CallsTo(discordtest.RouteInteractionCallback)
		if e := string(calls[len(calls)-1].Errors); !strings.Contains(e, "Value must be one of {8}.") {
			t.Errorf("errors = %s", e)
		}
		choices := func(n int) []*discordgo.ApplicationCommandOptionChoice {
			var out []*discordgo.ApplicationCommandOptionChoice
			for i := range n {
				out = append(out, &discordgo.ApplicationCommandOptionChoice{Name: "gpt-" + strconv.Itoa(i), Value: "gpt-" + strconv.Itoa(i)})
			}
			return out
		}
		err = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionApplicationCommandAutocompleteResult, Data: &discordgo.InteractionResponseData{Choices: choices(26)}})
		restError(t, err, 400, 50035)
		err = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionApplicationCommandAutocompleteResult, Data: &discordgo.InteractionResponseData{Choices: choices(25)}})
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := fake.InteractionResponse(sent.ID); r.CallbackType != 8 || len(r.Choices) != 25 || r.Original != nil {
			t.Errorf("response = %+v", r)
		}
	})

	t.Run("component", func(t *testing.T) {
		msg, err := dg.ChannelMessageSend(dm.ID, "streaming...")
		if err != nil {
			t.Fatal(err)
		}
		fake.SendComponent(alice, dm.ID, msg.ID, "stop")
		ic := receive(t, got, "component")
		if ic.Type != discordgo.InteractionMessageComponent || ic.MessageComponentData().CustomID != "stop" || ic.Message.ID != msg.ID {
			t.Fatalf("component = %+v", ic.Interaction)
		}
		err = dg.InteractionRespond(ic.Interaction, &discordgo.InteractionResponse{
			Type: discordgo.InteractionResponseUpdateMessage, Data: &discordgo.InteractionResponseData{Content: "stopped"}})
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := fake.Message(dm.ID, msg.ID); m.Content != "stopped" || m.Edits != 1 {
			t.Errorf("message = %+v", m)
		}
	})

	t.Run("unknown interaction", func(t *testing.T) {
		err := dg.InteractionRespond(&discordgo.Interaction{ID: "1", Token: "nope"},
			&discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource})
		re := restError(t, err, 404, 10062)
		if re.Message.Message != "Unknown interaction" {
			t.Errorf("message = %q", re.Message.Message)
		}
	})
}

func TestServer_Commands(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{})
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	app := fake.ApplicationID()
	perm := int64(discordgo.PermissionSendMessages)
	cmds := []*discordgo.ApplicationCommand{
		{Name: "ask", Description: "Ask the model", DefaultMemberPermissions: &perm,
			Contexts: &[]discordgo.InteractionContextType{0, 1, 2},
			Options: []*discordgo.ApplicationCommandOption{
				{Type: discordgo.ApplicationCommandOptionString, Name: "prompt", Description: "What to ask", Required: true},
				{Type: discordgo.ApplicationCommandOptionString, Name: "model", Description: "Model", Autocomplete: true},
			}},
		{Name: "help", Description: "List the commands"},
	}
	created, err := dg.ApplicationCommandBulkOverwrite(app, "", cmds)
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 2 || created[0].ID == "" || created[0].ApplicationID != app || created[0].DefaultMemberPermissions == nil ||
		*created[0].DefaultMemberPermissions != perm || len(created[0].Options) != 2 {
		t.Fatalf("created = %+v", created)
	}
	reg := fake.Commands()
	if len(reg) != 2 || reg[0].Name != "ask" || !reg[0].Options[0].Required || !reg[0].Options[1].Autocomplete ||
		len(reg[0].Contexts) != 3 {
		t.Errorf("Commands = %+v", reg)
	}
	again, err := dg.ApplicationCommandBulkOverwrite(app, "", cmds[:1])
	if err != nil || len(again) != 1 || again[0].ID != created[0].ID || len(fake.Commands()) != 1 {
		t.Errorf("second overwrite = %+v, %v", again, err)
	}
	if sent := fake.SendInteraction(alice, fake.DM(alice).ID, "ask"); sent.Command != "ask" {
		t.Errorf("interaction = %+v", sent)
	}

	opt := func(name string, required bool) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: name, Description: "d", Required: required}
	}
	for _, tc := range []struct {
		name string
		cmds []*discordgo.ApplicationCommand
		path string
	}{
		{"upper case", []*discordgo.ApplicationCommand{{Name: "Ask", Description: "d"}}, "0.name"},
		{"space", []*discordgo.ApplicationCommand{{Name: "a b", Description: "d"}}, "0.name"},
		{"too long", []*discordgo.ApplicationCommand{{Name: strings.Repeat("a", 33), Description: "d"}}, "0.name"},
		{"no description", []*discordgo.ApplicationCommand{{Name: "ok"}}, "0.description"},
		{"long description", []*discordgo.ApplicationCommand{{Name: "ok", Description: strings.Repeat("d", 101)}}, "0.description"},
		{"duplicate", []*discordgo.ApplicationCommand{{Name: "ok", Description: "d"}, {Name: "ok", Description: "d"}}, "1.name"},
		{"optional first", []*discordgo.ApplicationCommand{{Name: "ok", Description: "d",
			Options: []*discordgo.ApplicationCommandOption{opt("a", false), opt("b", true)}}}, "0.options"},
		{"option name", []*discordgo.ApplicationCommand{{Name: "ok", Description: "d",
			Options: []*discordgo.ApplicationCommandOption{opt("Bad", false)}}}, "0.options.0.name"},
		{"autocomplete with choices", []*discordgo.ApplicationCommand{{Name: "ok", Description: "d",
			Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString, Name: "a",
				Description: "d", Autocomplete: true, Choices: []*discordgo.ApplicationCommandOptionChoice{{Name: "x", Value: "x"}}}}}},
			"0.options.0.autocomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dg.ApplicationCommandBulkOverwrite(app, "", tc.cmds)
			restError(t, err, 400, 50035)
			calls := fake.CallsTo(discordtest.RouteOverwriteGlobalCommands)
			if last := calls[len(calls)-1]; !hasErrorAt(t, last.Errors, tc.path) {
				t.Errorf("no error at %s: %s", tc.path, last.Errors)
			}
		})
	}
	var many []*discordgo.ApplicationCommand
	for i := range 101 {
		many = append(many, &discordgo.ApplicationCommand{Name: "c" + strconv.Itoa(i), Description: "d"})
	}
	_, err = dg.ApplicationCommandBulkOverwrite(app, "", many)
	restError(t, err, 400, 30032)
	if len(fake.Commands()) != 1 {
		t.Errorf("refused overwrites changed the commands: %+v", fake.Commands())
	}

	_, err = dg.ApplicationCommandBulkOverwrite(app, "500", cmds)
	restError(t, err, 403, 50001) // the bot is not in guild 500 yet
	fake.AddChannel(discordtest.Channel{GuildID: "500"})
	if _, err := dg.ApplicationCommandBulkOverwrite(app, "500", cmds); err != nil {
		t.Fatal(err)
	}
	if g := fake.GuildCommands("500"); len(g) != 2 || g[0].GuildID != "500" {
		t.Errorf("GuildCommands = %+v", g)
	}
	_, err = dg.ApplicationCommandBulkOverwrite("1", "", cmds)
	restError(t, err, 403, 50001)
}
