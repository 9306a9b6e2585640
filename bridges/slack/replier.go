package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/slack-go/slack"

	"github.com/chatbridge/chatbridge/engine"
)

// Message id prefixes for messages chat.update cannot reach.
const (
	ephemeralPrefix = "eph:" // chat.postEphemeral: cannot be edited
	webhookPrefix   = "url:" // posted through a response_url
)

// maxSectionText is Slack's limit on a section block's text; a longer
// message goes without its buttons.
const maxSectionText = 3000

// replier answers in one channel and thread. Safe for concurrent use.
type replier struct {
	b        *Bridge
	channel  string
	thread   string
	statusTS string
	user     string
	private  bool
	// responseURL, for slash commands and buttons, reaches the user where
	// the bot is not a member of the channel.
	responseURL string
	webhooks    atomic.Int64
}

func (b *Bridge) newReplier(channel, thread, statusTS, user string, private bool) *replier {
	return &replier{b: b, channel: channel, thread: thread, statusTS: statusTS, user: user, private: private}
}

// forEngine is the replier as the engine should see it: with native
// streaming (a Drafter) when it is on and the reply has a thread to stream
// into.
func (r *replier) forEngine() engine.Replier {
	if r.b.opts.StreamMode == "native" && r.statusTS != "" {
		return &nativeReplier{replier: r}
	}
	return r
}

// text renders m as mrkdwn, refusing (without a request) a text over the
// limit.
func text(m engine.Outgoing) (string, error) {
	var s string
	if m.Plain {
		s = PlainText(m.Text)
	} else if s = Render(m.Text); strings.TrimSpace(s) == "" {
		// Markup alone (a bare fence) renders to nothing, which Slack
		// refuses as no_text: show the characters instead.
		s = PlainText(m.Text)
	}
	if VisibleLen(s) > maxMessageLen {
		return "", engine.ErrTooLong
	}
	return s, nil
}

// options are the message options every message gets: its text, its
// thread, no unfurling of links or media, and buttons as blocks.
func (r *replier) options(s string, buttons [][]engine.Button) []slack.MsgOption {
	opts := []slack.MsgOption{
		slack.MsgOptionText(s, false),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	}
	if r.thread != "" {
		opts = append(opts, slack.MsgOptionTS(r.thread))
	}
	if blocks := buttonBlocks(s, buttons); blocks != nil {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	return opts
}

// buttonBlocks lays out a text and its buttons as blocks (the text stays
// the notification fallback), or nil when there are no buttons.
func buttonBlocks(s string, rows [][]engine.Button) []slack.Block {
	var elems []slack.BlockElement
	for _, row := range rows {
		for _, b := range row {
			if len(b.Command) > 2000 || len(elems) == 25 {
				continue
			}
			label := b.Label
			if len([]rune(label)) > 75 {
				label = string([]rune(label)[:74]) + "…"
			}
			elems = append(elems, slack.NewButtonBlockElement("cmd"+strconv.Itoa(len(elems)), b.Command,
				slack.NewTextBlockObject(slack.PlainTextType, label, false, false)))
		}
	}
	if len(elems) == 0 || VisibleLen(s) > maxSectionText {
		return nil
	}
	return []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, s, false, false), nil, nil),
		slack.NewActionBlock("commands", elems...),
	}
}

// Send posts a new message and returns its ts.
func (r *replier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	s, err := text(m)
	if err != nil {
		return "", err
	}
	if m.Ephemeral && !r.private && r.user != "" {
		ts, err := r.b.api.PostEphemeralContext(ctx, r.channel, r.user, r.options(s, m.Buttons)...)
		if err != nil {
			return "", fmt.Errorf("slack: chat.postEphemeral: %w", mapError(err))
		}
		return engine.MessageID(ephemeralPrefix + ts), nil
	}
	_, ts, err := r.b.api.PostMessageContext(ctx, r.channel, r.options(s, m.Buttons)...)
	if err != nil {
		if r.responseURL != "" && notMember(err) {
			return r.viaResponseURL(ctx, s, m.Ephemeral, false)
		}
		return "", fmt.Errorf("slack: chat.postMessage: %w", mapError(err))
	}
	return engine.MessageID(ts), nil
}

// viaResponseURL posts (or replaces) the command's answer through its
// response_url, which works where the bot is not in the channel.
func (r *replier) viaResponseURL(ctx context.Context, s string, ephemeral, replace bool) (engine.MessageID, error) {
	kind := "in_channel"
	if ephemeral {
		kind = "ephemeral"
	}
	off := false
	msg := &slack.WebhookMessage{Text: s, ResponseType: kind, ReplaceOriginal: replace, UnfurlLinks: &off, UnfurlMedia: &off}
	if err := slack.PostWebhookCustomHTTPContext(ctx, r.responseURL, r.b.client(), msg); err != nil {
		return "", fmt.Errorf("slack: response_url: %w", mapError(err))
	}
	return engine.MessageID(webhookPrefix + strconv.FormatInt(r.webhooks.Add(1), 10)), nil
}

// Edit replaces the text of a message the bot sent (chat.update).
func (r *replier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	s, err := text(m)
	if err != nil {
		return err
	}
	switch sid := string(id); {
	case strings.HasPrefix(sid, ephemeralPrefix):
		// Slack cannot edit an ephemeral message; the newer text replaces
		// it in a new one.
		_, err := r.b.api.PostEphemeralContext(ctx, r.channel, r.user, r.options(s, m.Buttons)...)
		if err != nil {
			return fmt.Errorf("slack: chat.postEphemeral: %w", mapError(err))
		}
		return nil
	case strings.HasPrefix(sid, webhookPrefix):
		_, err := r.viaResponseURL(ctx, s, m.Ephemeral, true)
		return err
	}
	opts := r.options(s, m.Buttons)
	if _, _, _, err := r.b.api.UpdateMessageContext(ctx, r.channel, string(id), opts...); err != nil {
		return fmt.Errorf("slack: chat.update: %w", mapError(err))
	}
	return nil
}

// Typing sets the assistant thread status ("is thinking…"), which Slack
// shows until the reply is posted. Apps that are not AI apps cannot; after
// the first refusal the bridge stops asking.
func (r *replier) Typing(ctx context.Context) error {
	if r.statusTS == "" || !r.b.statusAllowed() {
		return nil
	}
	err := r.b.api.SetAssistantThreadsStatusContext(ctx, slack.AssistantThreadsSetStatusParameters{
		ChannelID: r.channel, ThreadTS: r.statusTS, Status: "is thinking…",
	})
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return fmt.Errorf("slack: assistant.threads.setStatus: %w", mapError(err))
	}
	r.b.noStatus(err)
	return nil
}

// Upload posts data as a file in the channel and thread (used by /export).
func (r *replier) Upload(ctx context.Context, name string, data []byte, caption string) error {
	_, err := r.b.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader:          bytes.NewReader(data),
		FileSize:        len(data),
		Filename:        name,
		Title:           name,
		InitialComment:  PlainText(caption),
		Channel:         r.channel,
		ThreadTimestamp: r.thread,
	})
	if err != nil {
		return fmt.Errorf("slack: file upload: %w", mapError(err))
	}
	return nil
}

// nativeReplier streams with chat.startStream, appendStream and
// stopStream: the engine's drafts are appended to one streamed message,
// which its Send of the same text then finishes. Any error makes the
// engine fall back to edits.
type nativeReplier struct {
	*replier

	mu       sync.Mutex
	streamTS string
	streamed string // the markdown_text sent so far
}

// Draft shows the part in progress: it starts a stream, or appends what
// is new since the last draft. A part that does not continue the stream
// is an error (the engine then edits instead).
func (r *nativeReplier) Draft(ctx context.Context, m engine.Outgoing) error {
	s := PlainText(m.Text)
	if len([]rune(s)) > maxMessageLen {
		return engine.ErrTooLong
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streamTS == "" {
		opts := []slack.MsgOption{slack.MsgOptionMarkdownText(s), slack.MsgOptionTS(r.statusTS)}
		if !r.private {
			opts = append(opts, slack.MsgOptionRecipientTeamID(r.b.teamID), slack.MsgOptionRecipientUserID(r.user))
		}
		_, ts, err := r.b.api.StartStreamContext(ctx, r.channel, opts...)
		if err != nil {
			return fmt.Errorf("slack: chat.startStream: %w", mapError(err))
		}
		r.streamTS, r.streamed = ts, s
		return nil
	}
	if !strings.HasPrefix(s, r.streamed) {
		return errors.New("slack: the draft does not continue the stream")
	}
	if delta := s[len(r.streamed):]; delta != "" {
		if _, _, err := r.b.api.AppendStreamContext(ctx, r.channel, r.streamTS, slack.MsgOptionMarkdownText(delta)); err != nil {
			return fmt.Errorf("slack: chat.appendStream: %w", mapError(err))
		}
		r.streamed = s
	}
	return nil
}

// Send finishes the open stream with m's text (its id is the stream's
// message), or posts a new message when none is open.
func (r *nativeReplier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	r.mu.Lock()
	ts, streamed := r.streamTS, r.streamed
	r.streamTS, r.streamed = "", ""
	r.mu.Unlock()
	if ts == "" {
		return r.replier.Send(ctx, m)
	}
	s := PlainText(m.Text)
	if strings.HasPrefix(s, streamed) {
		var opts []slack.MsgOption
		if delta := s[len(streamed):]; delta != "" {
			opts = append(opts, slack.MsgOptionMarkdownText(delta))
		}
		if _, _, err := r.b.api.StopStreamContext(ctx, r.channel, ts, opts...); err != nil {
			return "", fmt.Errorf("slack: chat.stopStream: %w", mapError(err))
		}
		return engine.MessageID(ts), nil
	}
	// The final text is not a continuation (the engine re-split it): close
	// the stream and put the right text in its message.
	if _, _, err := r.b.api.StopStreamContext(ctx, r.channel, ts); err != nil {
		return "", fmt.Errorf("slack: chat.stopStream: %w", mapError(err))
	}
	if err := r.replier.Edit(ctx, engine.MessageID(ts), m); err != nil {
		return "", err
	}
	return engine.MessageID(ts), nil
}

// statusAllowed reports whether assistant statuses are still tried.
func (b *Bridge) statusAllowed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status
}

func (b *Bridge) noStatus(err error) {
	b.mu.Lock()
	was := b.status
	b.status = false
	b.mu.Unlock()
	if was {
		b.log.Info("slack: assistant thread status unavailable (not an AI app?); not showing one", "err", mapError(err))
	}
}
