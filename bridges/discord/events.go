package discord

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/engine"
)

// maxChoices is Discord's limit on autocomplete choices.
const maxChoices = 25

// identity is what deciding "is this message for us" needs.
type identity struct {
	id string
}

// eventFromMessage converts a MESSAGE_CREATE to an engine event. It reports
// false for messages the bot does not answer: its own and other bots',
// empty ones, and in a guild anything that neither mentions the bot nor is
// in a thread the bot started (botThread). Text that starts with a
// registered command ("/model x") runs that command, as typed commands do
// on the other platforms. Pure.
func eventFromMessage(m *discordgo.Message, me identity, botThread bool, isCommand func(string) bool) (*engine.Event, bool) {
	if m == nil || m.Author == nil || m.Author.Bot || m.Author.ID == me.id || m.Author.ID == "" || m.ChannelID == "" {
		return nil, false
	}
	private := m.GuildID == ""
	text := m.Content
	if !private {
		var mentioned bool
		text, mentioned = stripMention(text, m.Mentions, me)
		if !mentioned && !botThread {
			return nil, false
		}
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, false
	}
	ev := &engine.Event{
		ID:       engine.EventID("m" + m.ID),
		Platform: Name,
		Chat:     engine.ChatID(m.ChannelID),
		User:     engine.UserID(m.Author.ID),
		UserName: m.Author.Username,
		Private:  private,
		Time:     m.Timestamp.UTC(),
		Text:     text,
		Message:  engine.MessageID(m.ID),
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if name, args, ok := typedCommand(text); ok && isCommand(name) {
		ev.Command, ev.Text = name, args
	}
	return ev, true
}

// mentionRE matches a user mention token, <@id> or the older <@!id>.
var mentionRE = regexp.MustCompile(`<@!?(\d+)>`)

// stripMention removes mentions of the bot from text and reports whether
// the message mentions it (in Mentions or in the text).
func stripMention(text string, mentions []*discordgo.User, me identity) (string, bool) {
	found := false
	for _, u := range mentions {
		if u != nil && u.ID == me.id {
			found = true
		}
	}
	text = mentionRE.ReplaceAllStringFunc(text, func(tok string) string {
		if mentionRE.FindStringSubmatch(tok)[1] == me.id {
			found = true
			return ""
		}
		return tok
	})
	return text, found
}

// typedCommand splits "/name args" typed as a message.
func typedCommand(text string) (name, args string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	word, rest, _ := strings.Cut(text[1:], " ")
	if nl := strings.IndexByte(word, '\n'); nl >= 0 {
		word, rest = word[:nl], word[nl+1:]+" "+rest
	}
	if word == "" || len(word) > 32 {
		return "", "", false
	}
	return strings.ToLower(word), strings.TrimSpace(rest), true
}

// eventFromInteraction converts a slash command or a button press to an
// engine event. Pure; it reports false for other interaction kinds.
func eventFromInteraction(i *discordgo.Interaction) (*engine.Event, bool) {
	if i == nil {
		return nil, false
	}
	user := i.User
	if i.Member != nil && i.Member.User != nil {
		user = i.Member.User
	}
	if user == nil || user.Bot || user.ID == "" || i.ChannelID == "" {
		return nil, false
	}
	ev := &engine.Event{
		ID:       engine.EventID("i" + i.ID),
		Platform: Name,
		Chat:     engine.ChatID(i.ChannelID),
		User:     engine.UserID(user.ID),
		UserName: user.Username,
		Private:  i.GuildID == "",
		Time:     time.Now().UTC(),
	}
	switch i.Type {
	case discordgo.InteractionApplicationCommand:
		data := i.ApplicationCommandData()
		ev.Command = data.Name
		var args []string
		for _, o := range data.Options {
			if o != nil && o.Value != nil {
				args = append(args, strings.TrimSpace(optionText(o)))
			}
		}
		ev.Text = strings.TrimSpace(strings.Join(args, " "))
	case discordgo.InteractionMessageComponent:
		name, args, ok := typedCommand(i.MessageComponentData().CustomID)
		if !ok {
			return nil, false
		}
		ev.Command, ev.Text = name, args
	default:
		return nil, false
	}
	return ev, ev.Command != ""
}

func optionText(o *discordgo.ApplicationCommandInteractionDataOption) string {
	switch v := o.Value.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		if v {
			return "on"
		}
		return "off"
	}
	return ""
}

// focusedText is what the user has typed so far in an autocomplete
// interaction's focused option.
func focusedText(i *discordgo.Interaction) string {
	for _, o := range i.ApplicationCommandData().Options {
		if o != nil && o.Focused {
			if s, ok := o.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// onMessage answers a MESSAGE_CREATE. It returns promptly: the engine runs
// the turn on its own worker.
func (b *Bridge) onMessage(ctx context.Context, h engine.Handler, m *discordgo.Message) {
	if m == nil || m.Author == nil || m.Author.Bot {
		return
	}
	botThread := m.GuildID != "" && b.isBotThread(ctx, m.ChannelID)
	ev, ok := eventFromMessage(m, identity{id: b.me.ID}, botThread, func(name string) bool {
		_, ok := b.command(name)
		return ok
	})
	if !ok {
		return
	}
	h.HandleEvent(ctx, &channelReplier{s: b.s, channel: m.ChannelID}, ev)
}

// onInteraction acknowledges an interaction at once (well within Discord's
// 3 s) and hands it to the engine, or answers an autocomplete.
func (b *Bridge) onInteraction(ctx context.Context, h engine.Handler, i *discordgo.Interaction) {
	if i == nil {
		return
	}
	if i.Type == discordgo.InteractionApplicationCommandAutocomplete {
		go b.autocomplete(ctx, h, i)
		return
	}
	ev, ok := eventFromInteraction(i)
	if !ok {
		return
	}
	spec, _ := b.command(ev.Command)
	r := &interactionReplier{s: b.s, i: i, ephemeral: spec.Ephemeral}
	if err := r.defer_(ctx); err != nil {
		b.log.Warn("discord interaction could not be acknowledged", "command", ev.Command, "err", err)
		return
	}
	h.HandleEvent(ctx, r, ev)
}

// modelCompleter is what autocomplete needs from the handler.
type modelCompleter interface {
	CompleteModels(ctx context.Context, typed string, limit int) ([]engine.ModelInfo, error)
}

// autocomplete answers an autocomplete interaction with up to 25 models
// matching what the user typed. Other commands get no choices.
func (b *Bridge) autocomplete(ctx context.Context, h engine.Handler, i *discordgo.Interaction) {
	choices := []*discordgo.ApplicationCommandOptionChoice{}
	if mc, ok := h.(modelCompleter); ok && i.ApplicationCommandData().Name == "model" {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		models, err := mc.CompleteModels(cctx, focusedText(i), maxChoices)
		cancel()
		if err != nil {
			b.log.Warn("discord autocomplete: model list", "err", err)
		}
		for _, m := range models {
			if utf8.RuneCountInString(m.ID) > 100 {
				continue // a choice value is at most 100 characters
			}
			name := m.ID
			if m.Name != "" && utf8.RuneCountInString(m.ID+" — "+m.Name) <= 100 {
				name = m.ID + " — " + m.Name
			}
			choices = append(choices, &discordgo.ApplicationCommandOptionChoice{Name: name, Value: m.ID})
		}
	}
	err := b.s.InteractionRespond(i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionApplicationCommandAutocompleteResult,
		Data: &discordgo.InteractionResponseData{Choices: choices},
	}, discordgo.WithContext(ctx))
	if err != nil {
		b.log.Warn("discord autocomplete answer", "err", mapError(err))
	}
}

// isBotThread reports whether a guild channel is a thread the bot started,
// from THREAD_CREATE events or, once per channel, a GET /channels/{id}.
func (b *Bridge) isBotThread(ctx context.Context, channelID string) bool {
	b.mu.Lock()
	v, known := b.threads[channelID]
	b.mu.Unlock()
	if known {
		return v
	}
	ch, err := b.s.Channel(channelID, discordgo.WithContext(ctx))
	if err != nil {
		b.log.Warn("discord channel lookup", "channel", channelID, "err", mapError(err))
		return false // not cached: asked again next time
	}
	b.noteThread(ch)
	return ch.IsThread() && ch.OwnerID == b.me.ID
}

func (b *Bridge) noteThread(ch *discordgo.Channel) {
	if ch == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.threads) > 10000 {
		clear(b.threads) // a cache, not a record: relearned on demand
	}
	b.threads[ch.ID] = ch.IsThread() && ch.OwnerID == b.me.ID
}
