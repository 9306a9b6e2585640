package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// script writes a shell script standing in for the chatbridge binary.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fake-chatbridge")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func startScript(t *testing.T, body string) *Daemon {
	t.Helper()
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	d, err := StartDaemon(DaemonConfig{Bin: script(t, body), Dir: t.TempDir(), Env: []string{"EXTRA=1"}}, "sk-test")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDaemon_StopIsGracefulAndIdempotent(t *testing.T) {
	d := startScript(t, `echo "args $1 $2 key $OPENROUTER_API_KEY extra $EXTRA"; trap 'echo bye; exit 0' TERM; while :; do sleep 0.01; done`)
	if err := d.WaitFor(context.Background(), "the greeting", time.Minute, time.Millisecond, func() bool {
		return strings.Contains(d.LogTail(1000), "args run -config key sk-test extra 1")
	}); err != nil {
		t.Fatal(err)
	}
	if exited, _ := d.Exited(); exited {
		t.Fatal("the daemon exited by itself")
	}
	if err := d.Stop(time.Minute); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := d.Stop(time.Minute); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if !strings.Contains(d.LogTail(1000), "bye") {
		t.Errorf("the daemon did not get SIGTERM; log %q", d.LogTail(1000))
	}
}

func TestDaemon_EarlyExitIsReported(t *testing.T) {
	d := startScript(t, `echo "cannot start: bad config"; exit 3`)
	err := d.WaitFor(context.Background(), "readiness", time.Minute, time.Millisecond, func() bool { return false })
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("WaitFor = %v, want the exit status and the log tail", err)
	}
	if err := d.Stop(time.Minute); err == nil || !strings.Contains(err.Error(), "exited before it was stopped") {
		t.Errorf("Stop = %v, want the early exit", err)
	}
}

func TestDaemon_CleanExitIsStillAnError(t *testing.T) {
	d := startScript(t, `exit 0`)
	err := d.WaitFor(context.Background(), "readiness", time.Minute, time.Millisecond, func() bool { return false })
	if !errors.Is(err, errExit0) {
		t.Errorf("WaitFor = %v, want errExit0", err)
	}
}

func TestDaemon_WaitForGivesUp(t *testing.T) {
	d := startScript(t, `trap 'exit 0' TERM; while :; do sleep 0.01; done`)
	defer d.Stop(time.Minute) //nolint:errcheck // only cleanup
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.WaitFor(ctx, "nothing", time.Minute, time.Millisecond, func() bool { return false }); err == nil {
		t.Error("a cancelled wait gave no error")
	}
	if err := d.WaitFor(context.Background(), "nothing", 0, time.Millisecond, func() bool { return false }); err == nil ||
		!strings.Contains(err.Error(), "not within") {
		t.Errorf("an expired wait = %v", err)
	}
}
