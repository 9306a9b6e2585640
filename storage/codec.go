package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/chatbridge/chatbridge/engine"
)

// Key prefixes; see the package documentation for the layout.
const (
	pConv       = "c/"
	pKeyIndex   = "k/"
	pActive     = "a/"
	pMessage    = "m/"
	pSetting    = "s/"
	pSettingOp  = "o/"
	pDefault    = "p/"
	pSecret     = "x/"
	pUsage      = "d/"
	pReply      = "r/"
	pUnfinished = "q/"
	pSeen       = "e/"
	sep         = "\x00"
)

const (
	recordVersion = 1
	headerLen     = 5 // version byte + CRC-32C
	// maxCorruptTracked bounds the set of corrupt keys kept for Stats.
	maxCorruptTracked = 10000
)

func crc(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

func convKey(id engine.ConversationID) []byte { return []byte(pConv + string(id)) }

func keyIndexPrefix(k engine.ConversationKey) []byte { return []byte(pKeyIndex + string(k) + sep) }

func keyIndexKey(k engine.ConversationKey, id engine.ConversationID) []byte {
	return append(keyIndexPrefix(k), id...)
}

func activeKey(k engine.ConversationKey) []byte { return []byte(pActive + string(k)) }

func msgPrefix(id engine.ConversationID) []byte { return []byte(pMessage + string(id) + sep) }

func msgKey(id engine.ConversationID, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(msgPrefix(id), seq)
}

// msgConv returns the conversation id of a message key.
func msgConv(key []byte) (engine.ConversationID, bool) {
	if len(key) < len(pMessage)+len(sep)+8 || string(key[:len(pMessage)]) != pMessage {
		return "", false
	}
	return engine.ConversationID(key[len(pMessage) : len(key)-8-len(sep)]), true
}

func settingPrefix(k engine.ConversationKey) []byte { return []byte(pSetting + string(k) + sep) }

func usageKey(day string, user engine.UserID) []byte {
	return []byte(pUsage + day + sep + string(user))
}

func replyPrefix(k engine.ConversationKey) []byte { return []byte(pReply + string(k) + sep) }

func unfinishedPrefix(k engine.ConversationKey) []byte {
	return []byte(pUnfinished + string(k) + sep)
}

func seenKey(p engine.Platform, id engine.EventID) []byte {
	return []byte(pSeen + string(p) + sep + string(id))
}

// hasSep reports whether a key part would break the layout.
func hasSep(s string) bool { return strings.Contains(s, sep) }

func checkConvKey(k engine.ConversationKey) error {
	if k == "" {
		return errors.New("empty conversation key")
	}
	if hasSep(string(k)) {
		return fmt.Errorf("conversation key %q contains NUL", k)
	}
	return nil
}

// encodeRaw frames payload as a stored value.
func encodeRaw(payload []byte) []byte {
	b := make([]byte, headerLen, headerLen+len(payload))
	b[0] = recordVersion
	binary.BigEndian.PutUint32(b[1:], crc(payload))
	return append(b, payload...)
}

// encode frames v's JSON as a stored value.
func encode(v any) ([]byte, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return encodeRaw(payload), nil
}

// checkValue returns the payload of a stored value, or an error wrapping
// engine.ErrCorrupt. The payload aliases b.
func checkValue(b []byte) ([]byte, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("value of %d bytes is too short: %w", len(b), engine.ErrCorrupt)
	}
	if b[0] != recordVersion {
		return nil, fmt.Errorf("unknown record version %d: %w", b[0], engine.ErrCorrupt)
	}
	payload := b[headerLen:]
	if want, got := binary.BigEndian.Uint32(b[1:]), crc(payload); want != got {
		return nil, fmt.Errorf("checksum %08x, want %08x: %w", got, want, engine.ErrCorrupt)
	}
	return payload, nil
}

// decodeItem checks and decodes the value of item into v (nil: check only).
// A bad value is counted and reported wrapping engine.ErrCorrupt.
func (s *Store) decodeItem(item *badger.Item, v any) error {
	err := item.Value(func(b []byte) error {
		payload, err := checkValue(b)
		if err != nil {
			return err
		}
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(payload, v); err != nil {
			return fmt.Errorf("%w: %w", engine.ErrCorrupt, err)
		}
		return nil
	})
	if errors.Is(err, engine.ErrCorrupt) {
		s.noteCorrupt(item.Key())
		return fmt.Errorf("record %q: %w", item.Key(), err)
	}
	if err != nil {
		return fmt.Errorf("read %q: %w", item.Key(), err)
	}
	return nil
}

// get decodes the record at key into v; found is false when there is none.
func (s *Store) get(txn *badger.Txn, key []byte, v any) (found bool, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("get %q: %w", key, err)
	}
	return true, s.decodeItem(item, v)
}

// put stores v at key.
func put(txn *badger.Txn, key []byte, v any) error {
	b, err := encode(v)
	if err != nil {
		return err
	}
	if err := txn.Set(key, b); err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	return nil
}

func (s *Store) noteCorrupt(key []byte) {
	s.corruptMu.Lock()
	defer s.corruptMu.Unlock()
	if len(s.corrupt) < maxCorruptTracked {
		s.corrupt[string(key)] = struct{}{}
	}
}

func (s *Store) corruptCount() int {
	s.corruptMu.Lock()
	defer s.corruptMu.Unlock()
	return len(s.corrupt)
}

// scanKeys calls fn with each key under prefix, in order, without reading
// values. The key is valid only during the call.
func scanKeys(txn *badger.Txn, prefix []byte, fn func(key []byte) error) error {
	opt := badger.DefaultIteratorOptions
	opt.PrefetchValues = false
	opt.Prefix = prefix
	it := txn.NewIterator(opt)
	defer it.Close()
	for it.Seek(prefix); it.Valid(); it.Next() {
		if err := fn(it.Item().Key()); err != nil {
			return err
		}
	}
	return nil
}

// scanLast calls fn with the last n items under prefix, newest first (all
// of them when n <= 0), for keys that end in an 8-byte big-endian
// sequence: a reverse scan, O(n) whatever the prefix holds. The item is
// valid only during the call.
func scanLast(txn *badger.Txn, prefix []byte, n int, fn func(item *badger.Item) error) error {
	opt := badger.DefaultIteratorOptions
	opt.Reverse = true
	opt.Prefix = prefix
	opt.PrefetchValues = false
	it := txn.NewIterator(opt)
	defer it.Close()
	read := 0
	for it.Seek(binary.BigEndian.AppendUint64(slices.Clone(prefix), ^uint64(0))); it.Valid() && (n <= 0 || read < n); it.Next() {
		if err := fn(it.Item()); err != nil {
			return err
		}
		read++
	}
	return nil
}

// scan calls fn with each item under prefix, in order. The item is valid
// only during the call.
func scan(txn *badger.Txn, prefix []byte, fn func(item *badger.Item) error) error {
	opt := badger.DefaultIteratorOptions
	opt.PrefetchValues = false
	opt.Prefix = prefix
	it := txn.NewIterator(opt)
	defer it.Close()
	for it.Seek(prefix); it.Valid(); it.Next() {
		if err := fn(it.Item()); err != nil {
			return err
		}
	}
	return nil
}
