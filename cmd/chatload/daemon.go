package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// BuildBinary builds ./cmd/chatbridge of the module in the working
// directory into dir and returns the binary's path.
func BuildBinary(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "chatbridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "github.com/chatbridge/chatbridge/cmd/chatbridge")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build chatbridge (run chatload inside the module, or give -bin): %w\n%s", err, msg)
	}
	return out, nil
}

// DaemonConfig is what a `chatbridge run` under load is given.
type DaemonConfig struct {
	Bin        string
	Dir        string // working dir; holds config.toml and the daemon's log
	DataDir    string
	Provider   string // OpenRouter base URL
	HealthAddr string // host:port for [health] listen
	Section    string // the platform's TOML section(s)
	StorageExt string // more [storage] keys, e.g. backup_interval = "0s"
	Env        []string
}

// Config renders the TOML config of c.
func (c DaemonConfig) Config() string {
	return fmt.Sprintf(`[openrouter]
base_url = %q
model = "openai/gpt-4o-mini"

[limits]
requests_per_minute = 1000

[storage]
dir = %q
%s
[health]
listen = %q

%s`, c.Provider, c.DataDir, c.StorageExt, c.HealthAddr, c.Section)
}

// Daemon is a running `chatbridge run`. Its methods are for one
// goroutine.
type Daemon struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // the exit, once exited is closed
	stopped bool
	Started time.Time
}

// StartDaemon writes the config into c.Dir and starts the daemon, with
// stdout and stderr going to daemon.log there. The caller must Stop it.
func StartDaemon(c DaemonConfig, apiKey string) (*Daemon, error) {
	path := filepath.Join(c.Dir, "config.toml")
	if err := os.WriteFile(path, []byte(c.Config()), 0o600); err != nil {
		return nil, fmt.Errorf("write daemon config: %w", err)
	}
	logPath := filepath.Join(c.Dir, "daemon.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create daemon log: %w", err)
	}
	d := &Daemon{logPath: logPath, exited: make(chan struct{})}
	d.cmd = exec.Command(c.Bin, "run", "-config", path)
	d.cmd.Dir = c.Dir
	d.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.Dir, "OPENROUTER_API_KEY=" + apiKey}, c.Env...)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.Started = time.Now()
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start chatbridge: %w", err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		logf.Close()
		close(d.exited)
	}()
	return d, nil
}

// PID is the daemon's process id.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// LogTail returns the last n bytes of the daemon's log.
func (d *Daemon) LogTail(n int) string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// errExit0 is a daemon's exit with status 0 where none was expected.
var errExit0 = errors.New("exit status 0")

// exitError is err, or errExit0 for a clean exit (err nil).
func exitError(err error) error {
	if err == nil {
		return errExit0
	}
	return err
}

// Exited reports whether the daemon has exited, and how.
func (d *Daemon) Exited() (bool, error) {
	select {
	case <-d.exited:
		return true, d.waitErr
	default:
		return false, nil
	}
}

// Stop sends SIGTERM and waits up to grace for the exit, then kills. It
// fails if the daemon had exited by itself or exits with an error. Only
// the first call does anything.
func (d *Daemon) Stop(grace time.Duration) error {
	if d.stopped {
		return nil
	}
	d.stopped = true
	if exited, err := d.Exited(); exited {
		return fmt.Errorf("chatbridge exited before it was stopped (%w); log tail:\n%s", exitError(err), d.LogTail(2000))
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if d.waitErr != nil {
			return fmt.Errorf("chatbridge exit after SIGTERM: %w", d.waitErr)
		}
		return nil
	case <-time.After(grace):
		_ = d.cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("chatbridge did not stop within %v of SIGTERM", grace)
	}
}

// WaitHealthy polls http://addr/healthz until it answers 200 and returns
// the time from the daemon's exec until that answer. It fails when the
// daemon exits or limit passes.
func (d *Daemon) WaitHealthy(ctx context.Context, addr string, limit time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	url := "http://" + addr + "/healthz"
	err := d.poll(ctx, limit, time.Millisecond, func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return 0, fmt.Errorf("wait for /healthz: %w", err)
	}
	return time.Since(d.Started), nil
}

// WaitFor polls cond every step until it holds, the daemon exits or
// limit passes.
func (d *Daemon) WaitFor(ctx context.Context, what string, limit, step time.Duration, cond func() bool) error {
	if err := d.poll(ctx, limit, step, cond); err != nil {
		return fmt.Errorf("wait for %s: %w", what, err)
	}
	return nil
}

// poll checks cond every step until it holds, failing when the daemon
// exits, limit passes or ctx ends.
func (d *Daemon) poll(ctx context.Context, limit, step time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	t := time.NewTicker(step)
	defer t.Stop()
	for !cond() {
		if exited, err := d.Exited(); exited {
			return fmt.Errorf("chatbridge exited (%w); log tail:\n%s", exitError(err), d.LogTail(4000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v; log tail:\n%s", limit, d.LogTail(4000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// errLost marks a run whose replies were lost or whose calls came early.
var errLost = errors.New("lost replies or early calls")

// tomlList renders strings as a TOML array of strings.
func tomlList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
