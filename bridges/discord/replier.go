package discord

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/chatbridge/chatbridge/engine"
)

// Discord's limits on message components.
const (
	maxRows        = 5
	maxRowButtons  = 5
	maxCustomID    = 100
	maxButtonLabel = 80
	original       = "@original"
)

// noMentions makes Discord resolve no mention at all: model output can
// never ping @everyone, @here, a role or a user.
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// content renders m for Discord, refusing (without a request) a text that
// would be over the limit once rendered.
func content(m engine.Outgoing) (string, error) {
	text := m.Text
	if !m.Plain {
		text = Render(text)
	}
	if utf8.RuneCountInString(text) > maxMessageLen {
		return "", engine.ErrTooLong
	}
	return text, nil
}

// components turns the engine's buttons into action rows. A button whose
// command does not fit a custom_id is left out, as are rows past five.
func components(rows [][]engine.Button) []discordgo.MessageComponent {
	var out []discordgo.MessageComponent
	for _, row := range rows {
		var btns []discordgo.MessageComponent
		for _, b := range row {
			if len(b.Command) > maxCustomID || len(btns) == maxRowButtons {
				continue
			}
			btns = append(btns, discordgo.Button{Label: clip(b.Label, maxButtonLabel), Style: discordgo.SecondaryButton, CustomID: b.Command})
		}
		if len(btns) > 0 && len(out) < maxRows {
			out = append(out, discordgo.ActionsRow{Components: btns})
		}
	}
	return out
}

// channelReplier sends to one channel (a DM, a guild channel or a thread).
// Safe for concurrent use: it holds no mutable state.
type channelReplier struct {
	s       *discordgo.Session
	channel string
}

// Send posts a new message and returns its id.
func (r *channelReplier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	text, err := content(m)
	if err != nil {
		return "", err
	}
	msg, err := r.s.ChannelMessageSendComplex(r.channel, &discordgo.MessageSend{
		Content:         text,
		AllowedMentions: noMentions(),
		Components:      components(m.Buttons),
		// Model output never unfurls links into embeds.
		Flags: discordgo.MessageFlagsSuppressEmbeds,
	}, discordgo.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("discord: send message: %w", mapError(err))
	}
	return engine.MessageID(msg.ID), nil
}

// Edit replaces the text of a message the bot sent.
func (r *channelReplier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	text, err := content(m)
	if err != nil {
		return err
	}
	edit := discordgo.NewMessageEdit(r.channel, string(id)).SetContent(text)
	edit.AllowedMentions = noMentions()
	if c := components(m.Buttons); c != nil {
		edit.Components = &c
	}
	if _, err := r.s.ChannelMessageEditComplex(edit, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("discord: edit message: %w", mapError(err))
	}
	return nil
}

// Typing shows "typing…" for up to ten seconds.
func (r *channelReplier) Typing(ctx context.Context) error {
	if err := r.s.ChannelTyping(r.channel, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("discord: typing: %w", mapError(err))
	}
	return nil
}

// Upload posts data as a file attachment (used by /export).
func (r *channelReplier) Upload(ctx context.Context, name string, data []byte, caption string) error {
	_, err := r.s.ChannelMessageSendComplex(r.channel, &discordgo.MessageSend{
		Content:         clip(caption, maxMessageLen),
		AllowedMentions: noMentions(),
		Files:           []*discordgo.File{{Name: name, ContentType: "text/markdown", Reader: bytes.NewReader(data)}},
	}, discordgo.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("discord: upload file: %w", mapError(err))
	}
	return nil
}

// interactionReplier answers one slash command or button press: its first
// message fills the deferred response (@original), later ones are
// followups. Safe for concurrent use.
type interactionReplier struct {
	s         *discordgo.Session
	i         *discordgo.Interaction
	ephemeral bool // the deferral was ephemeral: every answer is

	mu           sync.Mutex
	originalUsed bool
}

// defer_ acknowledges the interaction ("thinking…"), which must happen
// within 3 s of its creation.
func (r *interactionReplier) defer_(ctx context.Context) error {
	resp := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource}
	if r.ephemeral {
		resp.Data = &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}
	}
	if err := r.s.InteractionRespond(r.i, resp, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("discord: defer interaction: %w", mapError(err))
	}
	return nil
}

// claimOriginal reports whether this message goes into @original (the
// first one does).
func (r *interactionReplier) claimOriginal() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.originalUsed {
		return false
	}
	r.originalUsed = true
	return true
}

func (r *interactionReplier) release() {
	r.mu.Lock()
	r.originalUsed = false
	r.mu.Unlock()
}

// Send fills the deferred response, or posts a followup.
func (r *interactionReplier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	text, err := content(m)
	if err != nil {
		return "", err
	}
	if r.claimOriginal() {
		if err := r.editOriginal(ctx, text, m.Buttons, nil); err != nil {
			r.release()
			return "", err
		}
		return original, nil
	}
	params := &discordgo.WebhookParams{
		Content:         text,
		AllowedMentions: noMentions(),
		Components:      components(m.Buttons),
		Flags:           discordgo.MessageFlagsSuppressEmbeds,
	}
	if r.ephemeral || m.Ephemeral {
		params.Flags |= discordgo.MessageFlagsEphemeral
	}
	msg, err := r.s.FollowupMessageCreate(r.i, true, params, discordgo.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("discord: followup: %w", mapError(err))
	}
	return engine.MessageID(msg.ID), nil
}

func (r *interactionReplier) editOriginal(ctx context.Context, text string, buttons [][]engine.Button, files []*discordgo.File) error {
	edit := &discordgo.WebhookEdit{Content: &text, AllowedMentions: noMentions(), Files: files}
	if c := components(buttons); c != nil {
		edit.Components = &c
	}
	if _, err := r.s.InteractionResponseEdit(r.i, edit, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("discord: edit interaction response: %w", mapError(err))
	}
	return nil
}

// Edit changes the response or a followup.
func (r *interactionReplier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	text, err := content(m)
	if err != nil {
		return err
	}
	if id == original {
		return r.editOriginal(ctx, text, m.Buttons, nil)
	}
	edit := &discordgo.WebhookEdit{Content: &text, AllowedMentions: noMentions()}
	if c := components(m.Buttons); c != nil {
		edit.Components = &c
	}
	if _, err := r.s.FollowupMessageEdit(r.i, string(id), edit, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("discord: edit followup: %w", mapError(err))
	}
	return nil
}

// Upload attaches data to the response, or to a followup (used by
// /export).
func (r *interactionReplier) Upload(ctx context.Context, name string, data []byte, caption string) error {
	file := []*discordgo.File{{Name: name, ContentType: "text/markdown", Reader: bytes.NewReader(data)}}
	caption = clip(caption, maxMessageLen)
	if r.claimOriginal() {
		if err := r.editOriginal(ctx, caption, nil, file); err != nil {
			r.release()
			return err
		}
		return nil
	}
	params := &discordgo.WebhookParams{Content: caption, AllowedMentions: noMentions(), Files: file}
	if r.ephemeral {
		params.Flags = discordgo.MessageFlagsEphemeral
	}
	if _, err := r.s.FollowupMessageCreate(r.i, true, params, discordgo.WithContext(ctx)); err != nil {
		return fmt.Errorf("discord: followup file: %w", mapError(err))
	}
	return nil
}
