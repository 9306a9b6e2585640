package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatbridge/chatbridge/engine"
)

func opPrefix(k engine.ConversationKey) []byte { return []byte(pSettingOp + string(k) + sep) }

func opKey(k engine.ConversationKey, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(opPrefix(k), seq)
}

func defaultKey(name string) []byte { return []byte(pDefault + name) }

// Settings implements engine.Store.
func (s *Store) Settings(ctx context.Context, key engine.ConversationKey) (map[string]string, error) {
	out := map[string]string{}
	if hasSep(string(key)) {
		return out, nil
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		clear(out)
		prefix := settingPrefix(key)
		return scan(txn, prefix, func(item *badger.Item) error {
			var v string
			if err := s.decodeItem(item, &v); err != nil {
				return err
			}
			out[string(item.Key()[len(prefix):])] = v
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("settings of %q: %w", key, err)
	}
	return out, nil
}

// SetSetting implements engine.Store.
func (s *Store) SetSetting(ctx context.Context, ch engine.SettingChange) (engine.SettingChange, error) {
	if err := checkConvKey(ch.Key); err != nil {
		return engine.SettingChange{}, fmt.Errorf("set setting: %w", err)
	}
	if ch.Name == "" || hasSep(ch.Name) {
		return engine.SettingChange{}, fmt.Errorf("set setting: invalid name %q", ch.Name)
	}
	if ch.At.IsZero() {
		ch.At = s.now()
	}
	ch.At = ch.At.UTC().Round(0)
	k := append(settingPrefix(ch.Key), ch.Name...)
	var out engine.SettingChange
	err := s.update(ctx, func(txn *badger.Txn) error {
		out = ch
		out.ID = ""
		if _, err := s.get(txn, k, &out.Old); err != nil {
			return err
		}
		if out.Old == out.New {
			return nil
		}
		if out.New == "" {
			if err := txn.Delete(k); err != nil {
				return err
			}
		} else if err := put(txn, k, out.New); err != nil {
			return err
		}
		return s.appendOp(txn, &out)
	})
	if err != nil {
		return engine.SettingChange{}, fmt.Errorf("set setting %q of %q: %w", ch.Name, ch.Key, err)
	}
	return out, nil
}

// appendOp stores ch as the next operation of its key, setting ch.ID.
func (s *Store) appendOp(txn *badger.Txn, ch *engine.SettingChange) error {
	seq, err := lastSeq(txn, opPrefix(ch.Key))
	if err != nil {
		return err
	}
	seq++
	ch.ID = strconv.FormatUint(seq, 10)
	return put(txn, opKey(ch.Key, seq), ch)
}

// lastSeq returns the sequence number of the last key under prefix, whose
// keys end in an 8-byte big-endian sequence; 0 when there is none.
func lastSeq(txn *badger.Txn, prefix []byte) (uint64, error) {
	var seq uint64
	err := scanLast(txn, prefix, 1, func(item *badger.Item) error {
		key := item.Key()
		if len(key) != len(prefix)+8 {
			return fmt.Errorf("operation key %q: %w", key, engine.ErrCorrupt)
		}
		seq = binary.BigEndian.Uint64(key[len(prefix):])
		return nil
	})
	return seq, err
}

// SettingChanges implements engine.Store. It reads the last n operations by
// a reverse scan, O(n).
func (s *Store) SettingChanges(ctx context.Context, key engine.ConversationKey, n int) ([]engine.SettingChange, error) {
	out := []engine.SettingChange{}
	if hasSep(string(key)) || key == "" {
		return out, nil
	}
	err := s.view(ctx, func(txn *badger.Txn) error {
		out = out[:0]
		return scanLast(txn, opPrefix(key), n, func(item *badger.Item) error {
			var ch engine.SettingChange
			if err := s.decodeItem(item, &ch); err != nil {
				return err
			}
			ch.Key = key
			out = append(out, ch)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("setting changes of %q: %w", key, err)
	}
	slices.Reverse(out)
	return out, nil
}

// SetDefaults implements engine.Store.
func (s *Store) SetDefaults(ctx context.Context, defaults map[string]string, at time.Time) ([]engine.SettingChange, error) {
	names := make([]string, 0, len(defaults))
	for name := range defaults {
		if name == "" || hasSep(name) {
			return nil, fmt.Errorf("set defaults: invalid name %q", name)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	at = at.UTC().Round(0)
	var out []engine.SettingChange
	err := s.update(ctx, func(txn *badger.Txn) error {
		out = out[:0]
		for _, name := range names {
			var old string
			found, err := s.get(txn, defaultKey(name), &old)
			if err != nil {
				return err
			}
			if found && old == defaults[name] {
				continue
			}
			if err := put(txn, defaultKey(name), defaults[name]); err != nil {
				return err
			}
			if !found {
				continue // the first start: nothing changed
			}
			ch := engine.SettingChange{At: at, Key: engine.ConfigKey, User: engine.ConfigUser, Name: name, Old: old, New: defaults[name]}
			if err := s.appendOp(txn, &ch); err != nil {
				return err
			}
			out = append(out, ch)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set defaults: %w", err)
	}
	return out, nil
}
