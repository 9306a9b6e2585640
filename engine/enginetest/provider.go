package enginetest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// Script is what one Stream call of a Provider does: wait FirstDelay, send
// Deltas one every Delay, then fail with Err or finish with Usage.
type Script struct {
	FirstDelay   time.Duration
	Delay        time.Duration
	Deltas       []string
	Err          error // returned after the deltas
	Hang         bool  // after the deltas, block until ctx ends
	Usage        engine.Usage
	FinishReason string // default "stop"
}

// Provider is a scripted engine.Provider. Each Stream call takes the next
// Script; when none are left it echoes the last user message. Safe for
// concurrent use.
type Provider struct {
	ModelList []engine.ModelInfo

	mu       sync.Mutex
	scripts  []Script
	requests []Request
}

// Request is a recorded Stream call.
type Request struct {
	At  time.Time
	Req engine.Request
}

// NewProvider returns a Provider with the scripts queued and a small
// default model list.
func NewProvider(scripts ...Script) *Provider {
	return &Provider{scripts: scripts, ModelList: []engine.ModelInfo{
		{ID: "openai/gpt-4o-mini", Name: "GPT-4o mini", ContextLength: 128000, PromptPrice: 0.15e-6, CompletionPrice: 0.6e-6},
		{ID: "openai/gpt-4o", Name: "GPT-4o", ContextLength: 128000, PromptPrice: 2.5e-6, CompletionPrice: 10e-6},
		{ID: "anthropic/claude-3.5-sonnet", Name: "Claude 3.5 Sonnet", ContextLength: 200000, PromptPrice: 3e-6, CompletionPrice: 15e-6},
		{ID: "meta-llama/llama-3.1-8b-instruct", Name: "Llama 3.1 8B", ContextLength: 131072, PromptPrice: 0.02e-6, CompletionPrice: 0.05e-6},
	}}
}

// Enqueue adds scripts for later Stream calls.
func (p *Provider) Enqueue(s ...Script) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.scripts = append(p.scripts, s...)
}

// Requests returns a copy of the recorded calls.
func (p *Provider) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Stream plays the next script.
func (p *Provider) Stream(ctx context.Context, req *engine.Request, onDelta func(engine.Delta) error) (*engine.Completion, error) {
	p.mu.Lock()
	r := *req
	r.Messages = append([]engine.ChatMessage(nil), req.Messages...)
	p.requests = append(p.requests, Request{At: time.Now(), Req: r})
	var s Script
	if len(p.scripts) > 0 {
		s, p.scripts = p.scripts[0], p.scripts[1:]
	} else {
		last := ""
		if n := len(req.Messages); n > 0 {
			last = req.Messages[n-1].Content
		}
		s = Script{Deltas: []string{"You said: ", last}}
	}
	p.mu.Unlock()

	comp := &engine.Completion{ID: "gen-test", Model: req.Model}
	if err := wait(ctx, s.FirstDelay); err != nil {
		return comp, err
	}
	var text strings.Builder
	for i, d := range s.Deltas {
		if i > 0 {
			if err := wait(ctx, s.Delay); err != nil {
				comp.Text = text.String()
				return comp, err
			}
		}
		text.WriteString(d)
		if err := onDelta(engine.Delta{Content: d}); err != nil {
			comp.Text = text.String()
			return comp, err
		}
	}
	comp.Text = text.String()
	if s.Hang {
		<-ctx.Done()
		return comp, ctx.Err()
	}
	if s.Err != nil {
		return comp, s.Err
	}
	comp.FinishReason = s.FinishReason
	if comp.FinishReason == "" {
		comp.FinishReason = "stop"
	}
	comp.Usage = s.Usage
	return comp, nil
}

// Models returns ModelList.
func (p *Provider) Models(ctx context.Context) ([]engine.ModelInfo, error) {
	if len(p.ModelList) == 0 {
		return nil, errors.New("no models")
	}
	return append([]engine.ModelInfo(nil), p.ModelList...), nil
}

func wait(ctx context.Context, d time.Duration) error {
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
