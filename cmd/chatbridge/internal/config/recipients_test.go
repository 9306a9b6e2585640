package config

import (
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"
)

func TestLoad_BackupAgeRecipients(t *testing.T) {
	x1, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	x2, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	pq, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	list := func(rs ...string) string {
		return fmt.Sprintf("[storage]\n\nbackup_age_recipients = [%s]\n", `"`+strings.Join(rs, `", "`)+`"`)
	}

	t.Run("valid recipients load and parse", func(t *testing.T) {
		cfg := mustLoad(t, list(x1.Recipient().String(), x2.Recipient().String()), nil)
		recs, err := cfg.Storage.AgeRecipients()
		if err != nil || len(recs) != 2 {
			t.Fatalf("AgeRecipients = %v, %v", recs, err)
		}
		cfg = mustLoad(t, list(pq.Recipient().String()), nil)
		if recs, err := cfg.Storage.AgeRecipients(); err != nil || len(recs) != 1 {
			t.Fatalf("post-quantum: %v, %v", recs, err)
		}
	})

	t.Run("none means not encrypted", func(t *testing.T) {
		cfg := mustLoad(t, "[storage]\nbackup_age_recipients = []\n", nil)
		if recs, err := cfg.Storage.AgeRecipients(); recs != nil || err != nil {
			t.Fatalf("got %v, %v", recs, err)
		}
	})

	t.Run("the example's recipient is valid", func(t *testing.T) {
		mustLoad(t, list("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"), nil)
	})

	t.Run("bad entries are named with key and line", func(t *testing.T) {
		bad := x1.Recipient().String()
		bad = bad[:len(bad)-1] + string("qpzry9x8"[strings.IndexByte("qpzry9x8", bad[len(bad)-1])%7+1])
		errs := loadErrors(t, list(x1.Recipient().String(), "ssh-ed25519 AAAA", bad, " "+x2.Recipient().String()), nil)
		if len(errs) != 3 {
			t.Fatalf("got %d problems:\n%v", len(errs), errs)
		}
		check(t, errs[0], want{line: 3, key: "storage.backup_age_recipients", problem: `entry 2 "ssh-ed25519 AAAA" is not an age recipient`, accepted: "age1"})
		check(t, errs[1], want{line: 3, key: "storage.backup_age_recipients", problem: "entry 3 " + fmt.Sprintf("%q", bad) + " is not a valid age recipient"})
		check(t, errs[2], want{line: 3, key: "storage.backup_age_recipients", problem: "entry 4 "})
	})

	t.Run("a secret key is refused and never shown", func(t *testing.T) {
		errs := loadErrors(t, list(x1.String()), nil)
		checkOne(t, errs, want{line: 3, key: "storage.backup_age_recipients", problem: "entry 1 is an age secret key (identity), not a recipient"})
		if strings.Contains(errs.Error(), x1.String()) || strings.Contains(errs.Error(), strings.ToLower(x1.String())) {
			t.Errorf("the secret key appears in the error: %v", errs)
		}
	})

	t.Run("classic and post-quantum do not mix", func(t *testing.T) {
		errs := loadErrors(t, list(x1.Recipient().String(), pq.Recipient().String()), nil)
		checkOne(t, errs, want{line: 3, key: "storage.backup_age_recipients", problem: "cannot be used together", accepted: "all classic"})
	})

	t.Run("wrong type", func(t *testing.T) {
		errs := loadErrors(t, "[storage]\nbackup_age_recipients = \"age1x\"\n", nil)
		checkOne(t, errs, want{line: 2, key: "storage.backup_age_recipients", problem: "expected an array"})
	})
}
