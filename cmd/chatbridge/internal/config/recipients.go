package config

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// acceptedRecipients describes what storage.backup_age_recipients accepts.
const acceptedRecipients = `age public keys, like ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"] ` +
	"(age-keygen prints one; age-keygen -y FILE prints an identity's), all classic (age1...) or all post-quantum (age1pq1...)"

// AgeRecipients parses storage.backup_age_recipients. It returns nil when
// the list is empty (backups are not encrypted). The error names the first
// bad entry without ever quoting a secret key pasted by mistake; Load
// reports the same problems, so after a successful Load it does not fail.
func (s *Storage) AgeRecipients() ([]age.Recipient, error) {
	if len(s.BackupAgeRecipients) == 0 {
		return nil, nil
	}
	out := make([]age.Recipient, 0, len(s.BackupAgeRecipients))
	for i, r := range s.BackupAgeRecipients {
		rec, err := parseRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("storage.backup_age_recipients: entry %d %w", i+1, err)
		}
		out = append(out, rec)
	}
	// age refuses to mix some kinds of recipient (post-quantum with
	// classic); find out now rather than at the first backup.
	if _, err := age.Encrypt(io.Discard, out...); err != nil {
		return nil, fmt.Errorf("storage.backup_age_recipients: these recipients cannot be used together: %w", err)
	}
	return out, nil
}

// parseRecipient parses one age recipient ("age1..." or "age1pq1...").
func parseRecipient(s string) (age.Recipient, error) {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(strings.ToUpper(t), "AGE-SECRET-KEY-"):
		// Never echo it: it is the private key.
		return nil, errors.New("is an age secret key (identity), not a recipient; " +
			"put the public key here (age-keygen -y FILE prints it) and keep the secret key for restore -identity")
	case t != s || strings.ContainsAny(s, "\r\n\t ") || !strings.HasPrefix(s, "age1"):
		return nil, fmt.Errorf("%q is not an age recipient", s)
	}
	recs, err := age.ParseRecipients(strings.NewReader(s))
	if err != nil || len(recs) != 1 {
		return nil, fmt.Errorf("%q is not a valid age recipient", s)
	}
	return recs[0], nil
}

// checkRecipients records the problems of storage.backup_age_recipients.
func (l *loader) checkRecipients(s *Storage) {
	const key = "storage.backup_age_recipients"
	bad := false
	for i, r := range s.BackupAgeRecipients {
		if _, err := parseRecipient(r); err != nil {
			bad = true
			l.add(key, fmt.Sprintf("entry %d %s", i+1, err), acceptedRecipients)
		}
	}
	if bad {
		return
	}
	if _, err := s.AgeRecipients(); err != nil {
		l.add(key, strings.TrimPrefix(err.Error(), key+": "), acceptedRecipients)
	}
}
