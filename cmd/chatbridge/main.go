// Command chatbridge is a personal AI chatbot daemon: it answers its owner
// in Telegram, Discord, Slack or the terminal with a model from OpenRouter,
// streaming each reply by editing its message.
//
// This file is the composition root: subcommands, the config file and the
// explicit wiring of engine, provider, storage and bridges.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// Exit statuses (CONTRACT.md).
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

// usageError is a mistake on the command line or in the config: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// cli is what a subcommand runs with; tests build their own.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	env    func(string) string
}

func main() {
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.Getenv}
	os.Exit(c.main(context.Background(), os.Args[1:]))
}

const usageText = `usage: chatbridge <command> [flags]

commands:
  run      [-config F]                      run every enabled bridge until SIGINT/SIGTERM
  console  [-config F]                      chat in the terminal
  check    [-config F] [-online] [-storage] validate the config (and the platforms, the key, the data)
  backup   [-config F] -out FILE            back up the database
  restore  [-config F] -in FILE [-identity K]  load a backup into an empty data directory (K: age key)
  export   [-config F] [-conversation KEY] [-format json|md] [-list]
  slack-manifest [-name N] [-request-url URL]  print the Slack app manifest (JSON)
  healthcheck [-url U]                      exit 0 if the daemon's /healthz says it is up
  version                                   print the version and commit
`

// main runs one subcommand and returns the exit status.
func (c *cli) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usageText)
		return exitConfig
	}
	cmds := map[string]func(context.Context, []string) error{
		"run":     c.run,
		"console": c.console,
		"check":   c.check,
		"backup":  c.backup,
		"restore": c.restore,
		"export":  c.export,
		"version": c.version,
		// The Slack app is created from this manifest (README, Slack).
		"slack-manifest": c.slackManifest,
		// For container health checks: the image has no curl.
		"healthcheck": c.healthcheck,
	}
	name := args[0]
	if name == "-h" || name == "-help" || name == "--help" || name == "help" {
		fmt.Fprint(c.stdout, usageText)
		return exitOK
	}
	run, ok := cmds[name]
	if !ok {
		fmt.Fprintf(c.stderr, "chatbridge: unknown command %q\n\n%s", name, usageText)
		return exitConfig
	}
	err := run(ctx, args[1:])
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	}
	fmt.Fprintf(c.stderr, "chatbridge %s: %v\n", name, err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitConfig
	}
	return exitFail
}

// flags returns a FlagSet for a subcommand that reports its own errors.
func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("chatbridge "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

// parse parses args, turning a flag error into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func (c *cli) version(ctx context.Context, args []string) error {
	if err := parse(c.flags("version"), args); err != nil {
		return err
	}
	rev := commit
	if rev == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					rev = s.Value
				}
			}
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	fmt.Fprintf(c.stdout, "chatbridge %s (commit %s)\n", version, rev)
	return nil
}
