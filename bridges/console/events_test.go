package console

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine"
)

func TestEventFromLine_Cases(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		line     string
		wantOK   bool
		wantCmd  string
		wantText string
	}{
		{"plain text", "hello there", true, "", "hello there"},
		{"surrounding white space trimmed", "  \t hello  there \t ", true, "", "hello  there"},
		{"empty line skipped", "", false, "", ""},
		{"blank line skipped", " \t  ", false, "", ""},
		{"command alone", "/help", true, "help", ""},
		{"command with args", "/model  openai/gpt-4o  ", true, "model", "openai/gpt-4o"},
		{"command upper case", "/Model X", true, "model", "X"},
		{"command with bot suffix", "/new@chatbridge_bot", true, "new", ""},
		{"command with bot suffix and args", "/system@bot  be brief ", true, "system", "be brief"},
		{"command after leading space", "  /stop", true, "stop", ""},
		{"command with tab before args", "/tag\tadd x", true, "tag", "add x"},
		{"command args keep inner lines of spaces", "/system a  b", true, "system", "a  b"},
		{"path is text", "/usr/bin/env is missing", true, "", "/usr/bin/env is missing"},
		{"slash and digit is text", "/2 of them", true, "", "/2 of them"},
		{"slash alone is text", "/", true, "", "/"},
		{"slash and space is text", "/ x", true, "", "/ x"},
		{"double slash is text", "//comment", true, "", "//comment"},
		{"invalid UTF-8 replaced", "caf\xe9", true, "", "caf\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := eventFromLine(tt.line, "chat", "user", now)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			want := engine.Event{
				Platform: "console", Chat: "chat", User: "user", UserName: "user",
				Private: true, Command: tt.wantCmd, Text: tt.wantText, Time: now,
			}
			if *ev != want {
				t.Errorf("event = %+v\nwant    %+v", *ev, want)
			}
		})
	}
}

func TestReadLine_Cases(t *testing.T) {
	t.Run("LF, CRLF and a last line without newline", func(t *testing.T) {
		r := bufio.NewReader(strings.NewReader("one\ntwo\r\n\nthree"))
		for _, want := range []string{"one", "two", "", "three"} {
			got, tooLong, err := readLine(r, 100)
			if got != want || tooLong || err != nil {
				t.Fatalf("readLine = %q, %v, %v; want %q", got, tooLong, err, want)
			}
		}
		if _, _, err := readLine(r, 100); !errors.Is(err, io.EOF) {
			t.Fatalf("at the end err = %v, want io.EOF", err)
		}
	})
	t.Run("line longer than the buffer is whole", func(t *testing.T) {
		long := strings.Repeat("abcdefghij", 100)
		r := bufio.NewReaderSize(strings.NewReader(long+"\nnext\n"), 16)
		got, tooLong, err := readLine(r, 1000)
		if got != long || tooLong || err != nil {
			t.Fatalf("readLine = %d bytes, %v, %v; want the %d-byte line", len(got), tooLong, err, len(long))
		}
		if got, _, _ := readLine(r, 1000); got != "next" {
			t.Fatalf("next line = %q", got)
		}
	})
	t.Run("limits", func(t *testing.T) {
		tests := []struct {
			name, in    string
			wantTooLong bool
		}{
			{"exactly max", strings.Repeat("x", 10) + "\n", false},
			{"exactly max with CRLF", strings.Repeat("x", 10) + "\r\n", false},
			{"max plus one", strings.Repeat("x", 11) + "\n", true},
			{"max plus one at EOF", strings.Repeat("x", 11), true},
			{"far over max", strings.Repeat("x", 1000) + "\n", true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := bufio.NewReaderSize(strings.NewReader(tt.in+"after\n"), 16)
				got, tooLong, err := readLine(r, 10)
				if err != nil || tooLong != tt.wantTooLong {
					t.Fatalf("readLine = %q, %v, %v; want tooLong %v", got, tooLong, err, tt.wantTooLong)
				}
				if tooLong && got != "" {
					t.Fatalf("a refused line returned text %q", got)
				}
				if !strings.HasSuffix(tt.in, "\n") {
					return
				}
				if got, _, _ := readLine(r, 10); got != "after" {
					t.Fatalf("line after = %q, want %q", got, "after")
				}
			})
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		r := bufio.NewReader(io.MultiReader(strings.NewReader("part"), errReader{boom}))
		if _, _, err := readLine(r, 100); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want %v", err, boom)
		}
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
