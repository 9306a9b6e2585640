package health

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Registry holds the metrics served at /metrics in the Prometheus text
// format (version 0.0.4). Metrics are created up front and updated from
// anywhere; safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
}

type metric interface {
	name() string
	write(w io.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

func (r *Registry) add(m metric) {
	r.mu.Lock()
	r.metrics = append(r.metrics, m)
	r.mu.Unlock()
}

// WriteText writes every metric, sorted by name.
func (r *Registry) WriteText(w io.Writer) {
	r.mu.Lock()
	ms := append([]metric(nil), r.metrics...)
	r.mu.Unlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].name() < ms[j].name() })
	for _, m := range ms {
		m.write(w)
	}
}

// Counter is a monotonically increasing value per label set.
type Counter struct {
	n, help string
	labels  []string
	mu      sync.Mutex
	vals    map[string]float64
}

// NewCounter registers a counter; its name should end in _total.
func (r *Registry) NewCounter(name, help string, labels ...string) *Counter {
	c := &Counter{n: name, help: help, labels: labels, vals: map[string]float64{}}
	r.add(c)
	return c
}

// Add adds v (ignored if negative) for the label values, given in the
// order of the counter's labels.
func (c *Counter) Add(v float64, values ...string) {
	if v < 0 || math.IsNaN(v) {
		return
	}
	k := labelText(c.labels, values)
	c.mu.Lock()
	c.vals[k] += v
	c.mu.Unlock()
}

// Inc adds one.
func (c *Counter) Inc(values ...string) { c.Add(1, values...) }

func (c *Counter) name() string { return c.n }

func (c *Counter) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.n, c.help, c.n)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.vals) == 0 && len(c.labels) == 0 {
		fmt.Fprintf(w, "%s 0\n", c.n)
	}
	keys := make([]string, 0, len(c.vals))
	for k := range c.vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s%s %s\n", c.n, k, num(c.vals[k]))
	}
}

// Gauge is a value read when /metrics is served.
type Gauge struct {
	n, help string
	read    func() float64
}

// NewGauge registers a gauge computed by read at each scrape.
func (r *Registry) NewGauge(name, help string, read func() float64) *Gauge {
	g := &Gauge{n: name, help: help, read: read}
	r.add(g)
	return g
}

func (g *Gauge) name() string { return g.n }

func (g *Gauge) write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.n, g.help, g.n, g.n, num(g.read()))
}

// Histogram counts observations in cumulative buckets.
type Histogram struct {
	n, help string
	bounds  []float64
	mu      sync.Mutex
	counts  []uint64
	sum     float64
	count   uint64
}

// NewHistogram registers a histogram with the bucket upper bounds.
func (r *Registry) NewHistogram(name, help string, bounds ...float64) *Histogram {
	h := &Histogram{n: name, help: help, bounds: bounds, counts: make([]uint64, len(bounds))}
	r.add(h)
	return h
}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
		}
	}
	h.sum += v
	h.count++
}

func (h *Histogram) name() string { return h.n }

func (h *Histogram) write(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.n, h.help, h.n)
	for i, b := range h.bounds {
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", h.n, num(b), h.counts[i])
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", h.n, h.count, h.n, num(h.sum), h.n, h.count)
}

// labelEscaper escapes a label value for the text format. Built once:
// labelText runs for every counter increment (an edit of a streamed reply
// counts one), and a Replacer builds its tables on first use.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func labelText(names, values []string) string {
	if len(names) == 0 {
		return ""
	}
	parts := make([]string, len(names))
	for i, n := range names {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		v = labelEscaper.Replace(v)
		parts[i] = n + `="` + v + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func num(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}
