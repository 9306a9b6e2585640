package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/health"
)

// check validates the config offline; -online also calls each enabled
// platform's identity endpoint and asks the provider whether its key works,
// a line per check.
func (c *cli) check(ctx context.Context, args []string) error {
	fs := c.flags("check")
	path := fs.String("config", defaultConfig, "config file")
	online := fs.Bool("online", false, "also call each enabled platform's identity endpoint and OpenRouter's key endpoint")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: configuration is valid\n", *path)
	for _, m := range cfg.MissingForRun() {
		fmt.Fprintf(c.stdout, "note: to run, set %s\n", m)
	}
	if !*online {
		return nil
	}
	failed := false
	report := func(name string, err error, ok string) {
		if err != nil {
			failed = true
			fmt.Fprintf(c.stdout, "%s: FAIL: %s\n", name, err)
			return
		}
		fmt.Fprintf(c.stdout, "%s: ok (%s)\n", name, ok)
	}
	quiet := newLogger(c.stderr, 12)
	tracker := health.NewTracker()
	if cfg.Telegram.Enabled {
		br, err := newTelegram(cfg, tracker, quiet)
		report("telegram", err, fmt.Sprintf("bot @%s", usernameOf(br, err)))
	}
	if cfg.Discord.Enabled {
		br, err := newDiscord(ctx, cfg, tracker, quiet)
		report("discord", err, fmt.Sprintf("bot %s", usernameOf(br, err)))
	}
	if cfg.Slack.Enabled {
		br, err := newSlack(ctx, cfg, tracker, quiet)
		report("slack", err, fmt.Sprintf("bot user %s", botUserOf(br, err)))
	}
	if cfg.OpenRouter.APIKey == "" {
		report("openrouter", errors.New("no API key to check (set OPENROUTER_API_KEY)"), "")
	} else if info, err := newProvider(cfg, quiet).Key(ctx); err != nil {
		report("openrouter", fmt.Errorf("OPENROUTER_API_KEY / openrouter.api_key: %s", engineSafe(err)), "")
	} else {
		limit := "no limit"
		if info.Limit != nil {
			limit = fmt.Sprintf("limit $%.2f", *info.Limit)
			if info.LimitRemaining != nil {
				limit += fmt.Sprintf(", $%.2f left", *info.LimitRemaining)
			}
		}
		report("openrouter", nil, fmt.Sprintf("key %q, used $%.2f, %s", info.Label, info.Usage, limit))
	}
	if failed {
		return errors.New("an online check failed")
	}
	return nil
}

// usernameOf is a connected bridge's user name, for check -online.
func usernameOf(br interface{ Username() string }, err error) string {
	if err != nil {
		return ""
	}
	return br.Username()
}

func botUserOf(br interface{ BotUserID() string }, err error) string {
	if err != nil {
		return ""
	}
	return br.BotUserID()
}

func engineSafe(err error) string {
	if pe, ok := engine.AsProviderError(err); ok {
		return pe.Safe()
	}
	return err.Error()
}

// export writes conversations as JSON (the contract's format) or Markdown.
func (c *cli) export(ctx context.Context, args []string) error {
	fs := c.flags("export")
	path := fs.String("config", defaultConfig, "config file")
	conv := fs.String("conversation", "", "a conversation id or key (platform:chat[:thread]); default: all")
	format := fs.String("format", "json", "json or md")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *format != "json" && *format != "md" {
		return usagef("-format %q: accepted: json or md", *format)
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, newLogger(c.stderr, 8))
	if err != nil {
		return err
	}
	defer st.Close()

	convs, err := selectConversations(ctx, st, *conv)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.stdout)
	var all []engine.ConversationExport
	for i, cv := range convs {
		msgs, err := st.Messages(ctx, cv.ID)
		if err != nil {
			return fmt.Errorf("export %s: %w", cv.ID, err)
		}
		if *format == "md" {
			if i > 0 {
				fmt.Fprint(w, "\n---\n\n")
			}
			if err := engine.ExportMarkdown(w, cv, msgs); err != nil {
				return fmt.Errorf("export %s: %w", cv.ID, err)
			}
			continue
		}
		all = append(all, engine.ConversationExport{Conversation: cv, Messages: msgs})
	}
	if *format == "json" {
		if *conv != "" && len(all) == 1 {
			err = engine.ExportJSON(w, all[0].Conversation, all[0].Messages)
		} else {
			err = engine.ExportJSONMany(w, all)
		}
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	return w.Flush()
}

// selectConversations finds the conversations named by sel: one id, every
// conversation of a key, or all when sel is empty.
func selectConversations(ctx context.Context, st engine.Store, sel string) ([]engine.Conversation, error) {
	if sel == "" {
		return st.Conversations(ctx, "")
	}
	if cv, err := st.Conversation(ctx, engine.ConversationID(sel)); err == nil {
		return []engine.Conversation{cv}, nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return nil, err
	}
	convs, err := st.Conversations(ctx, engine.ConversationKey(sel))
	if err != nil {
		return nil, err
	}
	if len(convs) == 0 {
		return nil, usagef("-conversation %q: no conversation has that id or key", sel)
	}
	return convs, nil
}

// backup writes a consistent copy of the database to -out.
func (c *cli) backup(ctx context.Context, args []string) error {
	fs := c.flags("backup")
	path := fs.String("config", defaultConfig, "config file")
	out := fs.String("out", "", "the backup file to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("-out FILE is required")
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, newLogger(c.stderr, 8))
	if err != nil {
		return err
	}
	defer st.Close()
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := st.Backup(ctx, f); err != nil {
		f.Close()
		os.Remove(*out)
		return fmt.Errorf("backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(c.stdout, "backup written to %s\n", *out)
	return nil
}

// restore loads a backup into an empty data directory.
func (c *cli) restore(ctx context.Context, args []string) error {
	fs := c.flags("restore")
	path := fs.String("config", defaultConfig, "config file")
	in := fs.String("in", "", "the backup file to load")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("-in FILE is required")
	}
	cfg, err := c.loadConfig(*path)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(cfg.Storage.Dir); err == nil && len(entries) > 0 {
		return usagef("storage.dir %s is not empty; restore only into an empty data directory", cfg.Storage.Dir)
	}
	f, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	st, err := openStore(ctx, cfg, newLogger(c.stderr, 8))
	if err != nil {
		return err
	}
	if err := st.Restore(ctx, f); err != nil {
		st.Close()
		return fmt.Errorf("restore: %w", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(c.stdout, "restored %s into %s\n", *in, cfg.Storage.Dir)
	return nil
}
