package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/chatbridge/chatbridge/engine"
	"github.com/chatbridge/chatbridge/engine/enginetest"
)

// command runs one command and returns every message it produced.
func (h *harness) command(text string) string {
	h.t.Helper()
	r := enginetest.NewReplier(4096, engine.UTF16)
	h.send(r, "c1", text)
	h.settle()
	return strings.Join(r.Messages(), "\n")
}

func TestCommands_EveryContractCommandAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testCaps(), enginetest.NewProvider())
		defer h.close()
		for _, name := range []string{"help", "new", "model", "models", "temperature", "maxtokens", "system",
			"settings", "settings history", "retry", "stop", "usage", "status", "forget", "streaming", "title",
			"tag list", "apikey"} {
			if got := h.command("/" + name); strings.TrimSpace(got) == "" {
				t.Errorf("/%s: no answer", name)
			} else if strings.Contains(got, "Unknown command") {
				t.Errorf("/%s: %q", name, got)
			}
		}
		help := h.command("/help")
		for _, spec := range h.e.Commands() {
			if !strings.Contains(help, "/"+spec.Name) {
				t.Errorf("/help does not list /%s", spec.Name)
			}
		}
		if got := h.command("/bogus"); !strings.Contains(got, "Unknown command /bogus") {
			t.Errorf("/bogus: %q", got)
		}
	})
}

func TestCommands_Model(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		if got := h.command("/model"); !strings.Contains(got, "openai/gpt-4o-mini") || !strings.Contains(got, "default") {
			t.Errorf("/model = %q, want the default model", got)
		}
		r := enginetest.NewReplier(4096, engine.UTF16)
		h.send(r, "c1", "/model")
		h.settle()
		sends := calls(r, enginetest.CallSend)
		if len(sends) != 1 {
			t.Fatalf("/model sent %d messages", len(sends))
		}
		var labels []string
		for _, row := range sends[0].Msg.Buttons {
			for _, b := range row {
				labels = append(labels, b.Label+"="+b.Command)
			}
		}
		if len(labels) < 3 || labels[0] != "✓ openai/gpt-4o-mini=/model openai/gpt-4o-mini" ||
			!strings.Contains(strings.Join(labels, " "), "=/model anthropic/claude-3.5-sonnet") {
			t.Errorf("/model buttons = %q, want the current model first and popular ones", labels)
		}
		got := h.command("/model openai/gpt-4o-mimi")
		if !strings.Contains(got, "Unknown model") || !strings.Contains(got, "openai/gpt-4o-mini") {
			t.Errorf("typo: %q, want a refusal with the close match", got)
		}
		if got := h.command("/model claude-3.5-sonnet"); !strings.Contains(got, "anthropic/claude-3.5-sonnet") {
			t.Errorf("partial id: %q, want anthropic/claude-3.5-sonnet suggested", got)
		}
		if got := h.command("/model anthropic/claude-3.5-sonnet"); !strings.Contains(got, "set to") {
			t.Errorf("valid id: %q", got)
		}
		if got := h.command("/settings"); !strings.Contains(got, "model: anthropic/claude-3.5-sonnet (set)") ||
			!strings.Contains(got, "temperature: 0.7 (default)") {
			t.Errorf("/settings = %q", got)
		}
		h.command("hello")
		reqs := prov.Requests()
		if m := reqs[len(reqs)-1].Req.Model; m != "anthropic/claude-3.5-sonnet" {
			t.Errorf("turn used model %q, want the one set", m)
		}
		if got := h.command("/models llama"); !strings.Contains(got, "meta-llama/llama-3.1-8b-instruct") ||
			!strings.Contains(got, "131k") || strings.Contains(got, "gpt-4o") {
			t.Errorf("/models llama = %q", got)
		}
	})
}

func TestCommands_SettingsValidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		for text, want := range map[string]string{
			"/temperature 3":       "from 0 to 2",
			"/temperature abc":     "from 0 to 2",
			"/maxtokens 0":         "from 1 to",
			"/streaming maybe":     "on or off",
			"/temperature 1.5":     "set to 1.5",
			"/maxtokens 200":       "set to 200",
			"/system Be a pirate.": "System prompt set",
		} {
			if got := h.command(text); !strings.Contains(got, want) {
				t.Errorf("%s = %q, want %q", text, got, want)
			}
		}
		h.command("hi")
		req := prov.Requests()[0].Req
		if *req.Temperature != 1.5 || req.MaxTokens != 200 || req.Messages[0].Content != "Be a pirate." {
			t.Errorf("request = temp %v, max %d, system %q", *req.Temperature, req.MaxTokens, req.Messages[0].Content)
		}
		h.command("/system reset")
		if got := h.command("/system"); !strings.Contains(got, "Be brief.") || !strings.Contains(got, "default") {
			t.Errorf("/system after reset = %q", got)
		}
	})
}

func TestCommands_NewRetryForget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider()
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		ctx := context.Background()
		key := engine.KeyFor(testPlatform, "c1", "")
		h.command("first question")
		prov.Enqueue(enginetest.Script{Deltas: []string{"a better answer"}})
		if got := h.command("/retry"); got != "a better answer" {
			t.Errorf("/retry showed %q", got)
		}
		conv, _ := h.store.ActiveConversation(ctx, key)
		msgs, _ := h.store.Messages(ctx, conv.ID)
		if len(msgs) != 2 || msgs[0].Content != "first question" || msgs[1].Content != "a better answer" {
			t.Errorf("after /retry the conversation is %+v, want the question and the new answer", msgs)
		}
		last := prov.Requests()[1].Req.Messages
		if n := len(last); last[n-1].Content != "first question" || last[n-2].Role == engine.RoleAssistant {
			t.Errorf("retry request = %+v, want it to end with the question, without the old answer", last)
		}

		h.command("/new")
		convs, _ := h.store.Conversations(ctx, key)
		if len(convs) != 2 {
			t.Fatalf("conversations after /new = %d, want 2", len(convs))
		}
		h.command("second conversation")
		if req := prov.Requests()[2].Req.Messages; len(req) != 2 {
			t.Errorf("after /new the request carries %d messages, want system + the new one", len(req))
		}

		if got := h.command("/forget confirm"); !strings.Contains(got, "Nothing to confirm") {
			t.Errorf("unasked confirm = %q", got)
		}
		if got := h.command("/forget"); !strings.Contains(got, "2 conversation") {
			t.Errorf("/forget = %q", got)
		}
		if got := h.command("/forget confirm"); !strings.Contains(got, "Deleted") {
			t.Errorf("/forget confirm = %q", got)
		}
		if convs, _ := h.store.Conversations(ctx, key); len(convs) != 0 {
			t.Errorf("conversations after /forget = %d", len(convs))
		}
	})
}

func TestCommands_UsageTitleTagsExportStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prov := enginetest.NewProvider(enginetest.Script{Deltas: []string{"answer"},
			Usage: engine.Usage{PromptTokens: 7, CompletionTokens: 3, TotalTokens: 10, Cost: 0.25}})
		h := newHarness(t, testCaps(), prov)
		defer h.close()
		h.command("question")
		if got := h.command("/usage"); !strings.Contains(got, "1 requests, 10 tokens, $0.2500") {
			t.Errorf("/usage = %q", got)
		}
		if got := h.command("/title"); got != "Title: question" {
			t.Errorf("/title after the first exchange = %q, want the first message as title", got)
		}
		if got := h.command("/title My chat"); !strings.Contains(got, "My chat") {
			t.Errorf("/title = %q", got)
		}
		h.command("/tag add work")
		if got := h.command("/tag list"); got != "Tags: work" {
			t.Errorf("/tag list = %q", got)
		}
		r := enginetest.NewReplier(4096, engine.UTF16)
		h.send(r, "c1", "/export")
		h.settle()
		files := r.Files()
		if len(files) != 1 {
			t.Fatalf("uploads = %d, want 1", len(files))
		}
		for name, data := range files {
			if !strings.HasSuffix(name, ".md") || !strings.Contains(string(data), "question") ||
				!strings.Contains(string(data), "answer") || !strings.Contains(string(data), "My chat") {
				t.Errorf("export %s = %q", name, data)
			}
		}
		status := h.command("/status")
		for _, want := range []string{"Uptime", "memory", "CPU", "goroutines", "Model API: 1 calls", "Storage: 1 conversations", "corrupt records", "Last backup"} {
			if !strings.Contains(status, want) {
				t.Errorf("/status lacks %q: %q", want, status)
			}
		}
		if n := len(prov.Requests()); n != 1 {
			t.Errorf("/status called the model: %d requests", n)
		}
	})
}

func TestCommands_APIKeyOwnerAndPrivateOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, testCaps(), enginetest.NewProvider(), func(o *engine.Options) {
			o.Access[testPlatform] = engine.Access{Allowed: []engine.UserID{"u1", "u2"}, Owners: []engine.UserID{"u1"}}
		})
		defer h.close()
		r := enginetest.NewReplier(4096, engine.UTF16)
		ev := event("c1", "/apikey sk-or-secret")
		ev.User = "u2"
		h.e.HandleEvent(context.Background(), r, ev)
		h.settle()
		if got := r.Last(); !strings.Contains(got, "owner only") {
			t.Errorf("non-owner /apikey = %q", got)
		}
		ev = event("c1", "/apikey sk-or-secret")
		ev.Private = false
		h.e.HandleEvent(context.Background(), r, ev)
		h.settle()
		if got := r.Last(); !strings.Contains(got, "private chat") {
			t.Errorf("group /apikey = %q", got)
		}
		for _, m := range r.Messages() {
			if strings.Contains(m, "sk-or-secret") {
				t.Errorf("the key was echoed: %q", m)
			}
		}
	})
}

func TestCompleteModels(t *testing.T) {
	prov := enginetest.NewProvider()
	for i := range 40 {
		prov.ModelList = append(prov.ModelList, engine.ModelInfo{ID: fmt.Sprintf("vendor/model-%02d", i), Name: "Model"})
	}
	eng, err := engine.New(engine.Options{Provider: prov, Store: enginetest.NewMemStore(), Defaults: engine.Settings{Model: "openai/gpt-4o-mini"}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Shutdown(context.Background())
	ids := func(typed string, n int) []string {
		t.Helper()
		ms, err := eng.CompleteModels(context.Background(), typed, n)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	if got := ids("", 25); len(got) != 25 || got[0] != "openai/gpt-4o-mini" && got[0] != "anthropic/claude-3.5-sonnet" {
		t.Errorf("nothing typed: %q, want 25 with popular models first", got)
	}
	if got := ids("CLAUDE", 25); len(got) != 1 || got[0] != "anthropic/claude-3.5-sonnet" {
		t.Errorf("CLAUDE: %q", got)
	}
	if got := ids("gpt-4o", 25); len(got) != 2 {
		t.Errorf("gpt-4o: %q, want both gpt-4o models", got)
	}
	if got := ids("llama 3.1", 25); len(got) != 1 {
		t.Errorf("by name: %q, want the Llama model", got)
	}
	if got := ids("model-", 25); len(got) != 25 {
		t.Errorf("model-: %d matches, want the first 25 of 40", len(got))
	}
	if got := ids("nothing-like-this", 25); len(got) != 0 {
		t.Errorf("no match: %q", got)
	}
	prov.ModelList = nil
	if _, err := eng.CompleteModels(context.Background(), "x", 25); err == nil {
		t.Error("a catalogue failure was not reported")
	}
}

func TestCommandSpecs_SettingsAreEphemeral(t *testing.T) {
	eng, err := engine.New(engine.Options{Provider: enginetest.NewProvider(), Store: enginetest.NewMemStore(), Defaults: engine.Settings{Model: "openai/gpt-4o-mini"}})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Shutdown(context.Background())
	eph := map[string]bool{}
	for _, c := range eng.Commands() {
		eph[c.Name] = c.Ephemeral
	}
	for _, name := range []string{"model", "temperature", "maxtokens", "system", "settings", "streaming", "apikey"} {
		if !eph[name] {
			t.Errorf("/%s is a settings command but not marked ephemeral", name)
		}
	}
	for _, name := range []string{"help", "status", "export", "usage", "retry"} {
		if eph[name] {
			t.Errorf("/%s is marked ephemeral", name)
		}
	}
}
