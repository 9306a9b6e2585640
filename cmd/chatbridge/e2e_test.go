package main_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

// binary is the chatbridge executable built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chatbridge-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "chatbridge")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build chatbridge: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary did.
type result struct {
	code           int
	stdout, stderr string
}

// runBinary runs chatbridge in dir with stdin, a clean environment plus env,
// and a timeout.
func runBinary(t *testing.T, dir, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("chatbridge %v did not finish; stdout:\n%s\nstderr:\n%s", args, stdout.String(), stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// writeConfig writes a config for the fake provider into dir.
func writeConfig(t *testing.T, dir, baseURL, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(`[openrouter]
base_url = %q
model = "openai/gpt-4o-mini"

[storage]
dir = %q
%s`, baseURL, filepath.Join(dir, "data"), extra)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConsole_StreamsRemembersAndAnswersCommands(t *testing.T) {
	fake := openroutertest.New(t, openroutertest.Options{EchoDelay: time.Millisecond})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fake.URL(), "\n[limits]\nrequests_per_minute = 1000\n")
	env := []string{"OPENROUTER_API_KEY=" + fake.APIKey()}

	first := runBinary(t, dir, "hello there\n", env, "console", "-config", cfg)
	if first.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", first.code, first.stderr)
	}
	if !strings.Contains(first.stdout, "You said: hello there") {
		t.Errorf("stdout = %q, want the streamed echo", first.stdout)
	}
	if n := strings.Count(first.stdout, "You said"); n != 1 {
		t.Errorf("the reply appears %d times in a pipe, want once (edits append, not repeat):\n%s", n, first.stdout)
	}

	// A restart keeps the conversation: the next request carries it.
	second := runBinary(t, dir, "and again\n", env, "console", "-config", cfg)
	if second.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", second.code, second.stderr)
	}
	reqs := fake.Requests()
	last := reqs[len(reqs)-1].Body.Messages
	var contents []string
	for _, m := range last {
		contents = append(contents, m.Role+": "+m.Content)
	}
	joined := strings.Join(contents, "\n")
	for _, want := range []string{"user: hello there", "assistant: You said: hello there", "user: and again"} {
		if !strings.Contains(joined, want) {
			t.Errorf("second run's request lacks %q:\n%s", want, joined)
		}
	}

	// Every command of the contract answers.
	commands := []string{"/stop", "/help", "/model", "/model openai/gpt-4o", "/model gpt-4o-mimi", "/models gpt",
		"/temperature 0.3", "/maxtokens 300", "/system Be terse.", "/settings", "/settings history",
		"/retry", "/usage", "/status", "/export", "/streaming off", "/title Test chat",
		"/tag add e2e", "/tag list", "/apikey", "/new", "/forget", "/forget confirm"}
	third := runBinary(t, dir, strings.Join(commands, "\n")+"\n", env, "console", "-config", cfg)
	if third.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", third.code, third.stderr)
	}
	for _, want := range []string{
		"**Commands**", "Model: `openai/gpt-4o-mini`", "Model set to `openai/gpt-4o`", "Did you mean",
		"openai/gpt-4o-mini` —", "Temperature set to 0.3", "Max tokens set to 300", "System prompt set",
		"model: openai/gpt-4o (set)", "**Settings history**", "temperature: default → `0.3`", "You said: and again", "Nothing to stop",
		"This conversation:", "Status: ok", "----- conversation-", "Streaming set to off", "Title set: Test chat",
		"Tags: e2e", "owner", "Started a new conversation", "Send `/forget confirm`", "Deleted every conversation",
	} {
		if !strings.Contains(third.stdout, want) {
			t.Errorf("command output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", third.stdout, third.stderr)
	}
	for _, out := range []string{first.stdout, first.stderr, second.stderr, third.stdout, third.stderr} {
		if strings.Contains(out, fake.APIKey()) {
			t.Errorf("the API key appears in the output")
		}
	}
}

func TestRun_FirstRunCreatesConfigAndExits2(t *testing.T) {
	dir := t.TempDir()
	example, err := os.ReadFile("../../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.example.toml"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	res := runBinary(t, dir, "", nil, "run", "-config", "config.toml")
	if res.code != 2 {
		t.Fatalf("exit %d, want 2; stderr:\n%s", res.code, res.stderr)
	}
	got, err := os.ReadFile(filepath.Join(dir, "config.toml"))
	if err != nil || !bytes.Equal(got, example) {
		t.Fatalf("config.toml not created from the example: %v", err)
	}
	for _, want := range []string{"OPENROUTER_API_KEY", "enabled = true", "allowed_users", "chatbridge console"} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("message lacks %q:\n%s", want, res.stderr)
		}
	}
	// The created config is valid as it is.
	if res := runBinary(t, dir, "", nil, "check", "-config", "config.toml"); res.code != 0 {
		t.Errorf("check of the created config: exit %d\n%s", res.code, res.stderr)
	}
}

func TestConfigErrors_Exit2NamingKeyAndLine(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{"unknown key", "[limits]\nrequests_per_minute = 10\nrequests_per_hour = 5\n", []string{"config.toml:3", "limits.requests_per_hour"}},
		{"wrong type", "[openrouter]\nmax_tokens = \"many\"\n", []string{"config.toml:2", "openrouter.max_tokens"}},
		{"out of range", "[openrouter]\ntemperature = 3.5\n", []string{"config.toml:2", "openrouter.temperature", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []string{"check", "console", "run"} {
				res := runBinary(t, dir, "", []string{"OPENROUTER_API_KEY=x"}, sub, "-config", "config.toml")
				if res.code != 2 {
					t.Errorf("%s: exit %d, want 2", sub, res.code)
				}
				for _, w := range tc.want {
					if !strings.Contains(res.stderr, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", sub, w, res.stderr)
					}
				}
			}
		})
	}
}

func TestExport_JSONInTheContractFormat(t *testing.T) {
	fake := openroutertest.New(t, openroutertest.Options{})
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fake.URL(), "")
	env := []string{"OPENROUTER_API_KEY=" + fake.APIKey()}
	if res := runBinary(t, dir, "remember this\n/tag add trip\n", env, "console", "-config", cfg); res.code != 0 {
		t.Fatalf("console: exit %d\n%s", res.code, res.stderr)
	}
	res := runBinary(t, dir, "", nil, "export", "-config", cfg)
	if res.code != 0 {
		t.Fatalf("export: exit %d\n%s", res.code, res.stderr)
	}
	for _, want := range []string{`"conversation_id"`, `"metadata"`, `"message_count": 2`, `"role": "user"`,
		`"content": "remember this"`, `"finish_reason": "stop"`, `"usage"`, `"title": "remember this"`,
		"\"tags\": [\n        \"trip\"\n      ]"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("export lacks %s:\n%s", want, res.stdout)
		}
	}
	list := runBinary(t, dir, "", nil, "export", "-config", cfg, "-list")
	if lines := strings.Split(strings.TrimSpace(list.stdout), "\n"); list.code != 0 || len(lines) != 2 ||
		!strings.Contains(lines[0], "TITLE") || !strings.Contains(lines[1], "remember this") || !strings.Contains(lines[1], "console:") ||
		!strings.HasSuffix(lines[1], "trip") {
		t.Errorf("export -list: exit %d\n%s", list.code, list.stdout)
	}
	md := runBinary(t, dir, "", nil, "export", "-config", cfg, "-format", "md")
	if md.code != 0 || !strings.Contains(md.stdout, "remember this") {
		t.Errorf("markdown export: exit %d\n%s", md.code, md.stdout)
	}
}

func TestVersion(t *testing.T) {
	res := runBinary(t, t.TempDir(), "", nil, "version")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "chatbridge ") {
		t.Errorf("version: exit %d, %q", res.code, res.stdout)
	}
}
