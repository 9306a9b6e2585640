package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/chatbridge/chatbridge/cmd/chatbridge/internal/config"
	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/health"
	"github.com/chatbridge/chatbridge/storage"
)

// check validates the config offline; -online also calls each enabled
// platform's identity endpoint and asks the provider whether its key works,
// a line per check.
func (c *cli) check(ctx context.Context, args []string) error {
	fs := c.flags("check")
	path := fs.String("config", defaultConfig, "config file")
	online := fs.Bool("online", false, "also call each enabled platform's identity endpoint and OpenRouter's key endpoint")
	verify := fs.Bool("storage", false, "also verify the checksum of every stored record (the daemon must be stopped)")
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
	if *verify {
		if err := c.verifyStorage(ctx, cfg); err != nil {
			return err
		}
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

// verifyStorage checks every stored record's checksum (check -storage). It
// reads the whole database, which is why run does not do it at start: a
// read that finds a corrupt record skips it and counts it in /status.
func (c *cli) verifyStorage(ctx context.Context, cfg *config.Config) error {
	st, err := openStore(ctx, cfg, newLogger(c.stderr, 8))
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	n, err := st.Verify(ctx)
	if err != nil {
		return fmt.Errorf("verify storage: %w", err)
	}
	if n > 0 {
		fmt.Fprintf(c.stdout, "storage: %d corrupt records in %s (they are skipped; restore a backup to get them back)\n", n, cfg.Storage.Dir)
		return errors.New("storage has corrupt records")
	}
	fmt.Fprintf(c.stdout, "storage: every record in %s is intact (checked in %s)\n", cfg.Storage.Dir, time.Since(start).Round(time.Millisecond))
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
	list := fs.Bool("list", false, "list the conversations (id, chat, last update, messages, cost, title, tags) instead")
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
	if *list {
		listConversations(w, convs)
		return w.Flush()
	}
	var all []engine.ConversationExport
	for i, cv := range convs {
		x, err := engine.LoadExport(ctx, st, cv)
		if err != nil {
			return err
		}
		if *format == "md" {
			if i > 0 {
				fmt.Fprint(w, "\n---\n\n")
			}
			if err := engine.ExportMarkdown(w, x); err != nil {
				return fmt.Errorf("export %s: %w", cv.ID, err)
			}
			continue
		}
		all = append(all, x)
	}
	if *format == "json" {
		if *conv != "" && len(all) == 1 {
			err = engine.ExportJSON(w, all[0])
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
// listConversations writes one line per conversation, newest last.
func listConversations(w io.Writer, convs []engine.Conversation) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCHAT\tUPDATED (UTC)\tMESSAGES\tCOST\tTITLE\tTAGS")
	for _, cv := range convs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t$%.4f\t%s\t%s\n", cv.ID, cv.Key, cv.UpdatedAt.UTC().Format("2006-01-02 15:04"),
			cv.MessageCount, cv.Cost, oneLine(cv.Title), strings.Join(cv.Tags, ","))
	}
	_ = tw.Flush()
}

// oneLine keeps a title on its line of the listing.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

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

// backup writes a consistent copy of the database to -out, encrypted with
// age when storage.backup_age_recipients is set. When another process holds
// the data directory, it asks the running daemon for the backup over the
// control socket instead. It never overwrites a file.
func (c *cli) backup(ctx context.Context, args []string) error {
	fs := c.flags("backup")
	path := fs.String("config", defaultConfig, "config file")
	out := fs.String("out", "", "the backup file to write (a new file)")
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
	if _, err := os.Lstat(*out); err == nil {
		return usagef("-out %s already exists; a backup never overwrites a file, so choose a new name", *out)
	}
	recips, err := cfg.Storage.AgeRecipients()
	if err != nil {
		return usageError{err}
	}
	st, err := openStore(ctx, cfg, newLogger(c.stderr, 8))
	if errors.Is(err, storage.ErrLocked) {
		return c.backupFromDaemon(ctx, cfg, *out, len(recips) > 0)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	var size int64
	err = writeFileAtomic(*out, false, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		err := writeBackup(ctx, cw, st, recips)
		size = cw.n
		return err
	})
	if errors.Is(err, iofs.ErrExist) {
		return usagef("-out %s already exists; a backup never overwrites a file, so choose a new name", *out)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(c.stdout, "backup written to %s (%d bytes%s)\n", *out, size, encryptedNote(len(recips) > 0))
	return nil
}

// backupFromDaemon writes to out the backup that the daemon holding the
// data directory sends over its control socket.
func (c *cli) backupFromDaemon(ctx context.Context, cfg *config.Config, out string, wantEncrypted bool) error {
	sock, err := controlSocketPath(cfg.Storage.Dir)
	if err != nil {
		return err
	}
	who, err := pingControl(ctx, sock)
	if err != nil {
		return fmt.Errorf("the data directory %s is in use by another process, and no chatbridge daemon answers on %s "+
			"(is `chatbridge console` or an older chatbridge using it? stop it, or back up while it is stopped): %w",
			cfg.Storage.Dir, sock, err)
	}
	var head controlReply
	var size int64
	err = writeFileAtomic(out, false, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		var err error
		head, err = fetchBackup(ctx, sock, cw)
		size = cw.n
		return err
	})
	if errors.Is(err, iofs.ErrExist) {
		return usagef("-out %s already exists; a backup never overwrites a file, so choose a new name", out)
	}
	if err != nil {
		return fmt.Errorf("backup through the running daemon (pid %d, %s): %w", who.PID, sock, err)
	}
	if wantEncrypted && !head.Encrypted {
		fmt.Fprintf(c.stderr, "warning: this config sets storage.backup_age_recipients, but the running daemon's does not: "+
			"%s is not encrypted\n", out)
	}
	fmt.Fprintf(c.stdout, "backup written to %s by the running daemon (pid %d) (%d bytes%s)\n",
		out, who.PID, size, encryptedNote(head.Encrypted))
	return nil
}

func encryptedNote(encrypted bool) string {
	if encrypted {
		return ", encrypted with age"
	}
	return ""
}

// restore loads a backup into an empty data directory. An age-encrypted
// backup needs -identity.
func (c *cli) restore(ctx context.Context, args []string) error {
	fs := c.flags("restore")
	path := fs.String("config", defaultConfig, "config file")
	in := fs.String("in", "", "the backup file to load")
	identity := fs.String("identity", "", "age identity file (AGE-SECRET-KEY-1...) to decrypt an encrypted backup")
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
	dir := cfg.Storage.Dir
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return usagef("storage.dir %s is not empty; restore only into an empty data directory", dir)
	case err != nil && !errors.Is(err, iofs.ErrNotExist):
		return fmt.Errorf("restore: storage.dir: %w", err)
	}
	existed := err == nil
	f, err := os.Open(*in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	r, encrypted, err := openBackup(f, *in, *identity, c.stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, newLogger(c.stderr, 8))
	if err != nil {
		return err
	}
	if err := st.Restore(ctx, r); err != nil {
		st.Close()
		if rerr := removePartialRestore(dir, existed); rerr != nil {
			return fmt.Errorf("restore: %w (and removing the partial restore from %s failed: %w; empty it before trying again)", err, dir, rerr)
		}
		return fmt.Errorf("restore: %w (the partial restore was removed from %s)", err, dir)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	note := ""
	if encrypted {
		note = " (decrypted with age)"
	}
	fmt.Fprintf(c.stdout, "restored %s into %s%s\n", *in, dir, note)
	return nil
}

// openBackup returns the backup stream of the file f (named name): f
// itself, or f decrypted with the age identities in the file identity when
// f is an age file (binary or armored). A missing, unreadable or
// non-matching identity is a usage error.
func openBackup(f io.Reader, name, identity string, stderr io.Writer) (r io.Reader, encrypted bool, err error) {
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(len(armoredAgeHeader))
	var src io.Reader
	switch {
	case bytes.HasPrefix(head, []byte(ageHeader)):
		src = br
	case bytes.HasPrefix(head, []byte(armoredAgeHeader)):
		src = armor.NewReader(br)
	default:
		if identity != "" {
			fmt.Fprintf(stderr, "note: %s is not encrypted; -identity is not needed\n", name)
		}
		return br, false, nil
	}
	if identity == "" {
		return nil, true, usagef("%s is encrypted with age: pass -identity FILE, an age identity file holding the secret key "+
			"(AGE-SECRET-KEY-1...) that matches one of the storage.backup_age_recipients it was made with", name)
	}
	ids, err := readIdentities(identity)
	if err != nil {
		return nil, true, err
	}
	dr, err := age.Decrypt(src, ids...)
	var nomatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nomatch):
		return nil, true, usagef("-identity %s does not decrypt %s: it was encrypted to other keys "+
			"(use the identity whose public key was in storage.backup_age_recipients when the backup was made)", identity, name)
	case err != nil:
		return nil, true, fmt.Errorf("restore: %s is not a readable age file: %w", name, err)
	}
	return dr, true, nil
}

// readIdentities reads an age identity file. Its problems are usage
// errors; they never quote the file's content.
func readIdentities(path string) ([]age.Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("-identity: %w", err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, usagef("-identity %s is not an age identity file (%v); want a file like age-keygen writes, "+
			"with a line AGE-SECRET-KEY-1...", path, err)
	}
	return ids, nil
}

// removePartialRestore empties dir after a failed restore: it removes dir
// when restore created it, else what is in it (it was empty before).
func removePartialRestore(dir string, existed bool) error {
	if !existed {
		return os.RemoveAll(dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
