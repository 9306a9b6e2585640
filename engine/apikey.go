package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The API key set from chat: its name in the store's secrets, and in
// /settings and the settings history (where only its last four characters
// ever appear).
const (
	apiKeySecret  = "openrouter_api_key"
	SettingAPIKey = "api_key"
)

// KeyChanger is a Provider whose API key can be replaced while it runs.
type KeyChanger interface {
	// UseAPIKey makes later requests use key; "" goes back to the key the
	// provider was configured with. It does not block.
	UseAPIKey(key string)
	// CheckAPIKey asks the provider whether it accepts key, without using
	// it for anything else. A rejected key is a *ProviderError of kind
	// ErrKeyRejected. It may block.
	CheckAPIKey(ctx context.Context, key string) error
}

// MessageDeleter is a Replier that can delete a user's message in its
// chat. /apikey uses it to remove the message that carried the key.
type MessageDeleter interface {
	DeleteMessage(ctx context.Context, id MessageID) error
}

// apiKeyState is what the engine knows about the key in use. Safe for
// concurrent use.
type apiKeyState struct {
	mu       sync.Mutex
	fromChat string // last four characters of the key set by /apikey; "" when the config's key is used
	alerted  bool   // the owners were told the key in use was rejected
}

func (s *apiKeyState) set(last4 string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fromChat, s.alerted = last4, false
}

func (s *apiKeyState) source() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fromChat == "" {
		return "the config file"
	}
	return "set by /apikey, ends in " + s.fromChat
}

// firstAlert reports whether this is the first rejection of the key in use.
func (s *apiKeyState) firstAlert() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.alerted
	s.alerted = true
	return first
}

// lastFour is how a key is shown: its last four characters.
func lastFour(key string) string {
	if len(key) <= 4 {
		return "…"
	}
	return "…" + key[len(key)-4:]
}

// LoadAPIKey makes the provider use the key set by /apikey, if there is
// one: it takes precedence over the config file. The daemon calls it once
// at start; it blocks on the store. A stored key that cannot be read (a
// backup restored without its secrets key) is an error, and the config's
// key stays in use.
func (e *Engine) LoadAPIKey(ctx context.Context) error {
	kc, ok := e.prov.(KeyChanger)
	if !ok {
		return nil
	}
	key, err := e.store.Secret(ctx, apiKeySecret)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("the API key set by /apikey cannot be read, so the config's key is used: %w", err)
	}
	kc.UseAPIKey(key)
	e.apiKey.set(lastFour(key))
	return nil
}

// keyRejected tells every owner, once per key, that the provider rejected
// the key in use and how to replace it.
func (e *Engine) keyRejected(ctx context.Context) {
	if !e.apiKey.firstAlert() {
		return
	}
	e.log.Warn("the model API rejected the API key; telling the owners", "key", e.apiKey.source())
	text := "OpenRouter rejected the bot's API key (401), so it cannot answer anyone. " +
		"Set a new key on the host (OPENROUTER_API_KEY or openrouter.api_key_file) and restart, " +
		"or send /apikey <key> to me here in this private chat: it takes effect at once."
	go e.alertOwners(context.WithoutCancel(ctx), "", text)
}

func cmdAPIKey(ctx context.Context, c *cmdCtx) error {
	kc, ok := c.e.prov.(KeyChanger)
	if !ok {
		c.sayPrivately(ctx, "This model provider's key cannot be changed from chat.")
		return nil
	}
	arg := strings.TrimSpace(c.args)
	switch {
	case arg == "":
		c.sayPrivately(ctx, "API key in use: "+c.e.apiKey.source()+".\n"+
			"Send /apikey <key> to replace it (it takes precedence over the config file), or /apikey reset to go back to the config's key.")
		return nil
	case strings.EqualFold(arg, "reset"):
		if err := c.e.store.SetSecret(ctx, apiKeySecret, ""); err != nil {
			return NewSafeError("Could not remove the key.", fmt.Errorf("apikey reset: %w", err))
		}
		kc.UseAPIKey("")
		c.e.apiKey.set("")
		c.e.recordKeyChange(ctx, c.ev, "")
		c.sayPrivately(ctx, "Removed the key set by /apikey; the key from the config file is used again.")
		return nil
	}
	// The message with the key goes first, whatever happens next.
	note := c.deleteKeyMessage(ctx)
	if strings.ContainsAny(arg, " \t\n") || len(arg) < 20 || len(arg) > 256 {
		c.sayPrivately(ctx, "That does not look like an API key (one word, 20 to 256 characters); nothing changed. "+note)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err := kc.CheckAPIKey(cctx, arg)
	cancel()
	if err != nil {
		if pe, ok := AsProviderError(err); ok && pe.Kind == ErrKeyRejected {
			c.sayPrivately(ctx, "OpenRouter rejected this key too; nothing changed. "+note)
			return nil
		}
		c.e.logError("checking a new API key", err)
		c.sayPrivately(ctx, "Could not check the key with OpenRouter right now; nothing changed. Try again in a moment. "+note)
		return nil
	}
	if err := c.e.store.SetSecret(ctx, apiKeySecret, arg); err != nil {
		return NewSafeError("Could not store the key; nothing changed. "+note, fmt.Errorf("apikey: %w", err))
	}
	kc.UseAPIKey(arg)
	c.e.apiKey.set(lastFour(arg))
	c.e.recordKeyChange(ctx, c.ev, lastFour(arg))
	c.sayPrivately(ctx, fmt.Sprintf("API key replaced: it ends in %s and is used from now on, before the config file's. "+
		"/apikey reset goes back to the config's key. %s", lastFour(arg), note))
	return nil
}

// recordKeyChange notes a change of the key in the settings history, by
// its last four characters only.
func (e *Engine) recordKeyChange(ctx context.Context, ev *Event, shown string) {
	_, err := e.store.SetSetting(ctx, SettingChange{Key: ev.Key(), User: ev.User, Name: SettingAPIKey, New: shown})
	if err != nil {
		e.log.Warn("recording the API key change in the settings history", "err", err)
	}
}

// deleteKeyMessage deletes the user's message that carried a key, and
// says what happened to it.
func (c *cmdCtx) deleteKeyMessage(ctx context.Context) string {
	if c.ev.Message == "" {
		return "Your command was not posted as a chat message, so there is nothing to delete."
	}
	del, ok := c.r.(MessageDeleter)
	if !ok {
		return "This platform does not let me delete your message: please delete the message with the key yourself."
	}
	if err := del.DeleteMessage(ctx, c.ev.Message); err != nil {
		c.e.log.Warn("deleting the message with an API key", "err", err)
		return "I could not delete your message with the key: please delete it yourself."
	}
	return "I deleted your message with the key."
}
