package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// historyShown is how many operations /settings history shows.
const historyShown = 20

// settingHistory returns the last n changes that apply to key: its own and
// those of the config's defaults, oldest first. n <= 0 returns them all.
func settingHistory(ctx context.Context, st Store, key ConversationKey, n int) ([]SettingChange, error) {
	own, err := st.SettingChanges(ctx, key, n)
	if err != nil {
		return nil, fmt.Errorf("settings history: %w", err)
	}
	cfg, err := st.SettingChanges(ctx, ConfigKey, n)
	if err != nil {
		return nil, fmt.Errorf("settings history of the config: %w", err)
	}
	all := append(own, cfg...)
	slices.SortStableFunc(all, func(a, b SettingChange) int { return a.At.Compare(b.At) })
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all, nil
}

func cmdSettingsHistory(ctx context.Context, c *cmdCtx) error {
	ops, err := settingHistory(ctx, c.e.store, c.ev.Key(), historyShown)
	if err != nil {
		return NewSafeError("Could not load the settings history.", err)
	}
	if len(ops) == 0 {
		c.say(ctx, "No setting has been changed in this conversation yet.")
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Settings history** (last %d)\n", min(len(ops), historyShown))
	for _, op := range ops {
		b.WriteString(formatChange(op) + "\n")
	}
	c.say(ctx, b.String())
	return nil
}

// formatChange is one line of /settings history: when, who, what.
func formatChange(op SettingChange) string {
	who := "`" + string(op.User) + "`"
	if op.Key == ConfigKey || op.User == ConfigUser {
		who = "config file"
	}
	return fmt.Sprintf("%s · %s · %s: %s → %s", op.At.UTC().Format("2006-01-02 15:04 UTC"), who,
		op.Name, changeValue(op.Old), changeValue(op.New))
}

func changeValue(v string) string {
	if v == "" {
		return "default"
	}
	return "`" + strings.ReplaceAll(truncateLine(v, 40), "`", "'") + "`"
}

// defaultValues are the config's defaults by setting name.
func (s Settings) defaultValues() map[string]string {
	out := make(map[string]string, len(settingNames))
	for _, name := range settingNames {
		out[name] = s.value(name)
	}
	return out
}

// RecordDefaults stores the config's defaults of this start and records
// each one that changed since the previous start in the settings history
// (the first start records nothing). The daemon calls it once at start; it
// blocks on the store.
func (e *Engine) RecordDefaults(ctx context.Context) error {
	changed, err := e.store.SetDefaults(ctx, e.opts.Defaults.defaultValues(), time.Now())
	if err != nil {
		return fmt.Errorf("record the config's defaults: %w", err)
	}
	for _, ch := range changed {
		e.log.Info("config default changed since the last start", "setting", ch.Name,
			"old", truncateLine(ch.Old, 40), "new", truncateLine(ch.New, 40))
	}
	return nil
}

// LoadExport reads everything stored about conversation c for an export:
// its messages and the settings history of its chat (with the config's
// default changes). It blocks on the store.
func LoadExport(ctx context.Context, st Store, c Conversation) (ConversationExport, error) {
	msgs, err := st.Messages(ctx, c.ID)
	if err != nil {
		return ConversationExport{}, fmt.Errorf("export %s: %w", c.ID, err)
	}
	ops, err := settingHistory(ctx, st, c.Key, 0)
	if err != nil {
		return ConversationExport{}, fmt.Errorf("export %s: %w", c.ID, err)
	}
	return ConversationExport{Conversation: c, Messages: msgs, SettingChanges: ops}, nil
}
