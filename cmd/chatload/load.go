package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// model is the model the daemon is configured with.
const model = "openai/gpt-4o-mini"

// tokenClock records, per chat, when the scripted provider flushed the
// first and the last token of its reply, and how many tokens it wrote.
// It is safe for concurrent use.
type tokenClock struct {
	mu          sync.Mutex
	first, last map[string]time.Time
	tokens      int64
}

// newTokenClock returns an empty clock.
func newTokenClock() *tokenClock {
	return &tokenClock{first: map[string]time.Time{}, last: map[string]time.Time{}}
}

// observe is the provider fake's OnContent hook. The chat is the last
// user message of the request (each chat sends a text of its own).
func (c *tokenClock) observe(req *openroutertest.ChatRequest, _ int, at time.Time) {
	key := ""
	for _, m := range req.Messages {
		if m.Role == "user" {
			key = m.Content
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens++
	if _, ok := c.first[key]; !ok {
		c.first[key] = at
	}
	c.last[key] = at
}

// times returns the first and last token times of the chat whose user
// message is key; ok is false before its first token.
func (c *tokenClock) times(key string) (first, last time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first, ok = c.first[key]
	return first, c.last[key], ok
}

// count is the number of tokens written to all chats.
func (c *tokenClock) count() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens
}

// chatText is what user i sends; the provider tells chats apart by it.
func chatText(platform string, i int) string { return "load " + platform + " chat " + strconv.Itoa(i) }

// normalize collapses white space, so texts split across messages or
// re-flowed by a renderer compare equal.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// Result is one platform's load run.
type Result struct {
	Platform         string
	Budget           Budget
	Chats            int
	Completed, Lost  int
	FirstText        Latency
	EditsMean        float64
	EditsMax         int
	EditsAllowed     float64 // mean per reply, by the per-message edit interval
	BridgeRate       float64 // calls/s to the bridge-wide limited methods while busy
	Early, TooMany   int
	TooManyBy        map[string]int
	Wall             time.Duration // first message sent to the last reply whole
	Tokens           int64
	CPU              time.Duration
	IdleRSS, PeakRSS int64
	Startup          time.Duration // exec to /healthz 200, empty database
}

// CPUPer1kTokens is the daemon's CPU time per 1,000 streamed tokens.
func (r Result) CPUPer1kTokens() time.Duration {
	if r.Tokens == 0 {
		return 0
	}
	return time.Duration(float64(r.CPU) / float64(r.Tokens) * 1000)
}

// Failed reports whether the run lost replies or sent calls early.
func (r Result) Failed() bool { return r.Lost > 0 || r.Early > 0 }

// runPlatform starts a fake platform, the scripted provider and the
// daemon, sends one message in each of o.Chats chats and measures the
// replies. Progress goes to logf.
func runPlatform(ctx context.Context, o Options, bin, name, work string, logf func(string, ...any)) (Result, error) {
	res := Result{Platform: name, Chats: o.Chats}
	clock := newTokenClock()
	or := openroutertest.NewServer(openroutertest.Options{OnContent: clock.observe})
	defer or.Close()
	reply := openroutertest.LongText(o.TokensPerReply)
	or.SetModelScript(model, openroutertest.Script{Tokens: openroutertest.Words(reply), Delay: o.TokenDelay()})
	want := normalize(reply)

	p, err := newPlatform(name, o.Chats)
	if err != nil {
		return res, err
	}
	defer p.Close()
	res.Budget = p.Budget()

	dir := filepath.Join(work, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("make work dir: %w", err)
	}
	addr, err := FreeAddr()
	if err != nil {
		return res, err
	}
	section, env := p.Section()
	d, err := StartDaemon(DaemonConfig{Bin: bin, Dir: dir, DataDir: filepath.Join(dir, "data"), Provider: or.URL(),
		HealthAddr: addr, Section: section, Env: env}, or.APIKey())
	if err != nil {
		return res, err
	}
	defer d.Stop(30 * time.Second) //nolint:errcheck // the explicit Stop below reports
	if res.Startup, err = d.WaitHealthy(ctx, addr, time.Minute); err != nil {
		return res, err
	}
	if err := d.WaitFor(ctx, name+" connection", time.Minute, 10*time.Millisecond, p.Ready); err != nil {
		return res, err
	}
	// Let start-up work (command registration, first polls) settle.
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return res, err
	}
	idle, err := ReadProc(d.PID())
	if err != nil {
		return res, err
	}
	res.IdleRSS = idle.RSS
	logf("%s: daemon up in %v, idle RSS %s; sending %d chats", name, res.Startup.Round(time.Millisecond), mib(idle.RSS), o.Chats)

	start := time.Now()
	var wg sync.WaitGroup
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	wg.Go(func() {
		for i := range o.Chats {
			if o.Ramp > 0 {
				at := start.Add(time.Duration(int64(o.Ramp) * int64(i) / int64(o.Chats)))
				if sleepCtx(sendCtx, time.Until(at)) != nil {
					return
				}
			}
			p.Send(i, chatText(name, i))
		}
	})
	defer wg.Wait()

	done := make([]bool, o.Chats)
	remaining := o.Chats
	var lastDone time.Time
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := start.Add(o.Timeout)
	nextLog := start.Add(10 * time.Second)
	progress := start // the last time a reply became whole (or the start)
	for remaining > 0 && time.Now().Before(deadline) && time.Since(progress) < o.Stall+o.Ramp {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-tick.C:
		}
		if exited, err := d.Exited(); exited {
			return res, fmt.Errorf("chatbridge exited under load (%w); log tail:\n%s", exitError(err), d.LogTail(4000))
		}
		for i := range done {
			if !done[i] && normalize(strings.Join(p.Reply(i).Texts, " ")) == want {
				done[i], remaining, lastDone, progress = true, remaining-1, time.Now(), time.Now()
			}
		}
		if time.Now().After(nextLog) {
			logf("%s: %d of %d replies whole after %v", name, o.Chats-remaining, o.Chats, time.Since(start).Round(time.Second))
			nextLog = nextLog.Add(10 * time.Second)
		}
	}
	if remaining > 0 {
		logf("%s: giving up on %d replies (no reply became whole for %v, or -timeout)", name, remaining, o.Stall)
	}
	after, err := ReadProc(d.PID())
	if err != nil {
		return res, err
	}
	if !lastDone.IsZero() {
		res.Wall = lastDone.Sub(start)
	}
	res.CPU = after.CPU - idle.CPU
	res.PeakRSS = after.HWM
	res.Tokens = clock.count()
	stopSending()
	wg.Wait()
	if err := d.Stop(30 * time.Second); err != nil {
		logf("%s: %v", name, err)
	}

	var lat []time.Duration
	var editsSum, allowedSum float64
	for i := range o.Chats {
		v := p.Reply(i)
		if done[i] {
			res.Completed++
		} else {
			res.Lost++
		}
		first, last, ok := clock.times(chatText(name, i))
		if ok && !v.FirstAt.IsZero() {
			lat = append(lat, v.FirstAt.Sub(first))
			allowedSum += 1 + math.Floor(max(0, last.Sub(v.FirstAt).Seconds())/res.Budget.MinEdit.Seconds())
		}
		editsSum += float64(v.Edits)
		res.EditsMax = max(res.EditsMax, v.Edits)
	}
	for i := range o.Chats {
		if !done[i] {
			got := normalize(strings.Join(p.Reply(i).Texts, " "))
			logf("%s: chat %d is not whole: %s", name, i, firstDifference(got, want))
			break
		}
	}
	res.FirstText = Summarize(lat)
	res.EditsMean = editsSum / float64(o.Chats)
	if len(lat) > 0 {
		res.EditsAllowed = allowedSum / float64(len(lat))
	}
	c := p.Counts()
	res.Early, res.TooMany, res.TooManyBy = c.Early, c.TooMany, c.ByMethod
	res.BridgeRate = busyRate(c.Limited, res.Budget.BridgeBurst)
	return res, nil
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// LoadTable renders the results of the load runs.
func LoadTable(o Options, rs []Result) Table {
	t := Table{Header: []string{"platform", "chats", "first token → first text p50 / p95 / max",
		"edits per reply (mean, max) / allowed by the edit interval", "calls/s to the bridge-wide budget (limit)",
		"sent before retry_after", "429s", "replies whole / lost", "wall", "CPU per 1,000 tokens",
		"idle RSS", "peak RSS"}}
	for _, r := range rs {
		t.Rows = append(t.Rows, []string{
			r.Platform,
			fmt.Sprintf("%d × %d tokens @ %g/s", r.Chats, o.TokensPerReply, o.TokenRate),
			r.FirstText.String(),
			fmt.Sprintf("%.1f, %d / %.1f", r.EditsMean, r.EditsMax, r.EditsAllowed),
			fmt.Sprintf("%.1f (%.3g)", r.BridgeRate, r.Budget.BridgeRate),
			strconv.Itoa(r.Early),
			countsBy(r.TooMany, r.TooManyBy),
			fmt.Sprintf("%d / %d", r.Completed, r.Lost),
			wall(r.Wall),
			fmt.Sprintf("%.3f s (%.1f µs/token)", r.CPUPer1kTokens().Seconds(), float64(r.CPUPer1kTokens())/1e3/1e3),
			mib(r.IdleRSS),
			mib(r.PeakRSS),
		})
	}
	return t
}

// countsBy formats a total with its parts, largest first: "31 (sendChatAction 30, sendMessage 1)".
func countsBy(total int, by map[string]int) string {
	if total == 0 || len(by) == 0 {
		return strconv.Itoa(total)
	}
	keys := slices.Collect(maps.Keys(by))
	slices.SortFunc(keys, func(a, b string) int {
		if by[a] != by[b] {
			return by[b] - by[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, by[k])
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// wall formats the time until the last reply was whole ("n/a" if none was).
func wall(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return d.Round(100 * time.Millisecond).String()
}

// firstDifference describes where got first differs from want, with a
// little context of each.
func firstDifference(got, want string) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	if i == len(got) && i == len(want) {
		return "no difference"
	}
	from := max(0, i-40)
	return fmt.Sprintf("%d of %d characters shown; from character %d it shows %q, want %q",
		len(got), len(want), from, got[from:min(len(got), i+40)], want[from:min(len(want), i+40)])
}
