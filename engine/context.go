package engine

import (
	"context"
	"unicode/utf8"
)

// Token estimates. Real tokenisers give about 4 characters a token for
// English and fewer for code and other scripts; 3 keeps the estimate on
// the safe side. Every message also costs a few tokens of framing.
const (
	charsPerToken    = 3
	tokensPerMessage = 4
	// contextMargin is kept free besides max_tokens, for the estimate's
	// error and the provider's own framing.
	contextMargin = 256
)

// estimateTokens is a conservative token count of the messages.
func estimateTokens(msgs []ChatMessage) int {
	n := 0
	for _, m := range msgs {
		n += tokensPerMessage + (utf8.RuneCountInString(m.Content)+charsPerToken-1)/charsPerToken
	}
	return n
}

// fitContext drops the oldest turns of req (never the system prompt or the
// last message) until the estimate plus max_tokens fits the model's
// context length, and returns how many messages were left out. A
// contextLength of 0 (unknown) leaves req alone.
func fitContext(req *Request, contextLength int) int {
	if contextLength <= 0 {
		return 0
	}
	budget := contextLength - req.MaxTokens - contextMargin
	first := 0
	if len(req.Messages) > 0 && req.Messages[0].Role == RoleSystem {
		first = 1
	}
	dropped := 0
	for estimateTokens(req.Messages) > budget && len(req.Messages)-first > 1 {
		req.Messages = append(req.Messages[:first], req.Messages[first+1:]...)
		dropped++
	}
	// Never start the history with the model's own answer.
	for len(req.Messages)-first > 1 && req.Messages[first].Role == RoleAssistant {
		req.Messages = append(req.Messages[:first], req.Messages[first+1:]...)
		dropped++
	}
	return dropped
}

// contextLength is the model's context length from the catalogue, or 0
// when the catalogue cannot say.
func (e *Engine) contextLength(ctx context.Context, model string) int {
	models, err := e.prov.Models(ctx)
	if err != nil {
		return 0
	}
	for _, m := range models {
		if m.ID == model {
			return m.ContextLength
		}
	}
	return 0
}

// trimmedNote tells the user that older turns were not sent.
const trimmedNote = "_Older turns of this conversation were left out to fit the model's context._"
