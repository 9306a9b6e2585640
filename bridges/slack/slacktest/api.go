package slacktest

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reply is a method's answer: fields of a success body, or an error.
type reply struct {
	fields     map[string]any
	status     int // HTTP status; 0 means 200
	err        string
	retryAfter int
}

func ok(fields map[string]any) reply { return reply{fields: fields} }

func fail(code string) reply { return reply{err: code} }

// call is one Web API request being served.
type call struct {
	now    time.Time
	params map[string]string
	rec    *Call
}

func (c *call) param(k string) string { return c.params[k] }

// serveAPI serves /api/{method}. Calls are handled one at a time, in
// arrival order; a call's time (Call.At) is taken when its turn comes, so
// times follow the order of Calls.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("method")
	params, token, perr := readParams(r)
	s.mu.Lock()
	now := time.Now()
	rec := &Call{Method: name, At: now, Params: params, Channel: params["channel"]}
	if rec.Channel == "" {
		rec.Channel = params["channel_id"]
	}
	s.calls = append(s.calls, rec)
	c := &call{now: now, params: params, rec: rec}
	m, known := methods[name]
	var rep reply
	switch {
	case !known:
		rep = fail("unknown_method")
	case perr != "":
		rep = fail(perr)
	default:
		if e := s.authorize(m, token); e != "" {
			rep = fail(e)
		} else if lim, limited := s.admitLocked(c); limited {
			rep = lim
		} else {
			rep = m.fn(s, c)
		}
	}
	status, header, data := s.finishLocked(rec, rep)
	s.mu.Unlock()
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func (s *Server) authorize(m method, token string) string {
	switch {
	case token == "":
		return "not_authed"
	case token == s.opts.BotToken:
		if m.appToken {
			return "not_allowed_token_type"
		}
	case token == s.opts.AppToken:
		if !m.appToken {
			return "not_allowed_token_type"
		}
	default:
		return "invalid_auth"
	}
	return ""
}

// finishLocked completes the call record and returns the response to
// write.
func (s *Server) finishLocked(rec *Call, rep reply) (int, http.Header, []byte) {
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	body := map[string]any{}
	if rep.err == "" {
		for k, v := range rep.fields {
			body[k] = v
		}
		body["ok"] = true
	} else {
		body["ok"] = false
		body["error"] = rep.err
	}
	data, _ := json.Marshal(body)
	rec.Status, rec.OK, rec.Error, rec.RetryAfter = status, rep.err == "", rep.err, rep.retryAfter
	s.notifyLocked()
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	if rep.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(rep.retryAfter))
	}
	return status, h, data
}

// readParams merges the query string with a form, multipart or JSON body
// and extracts the token (Authorization: Bearer first, else the token
// parameter, which a JSON body may not carry). It returns a Slack error
// code when the body cannot be read.
func readParams(r *http.Request) (params map[string]string, token, errCode string) {
	params = map[string]string{}
	for k, v := range r.URL.Query() {
		params[k] = v[0]
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		data, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			return params, "", "invalid_form_data"
		}
		if t := strings.TrimSpace(string(data)); t != "" && t != "null" {
			var body map[string]any
			if err := json.Unmarshal(data, &body); err != nil {
				return params, "", "invalid_json"
			}
			for k, v := range body {
				params[k] = stringify(v)
			}
		}
		delete(params, "token") // the token of a JSON call goes in the header
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := r.ParseMultipartForm(32 << 20); err != nil && err != http.ErrNotMultipart {
			return params, "", "invalid_form_data"
		}
		for k, v := range r.PostForm {
			params[k] = v[0]
		}
	}
	token = params["token"]
	delete(params, "token")
	if h, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
		token = strings.TrimSpace(h)
	}
	return params, token, ""
}

func stringify(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
