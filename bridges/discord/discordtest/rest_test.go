package discordtest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
)

func TestServer_Auth(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{})
	dg := newSession(t, fake, "wrong", defaultIntents)
	_, err := dg.User("@me")
	re := restError(t, err, 401, 0)
	if re.Message.Message != "401: Unauthorized" {
		t.Errorf("message = %q", re.Message.Message)
	}

	resp, body := raw(t, fake, "GET", "/api/v10/users/@me", nil, true)
	if resp.StatusCode != 200 || body["id"] != fake.Bot().ID || body["bot"] != true {
		t.Errorf("v10 /users/@me = %d %v", resp.StatusCode, body)
	}
	if c := fake.CallsTo(discordtest.RouteCurrentUser); len(c) != 2 || c[1].Version != 10 || c[0].Status != 401 {
		t.Errorf("calls = %+v", c)
	}
	resp, body = raw(t, fake, "GET", "/api/v9/nope", nil, true)
	if resp.StatusCode != 404 || body["message"] != "404: Not Found" || body["code"] != 0.0 {
		t.Errorf("unknown route = %d %v", resp.StatusCode, body)
	}
	resp, _ = raw(t, fake, "DELETE", "/api/v9/users/@me", nil, true)
	if resp.StatusCode != 405 {
		t.Errorf("wrong method = %d", resp.StatusCode)
	}
	resp, _ = raw(t, fake, "GET", "/api/v8/users/@me", nil, true)
	if resp.StatusCode != 404 {
		t.Errorf("v8 = %d", resp.StatusCode)
	}
}

func TestServer_SendAndEdit(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{})
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	general := fake.AddChannel(discordtest.Channel{GuildID: "500", Name: "general"})
	dm := fake.DM(alice)

	t.Run("allowed mentions", func(t *testing.T) {
		quiet, err := dg.ChannelMessageSendComplex(general.ID, &discordgo.MessageSend{
			Content: "@everyone <@42> <@&7>", AllowedMentions: &discordgo.MessageAllowedMentions{},
		})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := fake.Message(general.ID, quiet.ID)
		if m.Pings() || quiet.MentionEveryone || len(quiet.Mentions) != 0 || m.AllowedMentions == nil {
			t.Errorf("parse [] pinged: %+v", m)
		}
		loud, err := dg.ChannelMessageSend(general.ID, "@here <@42> <@!43> <@&7>")
		if err != nil {
			t.Fatal(err)
		}
		m, _ = fake.Message(general.ID, loud.ID)
		if !m.MentionsEveryone || !slices.Equal(m.Mentions, []string{"42", "43"}) || !slices.Equal(m.MentionRoles, []string{"7"}) ||
			m.AllowedMentions != nil || len(loud.Mentions) != 2 || !loud.MentionEveryone {
			t.Errorf("default mentions = %+v", m)
		}
		users, err := dg.ChannelMessageSendComplex(general.ID, &discordgo.MessageSend{Content: "@everyone <@42> <@43>",
			AllowedMentions: &discordgo.MessageAllowedMentions{Users: []string{"43"}}})
		if err != nil {
			t.Fatal(err)
		}
		if m, _ = fake.Message(general.ID, users.ID); m.MentionsEveryone || !slices.Equal(m.Mentions, []string{"43"}) {
			t.Errorf("users [43] = %+v", m)
		}
		_, err = dg.ChannelMessageSendComplex(general.ID, &discordgo.MessageSend{Content: "x",
			AllowedMentions: &discordgo.MessageAllowedMentions{
				Parse: []discordgo.AllowedMentionType{discordgo.AllowedMentionTypeUsers}, Users: []string{"42"}}})
		re := restError(t, err, 400, 50035)
		if !strings.Contains(string(re.ResponseBody), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE") {
			t.Errorf("body = %s", re.ResponseBody)
		}
	})

	t.Run("edit", func(t *testing.T) {
		sent, err := dg.ChannelMessageSend(general.ID, "draft")
		if err != nil {
			t.Fatal(err)
		}
		edited, err := dg.ChannelMessageEdit(general.ID, sent.ID, "final <@42>")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := fake.Message(general.ID, sent.ID)
		if m.Content != "final <@42>" || m.Edits != 1 || m.EditedAt.IsZero() || edited.EditedTimestamp == nil ||
			!slices.Equal(m.Mentions, []string{"42"}) {
			t.Errorf("after edit = %+v", m)
		}
		content := "quiet <@42>"
		_, err = dg.ChannelMessageEditComplex(&discordgo.MessageEdit{Channel: general.ID, ID: sent.ID, Content: &content,
			AllowedMentions: &discordgo.MessageAllowedMentions{}})
		if err != nil {
			t.Fatal(err)
		}
		if m, _ = fake.Message(general.ID, sent.ID); m.Pings() || m.Edits != 2 {
			t.Errorf("after quiet edit = %+v", m)
		}
		_, err = dg.ChannelMessageEdit(general.ID, sent.ID, "  ")
		restError(t, err, 400, 50006)
		if m, _ = fake.Message(general.ID, sent.ID); m.Content != content {
			t.Errorf("refused edit changed the message: %q", m.Content)
		}
		_, err = dg.ChannelMessageEdit(general.ID, "1", "x")
		restError(t, err, 404, 10008)
		theirs := fake.Post(general.ID, alice, "mine")
		_, err = dg.ChannelMessageEdit(general.ID, theirs.ID, "x")
		restError(t, err, 403, 50005)
	})

	t.Run("validation", func(t *testing.T) {
		_, err := dg.ChannelMessageSend(general.ID, strings.Repeat("é", 2001))
		restError(t, err, 400, 50035)
		calls := fake.CallsTo(discordtest.RouteCreateMessage)
		last := calls[len(calls)-1]
		if !hasErrorAt(t, last.Errors, "content") || !strings.Contains(string(last.Errors), "Must be 2000 or fewer in length.") {
			t.Errorf("errors = %s", last.Errors)
		}
		for _, ok := range []string{strings.Repeat("é", 2000), strings.Repeat("😀", 2000)} {
			if _, err := dg.ChannelMessageSend(general.ID, ok); err != nil {
				t.Errorf("2000 code points refused: %v", err)
			}
		}
		_, err = dg.ChannelMessageSendComplex(general.ID, &discordgo.MessageSend{})
		re := restError(t, err, 400, 50006)
		if re.Message.Message != "Cannot send an empty message" {
			t.Errorf("message = %q", re.Message.Message)
		}
		_, err = dg.ChannelMessageSend("999", "x")
		restError(t, err, 404, 10003)
	})

	t.Run("attachments, get, delete, typing", func(t *testing.T) {
		sent, err := dg.ChannelMessageSendComplex(dm.ID, &discordgo.MessageSend{Files: []*discordgo.File{
			{Name: "chat.md", ContentType: "text/markdown", Reader: strings.NewReader("# hi")},
		}})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := fake.Message(dm.ID, sent.ID)
		if len(m.Attachments) != 1 || string(m.Attachments[0].Data) != "# hi" || m.Attachments[0].Filename != "chat.md" ||
			len(sent.Attachments) != 1 || sent.Attachments[0].Filename != "chat.md" {
			t.Errorf("attachment = %+v / %+v", m.Attachments, sent.Attachments)
		}
		calls := fake.CallsTo(discordtest.RouteCreateMessage)
		if last := calls[len(calls)-1]; !slices.Equal(last.Files, []string{"chat.md"}) {
			t.Errorf("call files = %v", last.Files)
		}
		got, err := dg.ChannelMessage(dm.ID, sent.ID)
		if err != nil || got.ID != sent.ID {
			t.Errorf("get = %v, %v", got, err)
		}
		if err := dg.ChannelMessageDelete(dm.ID, sent.ID); err != nil {
			t.Fatal(err)
		}
		if _, found := fake.Message(dm.ID, sent.ID); found {
			t.Error("deleted message still there")
		}
		if err := dg.ChannelTyping(dm.ID); err != nil {
			t.Fatal(err)
		}
		if c := fake.CallsTo(discordtest.RouteTyping); len(c) != 1 || c[0].Status != 204 {
			t.Errorf("typing calls = %+v", c)
		}
		restError(t, dg.ChannelTyping("999"), 404, 10003)
	})

	t.Run("replies and DMs", func(t *testing.T) {
		asked := fake.Post(general.ID, alice, "question")
		r, err := dg.ChannelMessageSendReply(general.ID, "answer", &discordgo.MessageReference{MessageID: asked.ID, ChannelID: general.ID})
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := fake.Message(general.ID, r.ID); m.ReplyTo != asked.ID || !slices.Equal(m.Mentions, []string{alice.ID}) ||
			r.Type != discordgo.MessageTypeReply {
			t.Errorf("reply = %+v", m)
		}
		r, err = dg.ChannelMessageSendComplex(general.ID, &discordgo.MessageSend{Content: "answer",
			Reference: &discordgo.MessageReference{MessageID: asked.ID, ChannelID: general.ID}, AllowedMentions: &discordgo.MessageAllowedMentions{}})
		if err != nil {
			t.Fatal(err)
		}
		if m, _ := fake.Message(general.ID, r.ID); m.Pings() {
			t.Errorf("reply without replied_user pinged: %+v", m)
		}
		ch, err := dg.UserChannelCreate(alice.ID)
		if err != nil || ch.ID != dm.ID || ch.Type != discordgo.ChannelTypeDM || ch.Recipients[0].ID != alice.ID {
			t.Errorf("UserChannelCreate = %+v, %v", ch, err)
		}
	})
}

func TestServer_Threads(t *testing.T) {
	t.Parallel()
	fake := newFake(t, discordtest.Options{})
	dg := newSession(t, fake, fake.Token(), defaultIntents)
	parent := fake.AddChannel(discordtest.Channel{GuildID: "500"})
	start, err := dg.ChannelMessageSend(parent.ID, "starting a thread")
	if err != nil {
		t.Fatal(err)
	}
	th, err := dg.MessageThreadStart(parent.ID, start.ID, "topic", 60)
	if err != nil {
		t.Fatal(err)
	}
	if th.ID != start.ID || th.Type != discordgo.ChannelTypeGuildPublicThread || th.ParentID != parent.ID || th.GuildID != "500" {
		t.Errorf("thread = %+v", th)
	}
	if c, _ := fake.Channel(th.ID); !c.IsThread() || c.OwnerID != fake.Bot().ID {
		t.Errorf("fake thread = %+v", c)
	}
	_, err = dg.MessageThreadStart(parent.ID, start.ID, "again", 60)
	restError(t, err, 400, 160004)

	private, err := dg.ThreadStart(parent.ID, "side", discordgo.ChannelTypeGuildPrivateThread, 60)
	if err != nil || private.Type != discordgo.ChannelTypeGuildPrivateThread {
		t.Fatalf("ThreadStart = %+v, %v", private, err)
	}
	if _, err := dg.ChannelMessageSend(private.ID, "in the thread"); err != nil {
		t.Fatal(err)
	}
	if ms := fake.Messages(private.ID); len(ms) != 1 || ms[0].GuildID != "500" {
		t.Errorf("thread messages = %+v", ms)
	}
	declared := fake.AddBotThread(parent.ID, "declared")
	if declared.GuildID != "500" || declared.Type != discordtest.ChannelPublicThread || declared.OwnerID != fake.Bot().ID {
		t.Errorf("AddBotThread = %+v", declared)
	}
	_, err = dg.ThreadStart(fake.DM(alice).ID, "no", discordgo.ChannelTypeGuildPublicThread, 60)
	restError(t, err, 400, 50024)
}
