package openrouter

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// Models returns OpenRouter's model catalogue (GET {base}/models) sorted by
// ID. A fetched catalogue is served from memory for Options.CatalogTTL.
// Callers that arrive while a fetch runs share it; the fetch runs on its
// own goroutine, bounded by a 30 s timeout, so a caller whose ctx ends
// returns at once with ctx's error while the fetch completes for the
// others. When a refresh fails and an older catalogue exists, Models
// returns the older one (and tries again a minute later).
//
// Prices are USD per token; OpenRouter marks variable prices (the
// openrouter/auto router) with -1. The returned slice is the caller's.
// Models may block; it is safe for concurrent use.
func (c *Client) Models(ctx context.Context) ([]engine.ModelInfo, error) {
	c.cat.mu.Lock()
	if c.cat.have && time.Now().Before(c.cat.expires) {
		models := slices.Clone(c.cat.models)
		c.cat.mu.Unlock()
		return models, nil
	}
	call := c.cat.call
	if call == nil {
		call = &catalogCall{done: make(chan struct{})}
		c.cat.call = call
		go c.refreshCatalog(context.WithoutCancel(ctx), call)
	}
	c.cat.mu.Unlock()

	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("openrouter: models: %w", ctx.Err())
	}
	if call.err != nil {
		return nil, call.err
	}
	return slices.Clone(call.models), nil
}

// refreshCatalog fetches the catalogue for call and stores it.
func (c *Client) refreshCatalog(ctx context.Context, call *catalogCall) {
	ctx, cancel := context.WithTimeout(ctx, catalogFetchMax)
	defer cancel()
	models, err := c.fetchModels(ctx)

	c.cat.mu.Lock()
	now := time.Now()
	switch {
	case err == nil:
		c.cat.models, c.cat.have, c.cat.expires = models, true, now.Add(c.ttl)
	case c.cat.have:
		c.log.Warn("openrouter: model catalogue refresh failed; serving the cached one", "err", err)
		c.cat.expires = now.Add(min(c.ttl, catalogRetryGap))
		models, err = c.cat.models, nil
	}
	c.cat.call = nil
	call.models, call.err = models, err
	c.cat.mu.Unlock()
	close(call.done)
}

type wireModel struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	ContextLength int    `json:"context_length"`
	Pricing       struct {
		Prompt     price `json:"prompt"`
		Completion price `json:"completion"`
	} `json:"pricing"`
	TopProvider struct {
		ContextLength int `json:"context_length"`
	} `json:"top_provider"`
}

// price is a USD amount that OpenRouter sends as a decimal string
// ("0.00003"); a number or null is accepted too. A malformed value is 0.
type price float64

func (p *price) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		f = 0
	}
	*p = price(f)
	return nil
}

func (c *Client) fetchModels(ctx context.Context) ([]engine.ModelInfo, error) {
	var body struct {
		Data []wireModel `json:"data"`
	}
	if err := c.getJSON(ctx, "/models", &body); err != nil {
		return nil, err
	}
	models := make([]engine.ModelInfo, 0, len(body.Data))
	for _, m := range body.Data {
		if m.ID == "" {
			continue
		}
		ctxLen := m.ContextLength
		if ctxLen == 0 {
			ctxLen = m.TopProvider.ContextLength
		}
		models = append(models, engine.ModelInfo{
			ID:              m.ID,
			Name:            m.Name,
			ContextLength:   ctxLen,
			PromptPrice:     float64(m.Pricing.Prompt),
			CompletionPrice: float64(m.Pricing.Completion),
		})
	}
	slices.SortFunc(models, func(a, b engine.ModelInfo) int { return cmp.Compare(a.ID, b.ID) })
	return models, nil
}

// Key reports what OpenRouter knows about the API key (GET {base}/key):
// its label, spending limit (nil: unlimited), remaining limit, usage in
// USD and whether it is a free-tier key. A rejected key is an
// *engine.ProviderError of kind ErrKeyRejected. Key is not cached; it may
// block and is safe for concurrent use.
func (c *Client) Key(ctx context.Context) (engine.KeyInfo, error) {
	var body struct {
		Data struct {
			Label          string   `json:"label"`
			Limit          *float64 `json:"limit"`
			LimitRemaining *float64 `json:"limit_remaining"`
			Usage          float64  `json:"usage"`
			IsFreeTier     bool     `json:"is_free_tier"`
		} `json:"data"`
	}
	if err := c.getJSON(ctx, "/key", &body); err != nil {
		return engine.KeyInfo{}, err
	}
	d := body.Data
	return engine.KeyInfo{
		Label:          d.Label,
		Limit:          d.Limit,
		LimitRemaining: d.LimitRemaining,
		Usage:          d.Usage,
		IsFreeTier:     d.IsFreeTier,
	}, nil
}
