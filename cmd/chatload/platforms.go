package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/bridges/discord/discordtest"
	"github.com/chatbridge/chatbridge/bridges/slack/slacktest"
	"github.com/chatbridge/chatbridge/bridges/telegram/telegramtest"
)

// Platform is one fake platform under load, with its published limits
// on. Send is called from one goroutine; the other methods may be called
// concurrently with it.
type Platform interface {
	Name() string
	// Section is the config section that points the daemon at the fake,
	// with the secrets given by environment.
	Section() (toml string, env []string)
	// Ready reports whether the daemon has connected (Telegram: its first
	// getUpdates; Discord: a gateway session; Slack: a Socket Mode
	// connection).
	Ready() bool
	// Send delivers text from user i to the bot in their private chat.
	Send(i int, text string)
	// Reply is what the bot has shown in chat i so far.
	Reply(i int) ReplyView
	// Counts summarises the calls the fake received.
	Counts() CallCounts
	Budget() Budget
	Close()
}

// ReplyView is the bot's messages in one chat.
type ReplyView struct {
	Texts []string
	// FirstAt is when the fake received the first of them (the platform's
	// round trip back to the daemon is not included).
	FirstAt time.Time
	Edits   int
}

// CallCounts summarises a fake's call log.
type CallCounts struct {
	Early    int            // calls sent while a retry_after told to the daemon was open
	TooMany  int            // 429 answers
	ByMethod map[string]int // 429 answers by method or route
	// Limited are the arrival times of the successful calls that count
	// against the bridge-wide budget.
	Limited []time.Time
}

// Budget is a platform's published limits, as the fake enforces them.
type Budget struct {
	Text        string        // for the report
	MinEdit     time.Duration // between edits of one message
	BridgeRate  float64       // calls per second of the bridge-wide limit on Limited calls
	BridgeBurst int           // and its burst
}

// newPlatform starts the fake of a platform with chats users.
func newPlatform(name string, chats int) (Platform, error) {
	switch name {
	case "telegram":
		return newTelegram(chats), nil
	case "discord":
		return newDiscord(chats), nil
	case "slack":
		return newSlack(chats), nil
	}
	return nil, fmt.Errorf("unknown platform %q", name)
}

// ---- Telegram ----

// telegramPlatform is the Telegram fake with its flood limits on and one
// private chat per user.
type telegramPlatform struct {
	fake  *telegramtest.Server
	users []telegramtest.User
}

// newTelegram starts the Telegram fake with chats users.
func newTelegram(chats int) *telegramPlatform {
	p := &telegramPlatform{fake: telegramtest.NewServer(telegramtest.Options{
		ChatLimit:   telegramtest.Limit{Every: time.Second, Burst: 3},
		GlobalLimit: telegramtest.Limit{Every: time.Second / 30, Burst: 30},
	})}
	for i := range chats {
		p.users = append(p.users, telegramtest.User{ID: int64(100_000 + i), FirstName: "Load" + strconv.Itoa(i)})
	}
	return p
}

func (p *telegramPlatform) Name() string { return "telegram" }

func (p *telegramPlatform) Section() (string, []string) {
	ids := make([]string, len(p.users))
	for i, u := range p.users {
		ids[i] = strconv.FormatInt(u.ID, 10)
	}
	return fmt.Sprintf("[telegram]\nenabled = true\napi_url = %q\nallowed_users = [%s]\nowners = [%s]\n",
		p.fake.URL(), strings.Join(ids, ", "), ids[0]), []string{"TELEGRAM_BOT_TOKEN=" + p.fake.Token()}
}

func (p *telegramPlatform) Ready() bool { return len(p.fake.CallsTo("getUpdates")) > 0 }

func (p *telegramPlatform) Send(i int, text string) {
	p.fake.SendText(telegramtest.PrivateChat(p.users[i]), p.users[i], text)
}

func (p *telegramPlatform) Reply(i int) ReplyView {
	var v ReplyView
	for _, m := range p.fake.Messages(p.users[i].ID) {
		if v.FirstAt.IsZero() {
			v.FirstAt = m.SentAt
		}
		v.Texts = append(v.Texts, m.Text)
		v.Edits += m.Edits
	}
	return v
}

func (p *telegramPlatform) Counts() CallCounts {
	c := CallCounts{Early: len(p.fake.EarlyCalls()), ByMethod: map[string]int{}}
	for _, call := range p.fake.Calls() {
		if call.ErrorCode == 429 {
			c.TooMany++
			c.ByMethod[call.Method]++
		}
		switch call.Method {
		case "sendMessage", "editMessageText", "sendChatAction", "sendDocument", "sendMessageDraft":
			if call.OK {
				c.Limited = append(c.Limited, call.At)
			}
		}
	}
	return c
}

func (p *telegramPlatform) Budget() Budget {
	return Budget{Text: "1 msg/s per chat (burst 3), 30/s per bot; edit ≥1 s apart", MinEdit: time.Second, BridgeRate: 30, BridgeBurst: 30}
}

func (p *telegramPlatform) Close() { p.fake.Close() }

// ---- Discord ----

// discordPlatform is the Discord fake (REST and gateway) with its limits
// on and one DM channel per user, created up front.
type discordPlatform struct {
	fake     *discordtest.Server
	users    []discordtest.User
	channels []string
	botID    string
}

// newDiscord starts the Discord fake with chats users.
func newDiscord(chats int) *discordPlatform {
	p := &discordPlatform{fake: discordtest.NewServer(discordtest.Options{
		ChannelLimit: discordtest.Limit{Every: time.Second, Burst: 5},
		GlobalLimit:  discordtest.Limit{Every: time.Second / 50, Burst: 50},
	})}
	p.botID = p.fake.Bot().ID
	for i := range chats {
		u := discordtest.User{ID: strconv.Itoa(300_000_000_000_000_000 + i), Username: "load" + strconv.Itoa(i)}
		p.users = append(p.users, u)
		p.channels = append(p.channels, p.fake.DM(u).ID)
	}
	return p
}

func (p *discordPlatform) Name() string { return "discord" }

func (p *discordPlatform) Section() (string, []string) {
	ids := make([]string, len(p.users))
	for i, u := range p.users {
		ids[i] = u.ID
	}
	return fmt.Sprintf("[discord]\nenabled = true\napi_url = %q\nallowed_users = %s\nowners = [%q]\n",
		p.fake.URL(), tomlList(ids), ids[0]), []string{"DISCORD_BOT_TOKEN=" + p.fake.Token()}
}

func (p *discordPlatform) Ready() bool { return p.fake.Connected() }

func (p *discordPlatform) Send(i int, text string) { p.fake.SendDM(p.users[i], text) }

func (p *discordPlatform) Reply(i int) ReplyView {
	var v ReplyView
	for _, m := range p.fake.Messages(p.channels[i]) {
		if m.Author.ID != p.botID {
			continue
		}
		if v.FirstAt.IsZero() {
			v.FirstAt = m.SentAt
		}
		v.Texts = append(v.Texts, m.Content)
		v.Edits += m.Edits
	}
	return v
}

func (p *discordPlatform) Counts() CallCounts {
	c := CallCounts{Early: len(p.fake.EarlyCalls()), ByMethod: map[string]int{}}
	for _, call := range p.fake.Calls() {
		if call.Status == 429 {
			c.TooMany++
			c.ByMethod[call.Route]++
		}
		switch call.Route {
		case discordtest.RouteCreateMessage, discordtest.RouteEditMessage, discordtest.RouteTyping:
			if call.Status < 300 {
				c.Limited = append(c.Limited, call.At)
			}
		}
	}
	return c
}

func (p *discordPlatform) Budget() Budget {
	return Budget{Text: "5 per 5 s per channel, 50/s global; edit ≥1 s apart", MinEdit: time.Second, BridgeRate: 50, BridgeBurst: 50}
}

func (p *discordPlatform) Close() { p.fake.Close() }

// ---- Slack ----

// slackPlatform is the Slack fake (Web API and Socket Mode) with the
// documented method tiers on and one DM per user.
type slackPlatform struct {
	fake  *slacktest.Server
	users []string
	bot   string
}

// newSlack starts the Slack fake with chats users.
func newSlack(chats int) *slackPlatform {
	perMethod, perChannel := slacktest.SlackLimits()
	p := &slackPlatform{fake: slacktest.NewServer(slacktest.Options{Limits: perMethod, ChannelLimits: perChannel})}
	p.bot = p.fake.Options().BotUserID
	for i := range chats {
		p.users = append(p.users, fmt.Sprintf("U%09d", 100_000+i))
	}
	return p
}

func (p *slackPlatform) Name() string { return "slack" }

func (p *slackPlatform) Section() (string, []string) {
	return fmt.Sprintf("[slack]\nenabled = true\napi_url = %q\nallowed_users = %s\nowners = [%q]\n",
			p.fake.APIURL(), tomlList(p.users), p.users[0]),
		[]string{"SLACK_BOT_TOKEN=" + p.fake.BotToken(), "SLACK_APP_TOKEN=" + p.fake.AppToken()}
}

func (p *slackPlatform) Ready() bool { return p.fake.Connections() > 0 }

func (p *slackPlatform) Send(i int, text string) { p.fake.SendDM(p.users[i], text) }

func (p *slackPlatform) Reply(i int) ReplyView {
	var v ReplyView
	for _, m := range p.fake.Messages(slacktest.DMChannel(p.users[i])) {
		if m.User != p.bot {
			continue
		}
		if v.FirstAt.IsZero() {
			v.FirstAt = m.PostedAt
		}
		v.Texts = append(v.Texts, m.Text)
		v.Edits += m.Edits
	}
	return v
}

func (p *slackPlatform) Counts() CallCounts {
	c := CallCounts{Early: len(p.fake.EarlyCalls()), ByMethod: map[string]int{}}
	for _, call := range p.fake.Calls() {
		if call.Status == 429 {
			c.TooMany++
			c.ByMethod[call.Method]++
		}
		if call.Method == "chat.update" && call.OK {
			c.Limited = append(c.Limited, call.At)
		}
	}
	return c
}

func (p *slackPlatform) Budget() Budget {
	return Budget{Text: "chat.update 50/min per workspace, postMessage 1/s per channel (burst 3); edit ≥1.2 s apart",
		MinEdit: 1200 * time.Millisecond, BridgeRate: 50.0 / 60, BridgeBurst: 50}
}

func (p *slackPlatform) Close() { p.fake.Close() }
