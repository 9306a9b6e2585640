package openroutertest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatbridge/chatbridge/engine/openrouter/openroutertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, key, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// errorOf decodes an OpenRouter error body.
func errorOf(t *testing.T, body string) (code float64, msg string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    float64 `json:"code"`
			Message string  `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not a JSON error: %q", body)
	}
	return e.Error.Code, e.Error.Message
}

func TestServer_Strict(t *testing.T) {
	srv := openroutertest.New(t, openroutertest.Options{StrictModels: true})
	chat := srv.URL() + "/chat/completions"
	key := srv.APIKey()
	const ok = `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":false}`
	tests := []struct {
		name        string
		method      string
		key         string
		contentType string
		body        string
		status      int
		msg         string
	}{
		{"GET is not allowed", http.MethodGet, key, "", "", 405, "Method Not Allowed"},
		{"missing key", http.MethodPost, "", "application/json", ok, 401, "No auth credentials found"},
		{"wrong key", http.MethodPost, "nope", "application/json", ok, 401, "No auth credentials found"},
		{"no content type", http.MethodPost, key, "", ok, 400, "Content-Type"},
		{"text content type", http.MethodPost, key, "text/plain", ok, 400, "Content-Type"},
		{"invalid JSON", http.MethodPost, key, "application/json", "{", 400, "Invalid JSON"},
		{"missing model", http.MethodPost, key, "application/json", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "model"},
		{"empty messages", http.MethodPost, key, "application/json", `{"model":"openai/gpt-4o","messages":[]}`, 400, "messages"},
		{"bad role", http.MethodPost, key, "application/json", `{"model":"openai/gpt-4o","messages":[{"role":"robot","content":"hi"}]}`, 400, "role"},
		{"unknown model", http.MethodPost, key, "application/json", `{"model":"acme/nope","messages":[{"role":"user","content":"hi"}]}`, 400, "acme/nope is not a valid model ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, chat, tt.key, tt.contentType, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			code, msg := errorOf(t, r.body)
			if int(code) != tt.status || !strings.Contains(msg, tt.msg) {
				t.Errorf("error %v %q, want %d containing %q", code, msg, tt.status, tt.msg)
			}
		})
	}
	t.Run("valid request", func(t *testing.T) {
		r := do(t, http.MethodPost, chat, key, "application/json; charset=utf-8", ok)
		if r.status != 200 || !strings.Contains(r.body, "You said: hi") {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	if n := len(srv.Requests()); n != len(tests)+1 {
		t.Errorf("%d requests recorded, want %d", n, len(tests)+1)
	}
}

func TestServer_OtherEndpoints(t *testing.T) {
	srv := openroutertest.New(t, openroutertest.Options{})
	t.Run("models", func(t *testing.T) {
		r := do(t, http.MethodGet, srv.URL()+"/models", "", "", "")
		var body struct {
			Data []struct {
				ID            string `json:"id"`
				ContextLength int    `json:"context_length"`
				Pricing       struct {
					Prompt     string `json:"prompt"`
					Completion string `json:"completion"`
				} `json:"pricing"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != 200 {
			t.Fatalf("%d %v %s", r.status, err, r.body)
		}
		if len(body.Data) != 5 || body.Data[0].ID != "openai/gpt-4o-mini" || body.Data[0].Pricing.Prompt != "0.00000015" {
			t.Errorf("models %+v", body.Data)
		}
	})
	t.Run("key needs auth", func(t *testing.T) {
		if r := do(t, http.MethodGet, srv.URL()+"/key", "", "", ""); r.status != 401 {
			t.Errorf("status %d", r.status)
		}
		r := do(t, http.MethodGet, srv.URL()+"/key", srv.APIKey(), "", "")
		if r.status != 200 || !strings.Contains(r.body, `"limit":null`) {
			t.Errorf("%d %s", r.status, r.body)
		}
	})
	t.Run("unknown path", func(t *testing.T) {
		if r := do(t, http.MethodGet, srv.URL()+"/nope", "", "", ""); r.status != 404 {
			t.Errorf("status %d", r.status)
		}
	})
}

// events reads a streamed response into its data payloads and comments.
func events(t *testing.T, body string) (data, comments []string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, ":"):
			comments = append(comments, line)
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
	return data, comments
}

func TestServer_Scripts(t *testing.T) {
	srv := openroutertest.New(t, openroutertest.Options{})
	post := func(model string) response {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hey there"}],"stream":true}`
		return do(t, http.MethodPost, srv.URL()+"/chat/completions", srv.APIKey(), "application/json", body)
	}
	srv.SetModelScript("slow/model", openroutertest.Script{Tokens: []string{"per-model"}})
	srv.Enqueue(
		openroutertest.Script{Model: "b/model", Tokens: []string{"for b"}},
		openroutertest.Script{KeepAlives: 2, Tokens: []string{"first"}},
	)

	data, comments := events(t, post("a/model").body) // takes the second script: the first is for b
	if len(comments) != 2 || !strings.Contains(data[0], `"content":"first"`) || data[len(data)-1] != "[DONE]" {
		t.Errorf("a: data %q comments %q", data, comments)
	}
	if data, _ := events(t, post("b/model").body); !strings.Contains(data[0], "for b") {
		t.Errorf("b: %q", data)
	}
	if data, _ := events(t, post("slow/model").body); !strings.Contains(data[0], "per-model") {
		t.Errorf("per-model: %q", data)
	}
	if data, _ := events(t, post("slow/model").body); !strings.Contains(data[0], "per-model") {
		t.Errorf("per-model again: %q", data)
	}
	data, _ = events(t, post("a/model").body) // queue empty: echo
	var text strings.Builder
	for _, d := range data[:len(data)-3] {
		var ch struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(d), &ch); err != nil {
			t.Fatal(err)
		}
		text.WriteString(ch.Choices[0].Delta.Content)
	}
	if text.String() != "You said: hey there" {
		t.Errorf("echo %q", text.String())
	}
	if !strings.Contains(data[len(data)-2], `"choices":[]`) || !strings.Contains(data[len(data)-2], `"cost"`) {
		t.Errorf("usage chunk %q", data[len(data)-2])
	}
	if srv.Pending() != 0 {
		t.Errorf("%d scripts left", srv.Pending())
	}

	t.Run("mid-stream error shapes", func(t *testing.T) {
		srv.Enqueue(openroutertest.Script{Tokens: []string{"a", "b"}, MidStreamError: &openroutertest.MidStreamError{After: 1, Code: "server_error"}})
		data, _ := events(t, post("x/y").body)
		if len(data) != 2 || !strings.Contains(data[1], `"code":"server_error"`) || !strings.Contains(data[1], `"finish_reason":"error"`) {
			t.Errorf("data %q", data)
		}
		srv.Enqueue(openroutertest.Script{Tokens: []string{"a"}, MidStreamError: &openroutertest.MidStreamError{EmptyChoices: true}})
		data, _ = events(t, post("x/y").body)
		if len(data) != 1 || !strings.Contains(data[0], `"choices":[]`) || !strings.Contains(data[0], `"code":502`) {
			t.Errorf("data %q", data)
		}
	})
	t.Run("http error", func(t *testing.T) {
		srv.Enqueue(openroutertest.Script{Status: 429, Message: "slow down", RetryAfter: "2"})
		r := post("x/y")
		if r.status != 429 || r.header.Get("Retry-After") != "2" || !strings.Contains(r.body, "slow down") {
			t.Errorf("%d %v %s", r.status, r.header, r.body)
		}
	})
}

func TestServer_CloseEndsStreams(t *testing.T) {
	srv := openroutertest.NewServer(openroutertest.Options{})
	srv.Enqueue(openroutertest.Script{Tokens: []string{"a", "b"}, Delay: time.Minute})
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/chat/completions",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true}`))
		req.Header.Set("Authorization", "Bearer "+srv.APIKey())
		req.Header.Set("Content-Type", "application/json")
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		if resp, err := c.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	for len(srv.Requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	srv.Close()
	srv.Close() // idempotent
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	<-done
}

func TestWords_JoinBack(t *testing.T) {
	for _, s := range []string{"", "one", "You said: hello  world\n\nnext\tline ", " lead"} {
		w := openroutertest.Words(s)
		if strings.Join(w, "") != s {
			t.Errorf("Words(%q) = %q does not join back", s, w)
		}
	}
	if w := openroutertest.Words("a b c"); len(w) != 3 || w[0] != "a " {
		t.Errorf("Words = %q", w)
	}
}

func TestLongText_Deterministic(t *testing.T) {
	s := openroutertest.LongText(150)
	if n := len(strings.Fields(s)); n != 150 {
		t.Errorf("%d words", n)
	}
	if strings.Count(s, "\n\n") != 2 || s != openroutertest.LongText(150) {
		t.Errorf("paragraphs or determinism: %q", s)
	}
}
