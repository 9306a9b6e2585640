package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/dgraph-io/badger/v4"

	"github.com/chatbridge/chatbridge/engine"
)

// SecretKeyFile is the file in the data directory that holds the age
// identity sealing secrets when the database itself is not encrypted. It
// is not part of a backup: a backup restored elsewhere carries the secrets
// only sealed, and they must be set again.
const SecretKeyFile = "secrets.agekey"

// maxSecret bounds a stored secret.
const maxSecret = 4096

func secretKey(name string) []byte { return []byte(pSecret + name) }

// secretRecord is a stored secret: plain inside an encrypted database,
// else sealed with age.
type secretRecord struct {
	Plain string `json:"plain,omitempty"`
	Age   []byte `json:"age,omitempty"`
}

// SetSecret implements engine.Store. Inside an encrypted database the
// value is stored as is (Badger encrypts it); otherwise it is sealed with
// age to the identity in SecretKeyFile, created (0600) on first use. An
// empty value deletes the secret.
func (s *Store) SetSecret(ctx context.Context, name, value string) error {
	if name == "" || hasSep(name) {
		return fmt.Errorf("set secret: invalid name %q", name)
	}
	if len(value) > maxSecret {
		return fmt.Errorf("set secret %q: %d bytes, at most %d", name, len(value), maxSecret)
	}
	var rec secretRecord
	if value != "" {
		if s.encrypted {
			rec.Plain = value
		} else {
			id, err := s.secretIdentity(true)
			if err != nil {
				return fmt.Errorf("set secret %q: %w", name, err)
			}
			var buf bytes.Buffer
			w, err := age.Encrypt(&buf, id.Recipient())
			if err == nil {
				_, err = io.WriteString(w, value)
			}
			if err == nil {
				err = w.Close()
			}
			if err != nil {
				return fmt.Errorf("set secret %q: seal: %w", name, err)
			}
			rec.Age = buf.Bytes()
		}
	}
	err := s.update(ctx, func(txn *badger.Txn) error {
		if value == "" {
			return txn.Delete(secretKey(name))
		}
		return put(txn, secretKey(name), rec)
	})
	if err != nil {
		return fmt.Errorf("set secret %q: %w", name, err)
	}
	return nil
}

// Secret implements engine.Store. A sealed secret whose identity file is
// missing or different (a restored backup) is an error, not ErrNotFound.
func (s *Store) Secret(ctx context.Context, name string) (string, error) {
	var rec secretRecord
	var found bool
	err := s.view(ctx, func(txn *badger.Txn) error {
		var err error
		found, err = s.get(txn, secretKey(name), &rec)
		return err
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("secret %q: %w", name, err)
	case !found || (rec.Plain == "" && len(rec.Age) == 0):
		return "", fmt.Errorf("secret %q: %w", name, engine.ErrNotFound)
	case len(rec.Age) == 0:
		return rec.Plain, nil
	}
	id, err := s.secretIdentity(false)
	if err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	r, err := age.Decrypt(bytes.NewReader(rec.Age), id)
	if err != nil {
		return "", fmt.Errorf("secret %q: it was sealed with another %s (a restored backup?): %w", name, SecretKeyFile, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSecret+1))
	if err != nil {
		return "", fmt.Errorf("secret %q: %w", name, err)
	}
	return string(b), nil
}

// secretIdentity loads the age identity of SecretKeyFile, creating it when
// create is set and it does not exist.
func (s *Store) secretIdentity(create bool) (*age.X25519Identity, error) {
	s.secretMu.Lock()
	defer s.secretMu.Unlock()
	if s.secretID != nil {
		return s.secretID, nil
	}
	path := filepath.Join(s.dir, SecretKeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		id, err := age.ParseX25519Identity(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		s.secretID = id
		return id, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", path, err)
	case !create:
		return nil, fmt.Errorf("%s is missing (a restored backup?)", path)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	_, err = fmt.Fprintln(f, id.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	s.secretID = id
	return id, nil
}
