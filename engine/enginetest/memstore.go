// Package enginetest holds test doubles for the engine and the conformance
// suite that every engine.Store implementation runs.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

// defaultSeenTTL is used by MarkSeen when ttl <= 0, like the Badger store.
const defaultSeenTTL = 24 * time.Hour

// MemStore is an in-memory engine.Store with the same semantics as the
// Badger store (storage.Store), for engine tests. It is safe for concurrent
// use; every method returns deep copies, so callers own what they get and
// may keep what they pass in.
//
// Semantics shared with the Badger store and checked by RunStoreSuite:
//   - conversation and message ids are assigned by the store; a message id
//     is the decimal sequence number of the message in its conversation;
//   - AppendMessage sets a zero Timestamp to the store's clock, and the
//     conversation's UpdatedAt to the message's Timestamp;
//   - DeleteMessagesFrom lowers MessageCount but keeps TotalTokens and Cost,
//     which record what the conversation has consumed;
//   - UpdateConversation saves only Title and Tags; counters, key, times
//     and Active are the store's;
//   - MarkSeen with ttl <= 0 remembers the id for 24 hours.
type MemStore struct {
	mu       sync.Mutex
	now      func() time.Time
	failErr  error
	nextConv int

	convs    map[engine.ConversationID]*memConv
	active   map[engine.ConversationKey]engine.ConversationID
	settings map[engine.ConversationKey]map[string]string
	ops      map[engine.ConversationKey][]engine.SettingChange
	nextOp   map[engine.ConversationKey]int
	defaults map[string]string
	secrets  map[string]string
	usage    map[usageKey]engine.UsageDay
	replies  map[string]engine.ReplyState
	seen     map[seenKey]time.Time // expiry
}

type memConv struct {
	c       engine.Conversation
	seq     int // order of creation, to break CreatedAt ties
	nextMsg uint64
	msgs    []engine.Message
}

type usageKey struct {
	day  string
	user engine.UserID
}

type seenKey struct {
	p  engine.Platform
	id engine.EventID
}

var _ engine.Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore whose clock is time.Now.
func NewMemStore() *MemStore {
	return &MemStore{
		now:      time.Now,
		convs:    make(map[engine.ConversationID]*memConv),
		active:   make(map[engine.ConversationKey]engine.ConversationID),
		settings: make(map[engine.ConversationKey]map[string]string),
		ops:      make(map[engine.ConversationKey][]engine.SettingChange),
		nextOp:   make(map[engine.ConversationKey]int),
		usage:    make(map[usageKey]engine.UsageDay),
		replies:  make(map[string]engine.ReplyState),
		seen:     make(map[seenKey]time.Time),
	}
}

// SetClock replaces the clock used for creation times, zero message
// timestamps and MarkSeen expiry. now must be safe for concurrent use; nil
// restores time.Now.
func (s *MemStore) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// FailWith makes every later call return an error wrapping err, to test how
// the engine copes with a failing store; nil makes the store work again.
func (s *MemStore) FailWith(err error) {
	s.mu.Lock()
	s.failErr = err
	s.mu.Unlock()
}

// lock takes the mutex and reports why the call must fail, if it must. The
// caller unlocks in every case.
func (s *MemStore) lock(ctx context.Context) error {
	s.mu.Lock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.failErr != nil {
		return fmt.Errorf("memstore: %w", s.failErr)
	}
	return nil
}

func checkKey(key engine.ConversationKey) error {
	if key == "" {
		return errors.New("empty conversation key")
	}
	if strings.ContainsRune(string(key), 0) {
		return fmt.Errorf("conversation key %q contains NUL", key)
	}
	return nil
}

func notFound(id engine.ConversationID) error {
	return fmt.Errorf("conversation %q: %w", id, engine.ErrNotFound)
}

// utc returns t in UTC without a monotonic reading, as a store keeps it.
func utc(t time.Time) time.Time { return t.UTC().Round(0) }

func (s *MemStore) conv(mc *memConv) engine.Conversation {
	c := mc.c
	c.Tags = slices.Clone(c.Tags)
	c.Active = s.active[c.Key] == c.ID
	return c
}

func (s *MemStore) create(key engine.ConversationKey) engine.Conversation {
	s.nextConv++
	now := utc(s.now())
	mc := &memConv{
		c: engine.Conversation{
			ID:        engine.ConversationID(fmt.Sprintf("conv-%06d", s.nextConv)),
			Key:       key,
			CreatedAt: now,
			UpdatedAt: now,
		},
		seq:     s.nextConv,
		nextMsg: 1,
	}
	s.convs[mc.c.ID] = mc
	s.active[key] = mc.c.ID
	return s.conv(mc)
}

// ActiveConversation implements engine.Store.
func (s *MemStore) ActiveConversation(ctx context.Context, key engine.ConversationKey) (engine.Conversation, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return engine.Conversation{}, err
	}
	if err := checkKey(key); err != nil {
		return engine.Conversation{}, err
	}
	if id, ok := s.active[key]; ok {
		if mc, ok := s.convs[id]; ok {
			return s.conv(mc), nil
		}
	}
	return s.create(key), nil
}

// NewConversation implements engine.Store.
func (s *MemStore) NewConversation(ctx context.Context, key engine.ConversationKey) (engine.Conversation, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return engine.Conversation{}, err
	}
	if err := checkKey(key); err != nil {
		return engine.Conversation{}, err
	}
	return s.create(key), nil
}

// Conversation implements engine.Store.
func (s *MemStore) Conversation(ctx context.Context, id engine.ConversationID) (engine.Conversation, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return engine.Conversation{}, err
	}
	mc, ok := s.convs[id]
	if !ok {
		return engine.Conversation{}, notFound(id)
	}
	return s.conv(mc), nil
}

// Conversations implements engine.Store.
func (s *MemStore) Conversations(ctx context.Context, key engine.ConversationKey) ([]engine.Conversation, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	var list []*memConv
	for _, mc := range s.convs {
		if key == "" || mc.c.Key == key {
			list = append(list, mc)
		}
	}
	slices.SortFunc(list, func(a, b *memConv) int {
		if c := a.c.CreatedAt.Compare(b.c.CreatedAt); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	out := make([]engine.Conversation, 0, len(list))
	for _, mc := range list {
		out = append(out, s.conv(mc))
	}
	return out, nil
}

// UpdateConversation implements engine.Store. It saves c.Title and c.Tags
// only.
func (s *MemStore) UpdateConversation(ctx context.Context, c engine.Conversation) error {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	mc, ok := s.convs[c.ID]
	if !ok {
		return notFound(c.ID)
	}
	mc.c.Title = c.Title
	mc.c.Tags = slices.Clone(c.Tags)
	return nil
}

func copyMessage(m engine.Message) engine.Message {
	if m.Metadata.Usage != nil {
		u := *m.Metadata.Usage
		m.Metadata.Usage = &u
	}
	return m
}

// AppendMessage implements engine.Store.
func (s *MemStore) AppendMessage(ctx context.Context, id engine.ConversationID, m engine.Message) (engine.Message, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return engine.Message{}, err
	}
	mc, ok := s.convs[id]
	if !ok {
		return engine.Message{}, notFound(id)
	}
	m = copyMessage(m)
	if m.ID == "" {
		m.ID = strconv.FormatUint(mc.nextMsg, 10)
	}
	mc.nextMsg++
	if m.Timestamp.IsZero() {
		m.Timestamp = s.now()
	}
	m.Timestamp = utc(m.Timestamp)
	mc.msgs = append(mc.msgs, m)
	mc.c.MessageCount++
	mc.c.TotalTokens += m.Tokens
	if m.Metadata.Usage != nil {
		mc.c.Cost += m.Metadata.Usage.Cost
	}
	if m.Model != "" {
		mc.c.ModelUsed = m.Model
	}
	mc.c.UpdatedAt = m.Timestamp
	return copyMessage(m), nil
}

// RecentMessages implements engine.Store.
func (s *MemStore) RecentMessages(ctx context.Context, id engine.ConversationID, n int) ([]engine.Message, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	mc, ok := s.convs[id]
	if !ok {
		return nil, notFound(id)
	}
	n = max(0, min(n, len(mc.msgs)))
	out := make([]engine.Message, 0, n)
	for _, m := range mc.msgs[len(mc.msgs)-n:] {
		out = append(out, copyMessage(m))
	}
	return out, nil
}

// Messages implements engine.Store.
func (s *MemStore) Messages(ctx context.Context, id engine.ConversationID) ([]engine.Message, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	mc, ok := s.convs[id]
	if !ok {
		return nil, notFound(id)
	}
	out := make([]engine.Message, 0, len(mc.msgs))
	for _, m := range mc.msgs {
		out = append(out, copyMessage(m))
	}
	return out, nil
}

// DeleteMessagesFrom implements engine.Store. When msgID occurs more than
// once, the last occurrence counts.
func (s *MemStore) DeleteMessagesFrom(ctx context.Context, conv engine.ConversationID, msgID string) error {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	mc, ok := s.convs[conv]
	if !ok {
		return notFound(conv)
	}
	for i := len(mc.msgs) - 1; i >= 0; i-- {
		if mc.msgs[i].ID == msgID {
			mc.c.MessageCount -= len(mc.msgs) - i
			mc.msgs = slices.Clip(mc.msgs[:i])
			return nil
		}
	}
	return fmt.Errorf("message %q of conversation %q: %w", msgID, conv, engine.ErrNotFound)
}

// DeleteConversations implements engine.Store.
func (s *MemStore) DeleteConversations(ctx context.Context, key engine.ConversationKey) error {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	for id, mc := range s.convs {
		if mc.c.Key == key {
			delete(s.convs, id)
		}
	}
	delete(s.active, key)
	delete(s.settings, key)
	delete(s.ops, key)
	for id, r := range s.replies {
		if r.Key == key {
			delete(s.replies, id)
		}
	}
	return nil
}

// Settings implements engine.Store.
func (s *MemStore) Settings(ctx context.Context, key engine.ConversationKey) (map[string]string, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	out := maps.Clone(s.settings[key])
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// SetSetting implements engine.Store.
func (s *MemStore) SetSetting(ctx context.Context, ch engine.SettingChange) (engine.SettingChange, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return engine.SettingChange{}, err
	}
	if err := checkKey(ch.Key); err != nil {
		return engine.SettingChange{}, err
	}
	if ch.Name == "" || strings.ContainsRune(ch.Name, 0) {
		return engine.SettingChange{}, fmt.Errorf("invalid setting name %q", ch.Name)
	}
	if ch.At.IsZero() {
		ch.At = s.now()
	}
	ch.At = utc(ch.At)
	ch.ID = ""
	ch.Old = s.settings[ch.Key][ch.Name]
	if ch.Old == ch.New {
		return ch, nil
	}
	if ch.New == "" {
		delete(s.settings[ch.Key], ch.Name)
	} else {
		if s.settings[ch.Key] == nil {
			s.settings[ch.Key] = map[string]string{}
		}
		s.settings[ch.Key][ch.Name] = ch.New
	}
	s.appendOp(&ch)
	return ch, nil
}

func (s *MemStore) appendOp(ch *engine.SettingChange) {
	s.nextOp[ch.Key]++
	ch.ID = strconv.Itoa(s.nextOp[ch.Key])
	s.ops[ch.Key] = append(s.ops[ch.Key], *ch)
}

// SettingChanges implements engine.Store.
func (s *MemStore) SettingChanges(ctx context.Context, key engine.ConversationKey, n int) ([]engine.SettingChange, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	ops := s.ops[key]
	if n > 0 && len(ops) > n {
		ops = ops[len(ops)-n:]
	}
	return append([]engine.SettingChange{}, ops...), nil
}

// SetDefaults implements engine.Store.
func (s *MemStore) SetDefaults(ctx context.Context, defaults map[string]string, at time.Time) ([]engine.SettingChange, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	var out []engine.SettingChange
	for _, name := range slices.Sorted(maps.Keys(defaults)) {
		if name == "" || strings.ContainsRune(name, 0) {
			return nil, fmt.Errorf("invalid setting name %q", name)
		}
		old, found := s.defaults[name]
		if found && old == defaults[name] {
			continue
		}
		if s.defaults == nil {
			s.defaults = map[string]string{}
		}
		s.defaults[name] = defaults[name]
		if !found {
			continue
		}
		ch := engine.SettingChange{At: utc(at), Key: engine.ConfigKey, User: engine.ConfigUser, Name: name, Old: old, New: defaults[name]}
		s.appendOp(&ch)
		out = append(out, ch)
	}
	return out, nil
}

// SetSecret implements engine.Store.
func (s *MemStore) SetSecret(ctx context.Context, name, value string) error {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	if name == "" || strings.ContainsRune(name, 0) {
		return fmt.Errorf("invalid secret name %q", name)
	}
	if value == "" {
		delete(s.secrets, name)
		return nil
	}
	if s.secrets == nil {
		s.secrets = map[string]string{}
	}
	s.secrets[name] = value
	return nil
}

// Secret implements engine.Store.
func (s *MemStore) Secret(ctx context.Context, name string) (string, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return "", err
	}
	v, ok := s.secrets[name]
	if !ok {
		return "", fmt.Errorf("secret %q: %w", name, engine.ErrNotFound)
	}
	return v, nil
}

// RecordUsage implements engine.Store.
func (s *MemStore) RecordUsage(ctx context.Context, at time.Time, user engine.UserID, u engine.Usage) error {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	if strings.ContainsRune(string(user), 0) {
		return fmt.Errorf("record usage: invalid user %q", user)
	}
	day := at.UTC().Format(time.DateOnly)
	users := []engine.UserID{""}
	if user != "" {
		users = append(users, user)
	}
	for _, who := range users {
		k := usageKey{day, who}
		d := s.usage[k]
		d.Day = day
		d.Requests++
		d.Usage = d.Usage.Add(u)
		s.usage[k] = d
	}
	return nil
}

// UsageOn implements engine.Store. A day without usage returns zero totals.
func (s *MemStore) UsageOn(ctx context.Context, day string, user engine.UserID) (engine.UsageDay, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return engine.UsageDay{}, err
	}
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return engine.UsageDay{}, fmt.Errorf("usage day %q: want YYYY-MM-DD", day)
	}
	d := s.usage[usageKey{day, user}]
	d.Day = day
	return d, nil
}

func copyReply(r engine.ReplyState) engine.ReplyState {
	r.MessageIDs = slices.Clone(r.MessageIDs)
	return r
}

// PutReply implements engine.Store.
func (s *MemStore) PutReply(ctx context.Context, r engine.ReplyState) error {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return err
	}
	if r.ID == "" || strings.ContainsRune(r.ID, 0) {
		return fmt.Errorf("invalid reply id %q", r.ID)
	}
	if strings.ContainsRune(string(r.Key), 0) {
		return fmt.Errorf("reply %q: conversation key %q contains NUL", r.ID, r.Key)
	}
	r = copyReply(r)
	r.UpdatedAt = utc(r.UpdatedAt)
	s.replies[r.ID] = r
	return nil
}

// UnfinishedReplies implements engine.Store. They come ordered by UpdatedAt,
// then ID.
func (s *MemStore) UnfinishedReplies(ctx context.Context) ([]engine.ReplyState, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	out := []engine.ReplyState{}
	for _, r := range s.replies {
		if !r.Status.Finished() {
			out = append(out, copyReply(r))
		}
	}
	slices.SortFunc(out, compareReplies)
	return out, nil
}

func compareReplies(a, b engine.ReplyState) int {
	if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// MarkSeen implements engine.Store.
func (s *MemStore) MarkSeen(ctx context.Context, p engine.Platform, id engine.EventID, ttl time.Duration) (bool, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return false, err
	}
	if p == "" || strings.ContainsRune(string(p), 0) {
		return false, fmt.Errorf("mark seen: invalid platform %q", p)
	}
	if ttl <= 0 {
		ttl = defaultSeenTTL
	}
	now := s.now()
	k := seenKey{p, id}
	if exp, ok := s.seen[k]; ok && now.Before(exp) {
		return true, nil
	}
	for k2, exp := range s.seen { // keep the map small
		if !now.Before(exp) {
			delete(s.seen, k2)
		}
	}
	s.seen[k] = now.Add(ttl)
	return false, nil
}

// Stats implements engine.Store. SizeBytes is always zero.
func (s *MemStore) Stats(ctx context.Context) (engine.StoreStats, error) {
	defer s.mu.Unlock()
	if err := s.lock(ctx); err != nil {
		return engine.StoreStats{}, err
	}
	return engine.StoreStats{Conversations: len(s.convs)}, nil
}
