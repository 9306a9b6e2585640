package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatbridge/chatbridge/engine"
)

// convRecord is the stored form of a conversation. Active is not stored
// truthfully: it is derived from the key's a/ record on every read.
type convRecord struct {
	engine.Conversation
	NextSeq uint64 `json:"next_seq"` // seq of the next message
}

func notFound(id engine.ConversationID) error {
	return fmt.Errorf("conversation %q: %w", id, engine.ErrNotFound)
}

// newConvID returns a fresh conversation id that sorts after every id this
// process made before.
func (s *Store) newConvID() engine.ConversationID {
	s.idMu.Lock()
	ms := s.now().UnixMilli()
	if ms <= s.lastID {
		ms = s.lastID + 1
	}
	s.lastID = ms
	s.idMu.Unlock()
	var r [2]byte
	_, _ = rand.Read(r[:])
	return engine.ConversationID(fmt.Sprintf("%012x%s", ms, hex.EncodeToString(r[:])))
}

// getConv reads conversation id in txn, with Active set.
func (s *Store) getConv(txn *badger.Txn, id engine.ConversationID) (convRecord, error) {
	var rec convRecord
	if id == "" || hasSep(string(id)) {
		return rec, notFound(id)
	}
	found, err := s.get(txn, convKey(id), &rec)
	if err != nil {
		return rec, err
	}
	if !found {
		return rec, notFound(id)
	}
	active, _, err := s.activeID(txn, rec.Key)
	if err != nil {
		return rec, err
	}
	rec.Active = active == rec.ID
	return rec, nil
}

func (s *Store) activeID(txn *badger.Txn, key engine.ConversationKey) (engine.ConversationID, bool, error) {
	var id engine.ConversationID
	found, err := s.get(txn, activeKey(key), &id)
	return id, found, err
}

// createConv adds a new conversation for key in txn and makes it active.
func (s *Store) createConv(txn *badger.Txn, key engine.ConversationKey) (convRecord, error) {
	now := s.now().UTC().Round(0)
	rec := convRecord{
		Conversation: engine.Conversation{ID: s.newConvID(), Key: key, CreatedAt: now, UpdatedAt: now},
		NextSeq:      1,
	}
	if err := putConv(txn, rec); err != nil {
		return rec, err
	}
	if err := txn.Set(keyIndexKey(key, rec.ID), encodeRaw(nil)); err != nil {
		return rec, fmt.Errorf("set index: %w", err)
	}
	if err := put(txn, activeKey(key), rec.ID); err != nil {
		return rec, err
	}
	rec.Active = true
	return rec, nil
}

func putConv(txn *badger.Txn, rec convRecord) error {
	rec.Active = false
	return put(txn, convKey(rec.ID), rec)
}

// ActiveConversation implements engine.Store.
func (s *Store) ActiveConversation(ctx context.Context, key engine.ConversationKey) (engine.Conversation, error) {
	if err := checkConvKey(key); err != nil {
		return engine.Conversation{}, fmt.Errorf("active conversation: %w", err)
	}
	var out convRecord
	err := s.update(ctx, func(txn *badger.Txn) error {
		id, found, err := s.activeID(txn, key)
		if err != nil {
			return err
		}
		if found {
			out, err = s.getConv(txn, id)
			if !errors.Is(err, engine.ErrNotFound) {
				return err
			}
		}
		out, err = s.createConv(txn, key)
		return err
	})
	if err != nil {
		return engine.Conversation{}, fmt.Errorf("active conversation of %q: %w", key, err)
	}
	return out.Conversation, nil
}

// NewConversation implements engine.Store.
func (s *Store) NewConversation(ctx context.Context, key engine.ConversationKey) (engine.Conversation, error) {
	if err := checkConvKey(key); err != nil {
		return engine.Conversation{}, fmt.Errorf("new conversation: %w", err)
	}
	var out convRecord
	err := s.update(ctx, func(txn *badger.Txn) error {
		var err error
		out, err = s.createConv(txn, key)
		return err
	})
	if err != nil {
		return engine.Conversation{}, fmt.Errorf("new conversation of %q: %w", key, err)
	}
	return out.Conversation, nil
}

// Conversation implements engine.Store.
func (s *Store) Conversation(ctx context.Context, id engine.ConversationID) (engine.Conversation, error) {
	var out convRecord
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		out, err = s.getConv(txn, id)
		return err
	})
	if err != nil {
		return engine.Conversation{}, fmt.Errorf("get conversation: %w", err)
	}
	return out.Conversation, nil
}

// Conversations implements engine.Store. They are ordered by creation time,
// then id.
func (s *Store) Conversations(ctx context.Context, key engine.ConversationKey) ([]engine.Conversation, error) {
	var out []engine.Conversation
	err := s.view(ctx, func(txn *badger.Txn) error {
		out = nil
		if key != "" {
			if hasSep(string(key)) {
				return nil
			}
			var ids []engine.ConversationID
			prefix := keyIndexPrefix(key)
			err := scanKeys(txn, prefix, func(k []byte) error {
				ids = append(ids, engine.ConversationID(k[len(prefix):]))
				return nil
			})
			if err != nil {
				return err
			}
			for _, id := range ids {
				rec, err := s.getConv(txn, id)
				if errors.Is(err, engine.ErrNotFound) {
					continue // unlinked by a concurrent delete
				}
				if err != nil {
					return err
				}
				out = append(out, rec.Conversation)
			}
			return nil
		}
		active := map[engine.ConversationKey]engine.ConversationID{}
		err := scan(txn, []byte(pActive), func(item *badger.Item) error {
			var id engine.ConversationID
			if err := s.decodeItem(item, &id); err != nil {
				return err
			}
			active[engine.ConversationKey(item.Key()[len(pActive):])] = id
			return nil
		})
		if err != nil {
			return err
		}
		return scan(txn, []byte(pConv), func(item *badger.Item) error {
			var rec convRecord
			if err := s.decodeItem(item, &rec); err != nil {
				return err
			}
			rec.Active = active[rec.Key] == rec.ID
			out = append(out, rec.Conversation)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	slices.SortFunc(out, func(a, b engine.Conversation) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	if out == nil {
		out = []engine.Conversation{}
	}
	return out, nil
}

// UpdateConversation implements engine.Store. It saves c.Title and c.Tags
// only: counters, key, times and Active belong to the store.
func (s *Store) UpdateConversation(ctx context.Context, c engine.Conversation) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		rec, err := s.getConv(txn, c.ID)
		if err != nil {
			return err
		}
		rec.Title = c.Title
		rec.Tags = slices.Clone(c.Tags)
		return putConv(txn, rec)
	})
	if err != nil {
		return fmt.Errorf("update conversation: %w", err)
	}
	return nil
}

// AppendMessage implements engine.Store. A zero m.Timestamp becomes the
// store's clock; the conversation's UpdatedAt becomes the message's
// Timestamp. An empty m.ID becomes the message's decimal seq.
func (s *Store) AppendMessage(ctx context.Context, id engine.ConversationID, m engine.Message) (engine.Message, error) {
	if m.Timestamp.IsZero() {
		m.Timestamp = s.now()
	}
	m.Timestamp = m.Timestamp.UTC().Round(0)
	givenID := m.ID
	err := s.update(ctx, func(txn *badger.Txn) error {
		rec, err := s.getConv(txn, id)
		if err != nil {
			return err
		}
		seq := max(rec.NextSeq, 1)
		m.ID = givenID
		if m.ID == "" {
			m.ID = strconv.FormatUint(seq, 10)
		}
		if err := put(txn, msgKey(id, seq), m); err != nil {
			return err
		}
		rec.NextSeq = seq + 1
		rec.MessageCount++
		rec.TotalTokens += m.Tokens
		if m.Metadata.Usage != nil {
			rec.Cost += m.Metadata.Usage.Cost
		}
		if m.Model != "" {
			rec.ModelUsed = m.Model
		}
		rec.UpdatedAt = m.Timestamp
		return putConv(txn, rec)
	})
	if err != nil {
		return engine.Message{}, fmt.Errorf("append message: %w", err)
	}
	if m.Metadata.Usage != nil {
		u := *m.Metadata.Usage
		m.Metadata.Usage = &u
	}
	return m, nil
}

// RecentMessages implements engine.Store. It reads the last n message keys
// by a reverse scan, so it costs O(n) whatever the conversation's length.
func (s *Store) RecentMessages(ctx context.Context, id engine.ConversationID, n int) ([]engine.Message, error) {
	out := []engine.Message{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		out = out[:0]
		if _, err := s.getConv(txn, id); err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		return scanLast(txn, msgPrefix(id), n, func(item *badger.Item) error {
			var m engine.Message
			if err := s.decodeItem(item, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("recent messages: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// Messages implements engine.Store.
func (s *Store) Messages(ctx context.Context, id engine.ConversationID) ([]engine.Message, error) {
	out := []engine.Message{}
	err := s.view(ctx, func(txn *badger.Txn) error {
		out = out[:0]
		if _, err := s.getConv(txn, id); err != nil {
			return err
		}
		return scan(txn, msgPrefix(id), func(item *badger.Item) error {
			var m engine.Message
			if err := s.decodeItem(item, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	return out, nil
}

// DeleteMessagesFrom implements engine.Store. It scans back from the end
// for msgID (its last occurrence), so it suits the tail of a conversation
// (/retry). MessageCount drops; TotalTokens and Cost keep what was spent.
func (s *Store) DeleteMessagesFrom(ctx context.Context, conv engine.ConversationID, msgID string) error {
	err := s.update(ctx, func(txn *badger.Txn) error {
		rec, err := s.getConv(txn, conv)
		if err != nil {
			return err
		}
		prefix := msgPrefix(conv)
		opt := badger.DefaultIteratorOptions
		opt.Reverse = true
		opt.Prefix = prefix
		opt.PrefetchValues = false
		it := txn.NewIterator(opt)
		var doomed [][]byte
		found := false
		for it.Seek(msgKey(conv, ^uint64(0))); it.Valid(); it.Next() {
			var m engine.Message
			if err := s.decodeItem(it.Item(), &m); err != nil {
				it.Close()
				return err
			}
			doomed = append(doomed, it.Item().KeyCopy(nil))
			if m.ID == msgID {
				found = true
				break
			}
		}
		it.Close()
		if !found {
			return fmt.Errorf("message %q of conversation %q: %w", msgID, conv, engine.ErrNotFound)
		}
		for _, k := range doomed {
			if err := txn.Delete(k); err != nil {
				return fmt.Errorf("delete %q: %w", k, err)
			}
		}
		rec.MessageCount = max(0, rec.MessageCount-len(doomed))
		return putConv(txn, rec)
	})
	if err != nil {
		return fmt.Errorf("delete messages: %w", err)
	}
	return nil
}

// DeleteConversations implements engine.Store. The conversations are
// unlinked in one transaction, then their messages, the key's settings and
// reply states are deleted in chunks.
func (s *Store) DeleteConversations(ctx context.Context, key engine.ConversationKey) error {
	if err := checkConvKey(key); err != nil {
		return fmt.Errorf("delete conversations: %w", err)
	}
	var ids []engine.ConversationID
	err := s.update(ctx, func(txn *badger.Txn) error {
		ids = ids[:0]
		prefix := keyIndexPrefix(key)
		err := scanKeys(txn, prefix, func(k []byte) error {
			ids = append(ids, engine.ConversationID(k[len(prefix):]))
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := txn.Get(convKey(id)); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
				return err // read for conflict detection with appends
			}
			for _, k := range [][]byte{convKey(id), keyIndexKey(key, id)} {
				if err := txn.Delete(k); err != nil {
					return err
				}
			}
		}
		return txn.Delete(activeKey(key))
	})
	if err != nil {
		return fmt.Errorf("delete conversations of %q: %w", key, err)
	}
	prefixes := [][]byte{settingPrefix(key), opPrefix(key), unfinishedPrefix(key), replyPrefix(key)}
	for _, id := range ids {
		prefixes = append(prefixes, msgPrefix(id))
	}
	for _, p := range prefixes {
		if _, err := s.deletePrefix(ctx, p); err != nil {
			return fmt.Errorf("delete conversations of %q: %w", key, err)
		}
	}
	return nil
}
