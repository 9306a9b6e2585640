package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheck asks a running daemon's /healthz, for container health
// checks (the image has no shell or curl): exit 0 when healthy or
// degraded, 1 when down or unreachable.
func (c *cli) healthcheck(ctx context.Context, args []string) error {
	fs := c.flags("healthcheck")
	url := fs.String("url", "http://127.0.0.1:9090/healthz", "the /healthz URL of [health] listen")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usagef("-url %q: %v", *url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy (HTTP %d): %s", resp.StatusCode, body)
	}
	_, err = fmt.Fprintf(c.stdout, "healthy\n")
	return err
}
