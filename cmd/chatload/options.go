package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// platformNames returns the platforms the tool can load, in report order.
func platformNames() []string { return []string{"telegram", "discord", "slack"} }

// Options is a parsed and validated command line.
type Options struct {
	Platforms      []string
	Chats          int
	TokensPerReply int
	TokenRate      float64 // tokens per second from the scripted provider
	Ramp           time.Duration
	Timeout        time.Duration
	Stall          time.Duration // give up when no reply became whole for this long
	Bin            string
	DBSize         int64 // bytes; 0 skips the start-up measurement
	StartupRuns    int
	CacheDir       string
	Keep           bool
	Startup        bool // measure start-up only, no load
}

// TokenDelay is the pause before each token of a scripted reply.
func (o Options) TokenDelay() time.Duration {
	return time.Duration(float64(time.Second) / o.TokenRate)
}

// ParseOptions parses the command line (without the program name).
// Errors name the flag and say what is accepted; -h gives flag.ErrHelp.
func ParseOptions(args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("chatload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: chatload [flags]\n\n"+
			"Runs the chatbridge binary against fake platforms and a scripted provider,\n"+
			"and prints the results as Markdown tables.\n\n")
		fs.PrintDefaults()
	}
	platforms := fs.String("platforms", strings.Join(platformNames(), ","), "comma-separated platforms to load: telegram, discord, slack")
	chats := fs.Int("chats", 100, "concurrent chats per platform (1..5000)")
	tokens := fs.Int("tokens-per-reply", 200, "tokens (words) in each scripted reply (1..100000)")
	rate := fs.Float64("token-rate", 20, "tokens per second the scripted provider streams per reply (0.1..10000)")
	ramp := fs.Duration("ramp", 0, "spread the chats' first messages over this time (0: all at once)")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up on a platform's replies after this long")
	stall := fs.Duration("stall", 5*time.Minute, "give up on a platform's replies when none became whole for this long (Slack's 50 edits a minute can keep 100 finished replies waiting minutes)")
	bin := fs.String("bin", "", "path to a built chatbridge binary (default: go build ./cmd/chatbridge into a temp dir)")
	dbSize := fs.String("db-size", "1GiB", "database size for the start-up measurement (e.g. 1GiB, 200MiB, 0 to skip)")
	startupRuns := fs.Int("startup-runs", 5, "start-up measurements to take (1..50)")
	cacheDir := fs.String("cache-dir", "", "where the generated database is kept between runs (default: the user cache dir + /chatbridge-load)")
	keep := fs.Bool("keep", false, "keep the temporary directories (configs, data, daemon logs)")
	startupOnly := fs.Bool("startup-only", false, "measure only the start-up time, no load")
	if err := fs.Parse(args); err != nil {
		return Options{}, err
	}
	if fs.NArg() > 0 {
		return Options{}, fmt.Errorf("unexpected argument %q (all options are flags)", fs.Arg(0))
	}
	o := Options{Chats: *chats, TokensPerReply: *tokens, TokenRate: *rate, Ramp: *ramp, Timeout: *timeout, Stall: *stall,
		Bin: *bin, StartupRuns: *startupRuns, CacheDir: *cacheDir, Keep: *keep, Startup: *startupOnly}
	var err error
	if o.Platforms, err = parsePlatforms(*platforms); err != nil {
		return Options{}, err
	}
	if o.DBSize, err = ParseSize(*dbSize); err != nil {
		return Options{}, fmt.Errorf("-db-size: %w", err)
	}
	if o.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return Options{}, fmt.Errorf("-cache-dir not given and no user cache dir: %w", err)
		}
		o.CacheDir = filepath.Join(base, "chatbridge-load")
	}
	if err := o.validate(); err != nil {
		return Options{}, err
	}
	return o, nil
}

// validate checks the ranges of the parsed flags.
func (o Options) validate() error {
	switch {
	case o.Chats < 1 || o.Chats > 5000:
		return fmt.Errorf("-chats %d: want 1..5000", o.Chats)
	case o.TokensPerReply < 1 || o.TokensPerReply > 100000:
		return fmt.Errorf("-tokens-per-reply %d: want 1..100000", o.TokensPerReply)
	case !(o.TokenRate >= 0.1 && o.TokenRate <= 10000): // also refuses NaN
		return fmt.Errorf("-token-rate %v: want 0.1..10000 tokens per second", o.TokenRate)
	case o.Ramp < 0:
		return fmt.Errorf("-ramp %v: want 0 or more", o.Ramp)
	case o.Timeout <= 0:
		return fmt.Errorf("-timeout %v: want more than 0", o.Timeout)
	case o.Stall <= 0:
		return fmt.Errorf("-stall %v: want more than 0", o.Stall)
	case o.StartupRuns < 1 || o.StartupRuns > 50:
		return fmt.Errorf("-startup-runs %d: want 1..50", o.StartupRuns)
	case o.Startup && o.DBSize == 0:
		return errors.New("-startup-only with -db-size 0: nothing to measure")
	}
	return nil
}

// parsePlatforms splits a comma-separated list, refusing unknown names,
// repeats and an empty list. The result is in report order.
func parsePlatforms(s string) ([]string, error) {
	known := platformNames()
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if !slices.Contains(known, p) {
			return nil, fmt.Errorf("-platforms: unknown platform %q (want some of %s)", p, strings.Join(known, ", "))
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("-platforms: %q given twice", p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-platforms: empty (want some of %s)", strings.Join(known, ", "))
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(known, a) - slices.Index(known, b) })
	return out, nil
}

// ParseSize parses a byte count: a number with an optional unit B, KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), case-insensitive.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   float64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1}}
	mult := 1.0
	lower := strings.ToLower(t)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || n*mult > 1<<40 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 1GiB, 500MB or 0, at most 1 TiB)", s)
	}
	return int64(n * mult), nil
}
