// Command chatload runs the chatbridge binary against the fake platforms
// (Telegram, Discord, Slack, each with its published rate limits on) and a
// scripted OpenRouter that streams tokens at a set rate, with N concurrent
// chats per platform, and prints the results as Markdown tables: the time
// from the provider's first token to the first text the user sees, edits
// per reply against the platform's budget, calls sent before their
// retry_after, 429s, replies completed or lost, the daemon's CPU per
// 1,000 tokens, its idle and peak RSS, and its start-up time with a large
// database.
//
// It exits 1 when a reply is lost or a call came before its retry_after,
// and 2 on bad flags. See BENCHMARKS.md for the commands and results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal cancels the run (the daemon is stopped); a
		// second one kills the tool.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := ParseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "chatload:", err)
		return 2
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s chatload: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	work, err := os.MkdirTemp("", "chatload-")
	if err != nil {
		fmt.Fprintln(stderr, "chatload: work dir:", err)
		return 1
	}
	if o.Keep {
		logf("keeping %s", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := o.Bin
	if bin == "" {
		logf("building chatbridge")
		if bin, err = BuildBinary(ctx, work); err != nil {
			fmt.Fprintln(stderr, "chatload:", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "chatload on %d CPUs, %s, %s\n\n", runtime.NumCPU(), runtime.Version(), time.Now().UTC().Format(time.RFC3339))

	failed := false
	if !o.Startup {
		var results []Result
		for _, name := range o.Platforms {
			r, err := runPlatform(ctx, o, bin, name, work, logf)
			if err != nil {
				fmt.Fprintf(stderr, "chatload: %s: %v\n", name, err)
				return 1
			}
			logf("%s: %d whole, %d lost, %d early, %d 429s in %v", name, r.Completed, r.Lost, r.Early, r.TooMany, r.Wall.Round(time.Millisecond))
			failed = failed || r.Failed()
			results = append(results, r)
		}
		if err := LoadTable(o, results).Render(stdout); err != nil {
			fmt.Fprintln(stderr, "chatload:", err)
			return 1
		}
		fmt.Fprintln(stdout)
		for _, r := range results {
			fmt.Fprintf(stdout, "- %s budget: %s\n", r.Platform, r.Budget.Text)
		}
		fmt.Fprintln(stdout)
	}
	if o.DBSize > 0 {
		db, err := EnsureDatabase(ctx, o.CacheDir, o.DBSize, logf)
		if err != nil {
			fmt.Fprintln(stderr, "chatload:", err)
			return 1
		}
		cases := []StartupCase{
			{Label: "empty", DataDir: filepath.Join(work, "empty-db")},
			{Label: mib(o.DBSize) + ", defaults (a scheduled backup starts at once when none exists)", DataDir: db},
			{Label: mib(o.DBSize) + `, backup_interval = "0s"`, DataDir: db, StorageExt: `backup_interval = "0s"`},
		}
		var rs []StartupResult
		for _, c := range cases {
			logf("start-up: %s, %d runs", c.Label, o.StartupRuns)
			r, err := MeasureStartup(ctx, bin, c, work, o.StartupRuns)
			if err != nil {
				fmt.Fprintf(stderr, "chatload: start-up (%s): %v\n", c.Label, err)
				return 1
			}
			rs = append(rs, r)
		}
		if err := StartupTable(rs).Render(stdout); err != nil {
			fmt.Fprintln(stderr, "chatload:", err)
			return 1
		}
	}
	if failed {
		fmt.Fprintln(stderr, "chatload:", errLost)
		return 1
	}
	return 0
}
