package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 250 and 50 ticks.
	rest := " S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 12 0 100 2000000 500"
	tests := []struct {
		name, stat string
		want       time.Duration
		wantErr    string
	}{
		{"plain", "1234 (chatbridge)" + rest, 3 * time.Second, ""},
		{"name with spaces and parens", "1234 (a (b) c) d)" + rest, 3 * time.Second, ""},
		{"no name", "1234 chatbridge" + rest, 0, "no command name"},
		{"truncated", "1234 (chatbridge) S 1 2 3", 0, "fields after the command name"},
		{"bad utime", "1234 (x) S 1 2 3 4 5 6 7 8 9 10 x 50 0", 0, "utime"},
		{"bad stime", "1234 (x) S 1 2 3 4 5 6 7 8 9 10 1 y 0", 0, "stime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStatCPU(tt.stat)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tchatbridge\nVmPeak:\t 1000 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\nRssAnon:\t 8192 kB\nRssFile:\t 12288 kB\nThreads:\t9\n"
	m, err := ParseStatusMemory(strings.NewReader(status))
	if err != nil || m["VmRSS"] != 20<<20 || m["VmHWM"] != 40<<20 || m["RssAnon"] != 8<<20 || len(m) != 3 {
		t.Fatalf("= %v, %v; want VmRSS 20 MiB, VmHWM 40 MiB, RssAnon 8 MiB", m, err)
	}
	for name, bad := range map[string]string{
		"missing":   "Name:\tx\nThreads:\t1\n",
		"no anon":   "VmRSS:\t 1 kB\nVmHWM:\t 1 kB\n",
		"bad unit":  "VmRSS:\t 1 MB\nVmHWM:\t 1 kB\nRssAnon:\t 1 kB\n",
		"bad value": "VmRSS:\t x kB\nVmHWM:\t 1 kB\nRssAnon:\t 1 kB\n",
	} {
		if _, err := ParseStatusMemory(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: no error for %q", name, bad)
		}
	}
}

func TestReadProc_Self(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS || s.Anon <= 0 || s.Anon > s.RSS {
		t.Errorf("RSS %d, HWM %d: want 0 < RSS <= HWM", s.RSS, s.HWM)
	}
	if _, err := ReadProc(-1); err == nil {
		t.Error("ReadProc of no process gave no error")
	}
}
