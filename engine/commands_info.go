package engine

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

func cmdModel(ctx context.Context, c *cmdCtx) error {
	key := c.ev.Key()
	if c.args == "" {
		set, stored, err := c.e.settings(ctx, key)
		if err != nil {
			return NewSafeError("Could not load the settings.", err)
		}
		c.e.replyWith(ctx, c.r, c.ev, Outgoing{
			Text:    fmt.Sprintf("Model: `%s` (%s). Change it with /model <id>; see /models.", set.Model, source(stored, SettingModel)),
			Buttons: c.e.modelButtons(ctx, key, set.Model),
		})
		return nil
	}
	id := strings.Fields(c.args)[0]
	models, err := c.e.prov.Models(ctx)
	if err != nil {
		return NewSafeError("Could not fetch the model list to check that id; the model was not changed.", fmt.Errorf("models: %w", err))
	}
	found := false
	for _, m := range models {
		if m.ID == id {
			found = true
			break
		}
	}
	if !found {
		msg := fmt.Sprintf("Unknown model `%s`; the model was not changed.", id)
		if close := closeMatches(id, models, 5); len(close) > 0 {
			msg += " Did you mean:\n"
			for _, m := range close {
				msg += "- `" + m + "`\n"
			}
		} else {
			msg += " See /models for the list."
		}
		c.say(ctx, msg)
		return nil
	}
	if err := c.setSetting(ctx, SettingModel, id); err != nil {
		return NewSafeError("Could not save the model.", err)
	}
	c.sayPrivately(ctx, fmt.Sprintf("Model set to `%s` for this conversation.", id))
	return nil
}

// popularModels are offered under /model besides the current and recently
// used ones, when the catalogue has them.
func popularModels() []string {
	return []string{"openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-3.5-sonnet",
		"google/gemini-flash-1.5", "meta-llama/llama-3.1-70b-instruct", "deepseek/deepseek-chat"}
}

// maxModelButtons bounds the /model keyboard.
const maxModelButtons = 8

// modelButtons offers the current model, the ones recently used in this
// conversation and popular ones, one per row.
func (e *Engine) modelButtons(ctx context.Context, key ConversationKey, current string) [][]Button {
	ids := []string{current}
	if conv, err := e.store.ActiveConversation(ctx, key); err == nil {
		if msgs, err := e.store.RecentMessages(ctx, conv.ID, 50); err == nil {
			for i := len(msgs) - 1; i >= 0; i-- {
				if msgs[i].Role == RoleAssistant && msgs[i].Model != "" {
					ids = append(ids, msgs[i].Model)
				}
			}
		}
	}
	known := map[string]bool{}
	if models, err := e.prov.Models(ctx); err == nil {
		for _, m := range models {
			known[m.ID] = true
		}
	}
	for _, id := range popularModels() {
		if known[id] {
			ids = append(ids, id)
		}
	}
	var rows [][]Button
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] || len(rows) == maxModelButtons {
			continue
		}
		seen[id] = true
		label := id
		if id == current {
			label = "✓ " + id
		}
		rows = append(rows, []Button{{Label: label, Command: "/model " + id}})
	}
	return rows
}

// closeMatches returns up to n model ids close to id: ids containing it
// first, then by edit distance (over the whole id and over the part after
// the vendor's slash).
func closeMatches(id string, models []ModelInfo, n int) []string {
	q := strings.ToLower(id)
	type scored struct {
		id    string
		score int
	}
	var cands []scored
	for _, m := range models {
		mid := strings.ToLower(m.ID)
		_, short, _ := strings.Cut(mid, "/")
		d := min(levenshtein(q, mid), levenshtein(q, short))
		if _, qs, ok := strings.Cut(q, "/"); ok {
			d = min(d, levenshtein(qs, short))
		}
		switch {
		case strings.Contains(mid, q) || (len(q) >= 3 && strings.Contains(q, short)):
			cands = append(cands, scored{m.ID, -1})
		case d <= max(3, len([]rune(q))/3):
			cands = append(cands, scored{m.ID, d})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].score != cands[j].score {
			return cands[i].score < cands[j].score
		}
		return cands[i].id < cands[j].id
	})
	out := make([]string, 0, n)
	for _, c := range cands {
		if len(out) == n {
			break
		}
		out = append(out, c.id)
	}
	return out
}

// levenshtein is the edit distance of a and b, in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// modelsShown is the most /models lists at once.
const modelsShown = 25

func cmdModels(ctx context.Context, c *cmdCtx) error {
	models, err := c.e.prov.Models(ctx)
	if err != nil {
		return NewSafeError("Could not fetch the model list.", fmt.Errorf("models: %w", err))
	}
	q := strings.ToLower(c.args)
	var match []ModelInfo
	for _, m := range models {
		if q == "" || strings.Contains(strings.ToLower(m.ID), q) || strings.Contains(strings.ToLower(m.Name), q) {
			match = append(match, m)
		}
	}
	if len(match) == 0 {
		c.say(ctx, fmt.Sprintf("No model matches %q.", c.args))
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Models** (%d", len(match))
	if q != "" {
		fmt.Fprintf(&b, " matching %q", c.args)
	}
	b.WriteString("; price in USD per million tokens, in/out)\n")
	for i, m := range match {
		if i == modelsShown {
			fmt.Fprintf(&b, "…and %d more; narrow the list with /models <filter>.\n", len(match)-modelsShown)
			break
		}
		fmt.Fprintf(&b, "`%s` — %s context — $%s / $%s\n", m.ID, humanTokens(m.ContextLength),
			perMillion(m.PromptPrice), perMillion(m.CompletionPrice))
	}
	c.say(ctx, b.String())
	return nil
}

func humanTokens(n int) string {
	switch {
	case n <= 0:
		return "?"
	case n >= 1_000_000:
		return fmt.Sprintf("%gM", float64(n/100_000)/10)
	case n >= 1000:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func perMillion(perToken float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", perToken*1e6), "0"), ".")
}

func cmdUsage(ctx context.Context, c *cmdCtx) error {
	conv, err := c.e.store.ActiveConversation(ctx, c.ev.Key())
	if err != nil {
		return NewSafeError("Could not load the conversation.", err)
	}
	now := time.Now().UTC()
	today, err := c.e.store.UsageOn(ctx, now.Format(time.DateOnly), "")
	if err != nil {
		return NewSafeError("Could not load the usage.", err)
	}
	var month UsageDay
	for d := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC); !d.After(now); d = d.AddDate(0, 0, 1) {
		u, err := c.e.store.UsageOn(ctx, d.Format(time.DateOnly), "")
		if err != nil {
			return NewSafeError("Could not load the usage.", err)
		}
		month.Requests += u.Requests
		month.Usage = month.Usage.Add(u.Usage)
	}
	c.say(ctx, fmt.Sprintf("**Usage**\nThis conversation: %d tokens, $%.4f, %d messages\n"+
		"Today (UTC, all chats): %d requests, %d tokens, $%.4f\n"+
		"This month (all chats): %d requests, %d tokens, $%.4f",
		conv.TotalTokens, conv.Cost, conv.MessageCount,
		today.Requests, today.TotalTokens, today.Cost,
		month.Requests, month.TotalTokens, month.Cost))
	return nil
}

func cmdStatus(ctx context.Context, c *cmdCtx) error {
	c.say(ctx, c.e.statusText(ctx))
	return nil
}

// statusText renders the health snapshot compactly. It calls no model;
// the key's credit comes from the provider's key endpoint, cached.
func (e *Engine) statusText(ctx context.Context) string {
	snap := e.Snapshot(ctx)
	var b strings.Builder
	fmt.Fprintf(&b, "**Status: %s**\n", snap.Status)
	fmt.Fprintf(&b, "Uptime %s · memory %d MB · CPU %.0f%% · %d goroutines", time.Duration(snap.UptimeSeconds*float64(time.Second)).Round(time.Second),
		snap.MemoryBytes>>20, snap.CPUPercent, snap.Goroutines)
	if snap.OpenFiles >= 0 {
		fmt.Fprintf(&b, " · %d open files", snap.OpenFiles)
	}
	b.WriteString("\n")
	for _, comp := range snap.Components {
		fmt.Fprintf(&b, "%s: %s", comp.Name, comp.State)
		if comp.LastError != "" {
			fmt.Fprintf(&b, " (%s)", comp.LastError)
		}
		b.WriteString("\n")
	}
	p := snap.Provider
	if p.Calls == 0 {
		b.WriteString("Model API: no calls yet\n")
	} else {
		fmt.Fprintf(&b, "Model API: %d calls, latency mean %d ms, p95 %d ms, errors %.0f%% (last %d)\n",
			p.Calls, p.LatencyMeanMS, p.LatencyP95MS, p.ErrorRate*100, min(p.Calls, latencyWindow))
	}
	if credit := e.keyCredit(ctx); credit != "" {
		b.WriteString("OpenRouter key: " + credit + "\n")
	}
	if caps := e.capsText(ctx); caps != "" {
		b.WriteString(caps + "\n")
	}
	fmt.Fprintf(&b, "Platform rate limits hit: %d · replies in progress: %d\n", p.RateLimitHits, snap.ActiveStreams)
	fmt.Fprintf(&b, "Storage: %d conversations, %.1f MB, %d corrupt records\n",
		snap.Conversations, float64(snap.StorageBytes)/(1<<20), snap.CorruptRecords)
	if at := e.LastBackup(); at.IsZero() {
		b.WriteString("Last backup: none yet")
	} else {
		fmt.Fprintf(&b, "Last backup: %s ago", time.Since(at).Round(time.Minute))
	}
	return b.String()
}

// keyReporter is a provider that can tell its key's credit.
type keyReporter interface {
	Key(ctx context.Context) (KeyInfo, error)
}

// keyCacheFor is how long the key's credit is reused.
const keyCacheFor = 5 * time.Minute

// keyCredit is the key's remaining credit in words, cached; empty when the
// provider cannot say.
func (e *Engine) keyCredit(ctx context.Context) string {
	kr, ok := e.prov.(keyReporter)
	if !ok {
		return ""
	}
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	if time.Since(e.keyAt) < keyCacheFor && e.keyText != "" {
		return e.keyText
	}
	kctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	info, err := kr.Key(kctx)
	if err != nil {
		return "credit unknown (the key endpoint failed)"
	}
	switch {
	case info.Limit == nil:
		e.keyText = fmt.Sprintf("$%.2f used, no limit", info.Usage)
	case info.LimitRemaining != nil:
		e.keyText = fmt.Sprintf("$%.2f of $%.2f left", *info.LimitRemaining, *info.Limit)
	default:
		e.keyText = fmt.Sprintf("$%.2f used of $%.2f", info.Usage, *info.Limit)
	}
	e.keyAt = time.Now()
	return e.keyText
}

// SetLastBackup records when the last backup succeeded (for /status).
// Safe for concurrent use.
func (e *Engine) SetLastBackup(at time.Time) {
	e.keyMu.Lock()
	e.lastBackup = at
	e.keyMu.Unlock()
}

// LastBackup is when the last backup succeeded; zero if none.
func (e *Engine) LastBackup() time.Time {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	return e.lastBackup
}

func cmdExport(ctx context.Context, c *cmdCtx) error {
	conv, err := c.e.store.ActiveConversation(ctx, c.ev.Key())
	if err != nil {
		return NewSafeError("Could not load the conversation.", err)
	}
	x, err := LoadExport(ctx, c.e.store, conv)
	if err != nil {
		return NewSafeError("Could not load the messages.", err)
	}
	msgs := x.Messages
	var buf bytes.Buffer
	if err := ExportMarkdown(&buf, x); err != nil {
		return NewSafeError("Could not export the conversation.", err)
	}
	name := fmt.Sprintf("conversation-%s.md", conv.ID)
	if up, ok := c.r.(Uploader); ok {
		if err := up.Upload(ctx, name, buf.Bytes(), fmt.Sprintf("%d messages", len(msgs))); err != nil {
			return NewSafeError("Could not send the export file.", fmt.Errorf("upload export: %w", err))
		}
		return nil
	}
	c.say(ctx, buf.String())
	return nil
}

// CompleteModels returns up to limit models of the catalogue that match what
// the user has typed so far (case-insensitive): ids that start with it
// first, then ids or names that contain it, each in catalogue order. With
// nothing typed it offers the popular models first. It blocks while the
// catalogue is fetched (the provider caches it); safe for concurrent use.
func (e *Engine) CompleteModels(ctx context.Context, typed string, limit int) ([]ModelInfo, error) {
	models, err := e.prov.Models(ctx)
	if err != nil {
		return nil, fmt.Errorf("complete models: %w", err)
	}
	typed = strings.ToLower(strings.TrimSpace(typed))
	var first, then []ModelInfo
	if typed == "" {
		byID := make(map[string]ModelInfo, len(models))
		for _, m := range models {
			byID[m.ID] = m
		}
		for _, id := range popularModels() {
			if m, ok := byID[id]; ok {
				first = append(first, m)
				delete(byID, id)
			}
		}
		for _, m := range models {
			if _, ok := byID[m.ID]; ok {
				then = append(then, m)
			}
		}
	} else {
		for _, m := range models {
			id := strings.ToLower(m.ID)
			switch {
			case strings.HasPrefix(id, typed) || strings.HasPrefix(id[strings.IndexByte(id, '/')+1:], typed):
				first = append(first, m)
			case strings.Contains(id, typed) || strings.Contains(strings.ToLower(m.Name), typed):
				then = append(then, m)
			}
		}
	}
	out := append(first, then...)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
