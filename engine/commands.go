package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// command is one entry of the chat command table. The table is data: the
// same entries drive /help, platform registration and dispatch.
type command struct {
	name, usage, desc string
	ownerOnly         bool // only the platform's owners may use it
	privateOnly       bool // only in a DM / private chat
	setting           bool // changes a setting: its replies are only for the user
	// secretArgs: the arguments are a secret, so the message carrying
	// them is deleted where the platform allows, even when refused.
	secretArgs bool
	run        func(ctx context.Context, c *cmdCtx) error
}

// cmdCtx is what a command runs with.
type cmdCtx struct {
	e    *Engine
	r    Replier
	ev   *Event
	args string
}

// say replies with Markdown text.
func (c *cmdCtx) say(ctx context.Context, text string) {
	c.e.reply(ctx, c.r, c.ev, text)
}

// setSetting sets one setting of the event's chat ("" resets it) and
// records the change as the event's user's.
func (c *cmdCtx) setSetting(ctx context.Context, name, value string) error {
	_, err := c.e.store.SetSetting(ctx, SettingChange{Key: c.ev.Key(), User: c.ev.User, Name: name, New: value})
	return err
}

// sayPrivately replies so only the user sees it where the platform can.
func (c *cmdCtx) sayPrivately(ctx context.Context, text string) {
	c.e.replyWith(ctx, c.r, c.ev, Outgoing{Text: text, Ephemeral: true})
}

type commandTable struct {
	list   []*command
	byName map[string]*command
}

func newCommandTable() *commandTable {
	t := &commandTable{byName: make(map[string]*command)}
	for _, c := range []*command{
		{name: "help", desc: "list the commands", run: cmdHelp},
		{name: "new", desc: "start a fresh conversation in this channel", run: cmdNew},
		{name: "model", usage: "[id]", desc: "show or set the model of this conversation", setting: true, run: cmdModel},
		{name: "models", usage: "[filter]", desc: "list models with context length and price", run: cmdModels},
		{name: "temperature", usage: "[0..2]", desc: "show or set the temperature", setting: true, run: settingCmd(SettingTemperature)},
		{name: "maxtokens", usage: "[n]", desc: "show or set the reply's max tokens", setting: true, run: settingCmd(SettingMaxTokens)},
		{name: "system", usage: "[text|reset]", desc: "show, set or reset the system prompt", setting: true, run: cmdSystem},
		{name: "settings", usage: "[history]", desc: "all settings of this conversation and where each comes from", setting: true, run: cmdSettings},
		{name: "retry", desc: "regenerate the last reply", run: cmdRetry},
		{name: "stop", desc: "cancel the reply in progress", run: nil},
		{name: "usage", desc: "tokens and cost: this conversation, today and this month", run: cmdUsage},
		{name: "status", desc: "health of the bot", run: cmdStatus},
		{name: "export", desc: "this conversation as a Markdown file", run: cmdExport},
		{name: "forget", usage: "[confirm]", desc: "delete this channel's conversations (asks first)", run: cmdForget},
		{name: "streaming", usage: "[on|off]", desc: "stream replies by edits, or send them finished", setting: true, run: settingCmd(SettingStreaming)},
		{name: "title", usage: "[text]", desc: "show or set the conversation's title", run: cmdTitle},
		{name: "tag", usage: "add|remove|list [tag]", desc: "manage the conversation's tags", run: cmdTag},
		{name: "apikey", usage: "<key>|reset", desc: "owner only, in private: replace the OpenRouter API key", ownerOnly: true, privateOnly: true, setting: true, secretArgs: true, run: cmdAPIKey},
	} {
		t.list = append(t.list, c)
		t.byName[c.name] = c
	}
	return t
}

func (t *commandTable) lookup(name string) *command { return t.byName[strings.ToLower(name)] }

func (t *commandTable) specs() []CommandSpec {
	out := make([]CommandSpec, len(t.list))
	for i, c := range t.list {
		out[i] = CommandSpec{Name: c.name, Usage: c.usage, Description: c.desc, Ephemeral: c.setting}
	}
	return out
}

// runCommand checks a command's restrictions and runs it on the
// conversation's worker.
func (e *Engine) runCommand(ctx context.Context, r Replier, ev *Event, cmd *command) {
	c := &cmdCtx{e: e, r: r, ev: ev, args: strings.TrimSpace(ev.Text)}
	if cmd.ownerOnly && !e.isOwner(ev) {
		c.say(ctx, fmt.Sprintf("/%s is for the bot's owner only.", cmd.name)+c.scrub(ctx, cmd))
		return
	}
	if cmd.privateOnly && !ev.Private {
		c.say(ctx, fmt.Sprintf("/%s works only in a private chat with the bot.", cmd.name)+c.scrub(ctx, cmd))
		return
	}
	if err := cmd.run(ctx, c); err != nil {
		text, ref := SafeMessage(err)
		e.logError("command failed", err, "command", cmd.name, "ref", ref)
		c.say(ctx, text)
	}
}

// scrub deletes a refused command's message when its arguments are a
// secret, and says what happened to it.
func (c *cmdCtx) scrub(ctx context.Context, cmd *command) string {
	if !cmd.secretArgs || c.args == "" || strings.EqualFold(c.args, "reset") {
		return ""
	}
	return " " + c.deleteKeyMessage(ctx)
}

func (e *Engine) isOwner(ev *Event) bool {
	return slices.Contains(e.opts.Access[ev.Platform].Owners, ev.User)
}

func cmdHelp(ctx context.Context, c *cmdCtx) error {
	var b strings.Builder
	b.WriteString("**Commands**\n")
	for _, cmd := range c.e.cmds.list {
		fmt.Fprintf(&b, "/%s", cmd.name)
		if cmd.usage != "" {
			b.WriteString(" " + cmd.usage)
		}
		b.WriteString(" — " + cmd.desc + "\n")
	}
	b.WriteString("\nAny other message is sent to the model.")
	c.say(ctx, b.String())
	return nil
}

func cmdNew(ctx context.Context, c *cmdCtx) error {
	if _, err := c.e.store.NewConversation(ctx, c.ev.Key()); err != nil {
		return NewSafeError("Could not start a new conversation.", fmt.Errorf("new conversation: %w", err))
	}
	c.say(ctx, "Started a new conversation. The earlier one is kept in storage and in exports.")
	return nil
}

// settingCmd shows or sets one simple setting.
func settingCmd(name string) func(context.Context, *cmdCtx) error {
	return func(ctx context.Context, c *cmdCtx) error {
		set, stored, err := c.e.settings(ctx, c.ev.Key())
		if err != nil {
			return NewSafeError("Could not load the settings.", err)
		}
		if c.args == "" {
			c.say(ctx, fmt.Sprintf("%s: %s (%s)", name, set.value(name), source(stored, name)))
			return nil
		}
		v, err := parseSetting(name, c.args)
		if err != nil {
			c.say(ctx, capitalize(err.Error())+".")
			return nil
		}
		if err := c.setSetting(ctx, name, v); err != nil {
			return NewSafeError("Could not save the setting.", fmt.Errorf("set %s: %w", name, err))
		}
		if name == SettingSystem {
			c.sayPrivately(ctx, "System prompt set for this conversation.")
		} else {
			c.sayPrivately(ctx, fmt.Sprintf("%s set to %s for this conversation.", settingLabel(name), v))
		}
		return nil
	}
}

// settingLabel is how a setting is named to users.
func settingLabel(name string) string {
	switch name {
	case SettingTemperature:
		return "Temperature"
	case SettingMaxTokens:
		return "Max tokens"
	case SettingSystem:
		return "System prompt"
	case SettingStreaming:
		return "Streaming"
	case SettingModel:
		return "Model"
	}
	return name
}

func source(stored map[string]string, name string) string {
	if _, ok := stored[name]; ok {
		return "set"
	}
	return "default"
}

func cmdSystem(ctx context.Context, c *cmdCtx) error {
	switch strings.ToLower(c.args) {
	case "":
		set, stored, err := c.e.settings(ctx, c.ev.Key())
		if err != nil {
			return NewSafeError("Could not load the settings.", err)
		}
		c.say(ctx, fmt.Sprintf("System prompt (%s):\n\n%s", source(stored, SettingSystem), quote(set.SystemPrompt)))
		return nil
	case "reset":
		if err := c.setSetting(ctx, SettingSystem, ""); err != nil {
			return NewSafeError("Could not save the setting.", err)
		}
		c.sayPrivately(ctx, "System prompt reset to the default.")
		return nil
	}
	return settingCmd(SettingSystem)(ctx, c)
}

func cmdSettings(ctx context.Context, c *cmdCtx) error {
	if strings.EqualFold(c.args, "history") {
		return cmdSettingsHistory(ctx, c)
	}
	set, stored, err := c.e.settings(ctx, c.ev.Key())
	if err != nil {
		return NewSafeError("Could not load the settings.", err)
	}
	var b strings.Builder
	b.WriteString("**Settings of this conversation**\n")
	for _, name := range settingNames {
		v := set.value(name)
		if name == SettingSystem {
			v = truncateLine(v, 80)
		}
		fmt.Fprintf(&b, "%s: %s (%s)\n", name, v, source(stored, name))
	}
	if _, ok := c.e.prov.(KeyChanger); ok {
		fmt.Fprintf(&b, "%s: %s\n", SettingAPIKey, c.e.apiKey.source())
	}
	c.say(ctx, b.String())
	return nil
}

func cmdRetry(ctx context.Context, c *cmdCtx) error {
	conv, err := c.e.store.ActiveConversation(ctx, c.ev.Key())
	if err != nil {
		return NewSafeError("Could not load the conversation.", err)
	}
	recent, err := c.e.store.RecentMessages(ctx, conv.ID, 20)
	if err != nil {
		return NewSafeError("Could not load the conversation.", err)
	}
	last := -1
	for i := len(recent) - 1; i >= 0; i-- {
		if recent[i].Role == RoleUser {
			last = i
			break
		}
	}
	if last < 0 {
		c.say(ctx, "Nothing to retry yet.")
		return nil
	}
	if last+1 < len(recent) {
		if err := c.e.store.DeleteMessagesFrom(ctx, conv.ID, recent[last+1].ID); err != nil {
			return NewSafeError("Could not remove the earlier reply.", err)
		}
	}
	c.e.runTurn(ctx, c.r, c.ev, recent[last].Content, true)
	return nil
}

// forgetWindow is how long a /forget waits for its confirmation.
const forgetWindow = 2 * time.Minute

// confirmations remembers pending /forget requests per conversation key.
type confirmations struct {
	mu sync.Mutex
	m  map[ConversationKey]time.Time
}

func (cf *confirmations) ask(key ConversationKey) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if cf.m == nil {
		cf.m = make(map[ConversationKey]time.Time)
	}
	cf.m[key] = time.Now().Add(forgetWindow)
}

func (cf *confirmations) take(key ConversationKey) bool {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	until, ok := cf.m[key]
	delete(cf.m, key)
	return ok && time.Now().Before(until)
}

func cmdForget(ctx context.Context, c *cmdCtx) error {
	key := c.ev.Key()
	if strings.EqualFold(c.args, "confirm") {
		if !c.e.confirm.take(key) {
			c.say(ctx, "Nothing to confirm. Send /forget first.")
			return nil
		}
		if err := c.e.store.DeleteConversations(ctx, key); err != nil {
			return NewSafeError("Could not delete the conversations.", fmt.Errorf("forget: %w", err))
		}
		c.say(ctx, "Deleted every conversation of this channel, with its settings.")
		return nil
	}
	convs, err := c.e.store.Conversations(ctx, key)
	if err != nil {
		return NewSafeError("Could not list the conversations.", err)
	}
	c.e.confirm.ask(key)
	c.say(ctx, fmt.Sprintf("This deletes %d conversation(s) of this channel and its settings, for good. "+
		"Send `/forget confirm` within %d minutes to go ahead.", len(convs), int(forgetWindow.Minutes())))
	return nil
}

func cmdTitle(ctx context.Context, c *cmdCtx) error {
	conv, err := c.e.store.ActiveConversation(ctx, c.ev.Key())
	if err != nil {
		return NewSafeError("Could not load the conversation.", err)
	}
	if c.args == "" {
		if conv.Title == "" {
			c.say(ctx, "This conversation has no title yet. Set one with /title <text>.")
		} else {
			c.say(ctx, "Title: "+conv.Title)
		}
		return nil
	}
	conv.Title = truncateLine(c.args, 100)
	if err := c.e.store.UpdateConversation(ctx, conv); err != nil {
		return NewSafeError("Could not save the title.", err)
	}
	c.say(ctx, "Title set: "+conv.Title)
	return nil
}

func cmdTag(ctx context.Context, c *cmdCtx) error {
	conv, err := c.e.store.ActiveConversation(ctx, c.ev.Key())
	if err != nil {
		return NewSafeError("Could not load the conversation.", err)
	}
	verb, tag, _ := strings.Cut(c.args, " ")
	tag = strings.ToLower(strings.TrimSpace(tag))
	switch strings.ToLower(verb) {
	case "", "list":
		if len(conv.Tags) == 0 {
			c.say(ctx, "No tags. Add one with /tag add <tag>.")
		} else {
			c.say(ctx, "Tags: "+strings.Join(conv.Tags, ", "))
		}
		return nil
	case "add", "remove":
		if tag == "" || strings.ContainsAny(tag, " \t\n,") || len(tag) > 32 {
			c.say(ctx, "A tag is one word of at most 32 characters, e.g. /tag add work.")
			return nil
		}
	default:
		c.say(ctx, "Usage: /tag add|remove|list [tag]")
		return nil
	}
	has := slices.Contains(conv.Tags, tag)
	switch {
	case verb == "add" && has, verb == "remove" && !has:
		c.say(ctx, "Tags: "+strings.Join(conv.Tags, ", "))
		return nil
	case verb == "add":
		conv.Tags = append(conv.Tags, tag)
		slices.Sort(conv.Tags)
	default:
		conv.Tags = slices.DeleteFunc(conv.Tags, func(s string) bool { return s == tag })
	}
	if err := c.e.store.UpdateConversation(ctx, conv); err != nil {
		return NewSafeError("Could not save the tags.", err)
	}
	if len(conv.Tags) == 0 {
		c.say(ctx, "No tags left.")
	} else {
		c.say(ctx, "Tags: "+strings.Join(conv.Tags, ", "))
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// truncateLine shortens s to one line of at most n runes, cutting at a
// word boundary when one is in the second half.
func truncateLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[:n-1])
	if i := strings.LastIndexByte(cut, ' '); i > len(cut)/2 {
		cut = strings.TrimRight(cut[:i], ",;:-")
	}
	return cut + "…"
}

func quote(s string) string {
	return "> " + strings.ReplaceAll(s, "\n", "\n> ")
}

// CommandSpecs is the command table every Engine answers, for what must
// describe it without one (the Slack app manifest). Pure.
func CommandSpecs() []CommandSpec { return newCommandTable().specs() }
