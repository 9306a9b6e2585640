package console

import (
	"reflect"
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
			if !reflect.DeepEqual(*ev, want) {
				t.Errorf("event = %+v\nwant    %+v", *ev, want)
			}
		})
	}
}
