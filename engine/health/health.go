// Package health tracks the state of the daemon's components (each bridge's
// connection, the provider, storage) for /status and, later, /healthz.
// Components report to the tracker; nothing returns health up a call chain.
package health

import (
	"sort"
	"sync"
	"time"
)

// State is a component's condition.
type State string

// The states a component can be in.
const (
	StateStarting State = "starting"
	StateOK       State = "ok"
	StateDegraded State = "degraded"
	StateDown     State = "down"
)

// Component is the last reported condition of one component.
type Component struct {
	Name      string    `json:"name"`
	State     State     `json:"state"`
	LastError string    `json:"last_error,omitempty"` // safe text of the last error; never secrets
	Since     time.Time `json:"since"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Tracker holds the components' states. The zero value is not usable; use
// NewTracker. Safe for concurrent use.
type Tracker struct {
	mu    sync.Mutex
	comps map[string]*Component
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{comps: make(map[string]*Component)}
}

// Set records name's state and, when not empty, the error text that explains
// it. Since changes only when the state does.
func (t *Tracker) Set(name string, s State, errText string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	c, ok := t.comps[name]
	if !ok {
		c = &Component{Name: name, Since: now}
		t.comps[name] = c
	}
	if c.State != s {
		c.Since = now
	}
	c.State, c.UpdatedAt = s, now
	if errText != "" || s == StateOK {
		c.LastError = errText
	}
}

// Components returns a copy of every component, sorted by name.
func (t *Tracker) Components() []Component {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Component, 0, len(t.comps))
	for _, c := range t.comps {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Overall is the worst state of any component (ok when there are none).
func (t *Tracker) Overall() State {
	worst := StateOK
	rank := map[State]int{StateOK: 0, StateStarting: 1, StateDegraded: 2, StateDown: 3}
	for _, c := range t.Components() {
		if rank[c.State] > rank[worst] {
			worst = c.State
		}
	}
	return worst
}
