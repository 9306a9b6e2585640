package main

import (
	"errors"
	"flag"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOptions_Defaults(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/tmp/cache-home")
	o, err := ParseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Platforms, []string{"telegram", "discord", "slack"}) || o.Chats != 100 ||
		o.TokensPerReply != 200 || o.TokenRate != 20 || o.DBSize != 1<<30 || o.StartupRuns != 5 {
		t.Errorf("defaults = %+v", o)
	}
	if o.CacheDir != filepath.Join("/tmp/cache-home", "chatbridge-load") {
		t.Errorf("cache dir %q does not follow XDG_CACHE_HOME", o.CacheDir)
	}
	if o.TokenDelay() != 50*time.Millisecond {
		t.Errorf("20 tokens/s gives a delay of %v, want 50ms", o.TokenDelay())
	}
}

func TestParseOptions_Given(t *testing.T) {
	o, err := ParseOptions([]string{"-platforms", " Slack,telegram ", "-chats", "1000", "-tokens-per-reply", "50",
		"-token-rate", "100", "-ramp", "5s", "-db-size", "200MiB", "-cache-dir", "/x", "-bin", "/b/chatbridge"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Platforms, []string{"telegram", "slack"}) {
		t.Errorf("platforms %v, want telegram, slack in report order", o.Platforms)
	}
	if o.Chats != 1000 || o.TokensPerReply != 50 || o.TokenDelay() != 10*time.Millisecond || o.Ramp != 5*time.Second ||
		o.DBSize != 200<<20 || o.CacheDir != "/x" || o.Bin != "/b/chatbridge" {
		t.Errorf("options = %+v", o)
	}
}

func TestParseOptions_Errors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-chats", "0"}, "-chats 0: want 1..5000"},
		{[]string{"-chats", "5001"}, "-chats 5001"},
		{[]string{"-chats", "many"}, "invalid value"},
		{[]string{"-tokens-per-reply", "0"}, "-tokens-per-reply 0"},
		{[]string{"-token-rate", "0"}, "-token-rate 0"},
		{[]string{"-token-rate", "NaN"}, "-token-rate NaN"},
		{[]string{"-ramp", "-1s"}, "-ramp -1s"},
		{[]string{"-timeout", "0s"}, "-timeout 0s"},
		{[]string{"-stall", "0s"}, "-stall 0s"},
		{[]string{"-startup-runs", "0"}, "-startup-runs 0"},
		{[]string{"-platforms", "telegram,irc"}, `unknown platform "irc"`},
		{[]string{"-platforms", "slack,slack"}, `"slack" given twice`},
		{[]string{"-platforms", " , "}, "-platforms: empty"},
		{[]string{"-db-size", "lots"}, `-db-size: "lots" is not a size`},
		{[]string{"-db-size", "-1GB"}, "-db-size"},
		{[]string{"-startup-only", "-db-size", "0"}, "nothing to measure"},
		{[]string{"-nope"}, "not defined"},
		{[]string{"telegram"}, `unexpected argument "telegram"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := ParseOptions(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := ParseOptions([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h gave %v, want flag.ErrHelp", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1024": 1024, "1GiB": 1 << 30, "1 gib": 1 << 30, "1.5MiB": 3 << 19, "500MB": 500e6,
		"2GB": 2e9, "64KiB": 64 << 10, "10kb": 10e3, "7B": 7,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "GiB", "x", "-5", "2TiB", "1e20"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) gave no error", bad)
		}
	}
}

func TestRun_BadFlagsExit2(t *testing.T) {
	var stderr strings.Builder
	if code := run(t.Context(), []string{"-chats", "-3"}, io.Discard, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "chatload: -chats -3: want 1..5000") {
		t.Errorf("stderr %q does not explain the flag", stderr.String())
	}
	if code := run(t.Context(), []string{"-h"}, io.Discard, io.Discard); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
}
