package discordtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Route names, for CallsTo and FailNext: the method and the path after
// /api/v9 or /api/v10.
const (
	RouteGateway                 = "GET /gateway"
	RouteGatewayBot              = "GET /gateway/bot"
	RouteCurrentUser             = "GET /users/@me"
	RouteCurrentApplication      = "GET /oauth2/applications/@me"
	RouteUser                    = "GET /users/{user}"
	RouteCreateDM                = "POST /users/@me/channels"
	RouteChannel                 = "GET /channels/{channel}"
	RouteCreateMessage           = "POST /channels/{channel}/messages"
	RouteMessage                 = "GET /channels/{channel}/messages/{message}"
	RouteEditMessage             = "PATCH /channels/{channel}/messages/{message}"
	RouteDeleteMessage           = "DELETE /channels/{channel}/messages/{message}"
	RouteTyping                  = "POST /channels/{channel}/typing"
	RouteStartThreadFromMessage  = "POST /channels/{channel}/messages/{message}/threads"
	RouteStartThread             = "POST /channels/{channel}/threads"
	RouteGlobalCommands          = "GET /applications/{application}/commands"
	RouteOverwriteGlobalCommands = "PUT /applications/{application}/commands"
	RouteGuildCommands           = "GET /applications/{application}/guilds/{guild}/commands"
	RouteOverwriteGuildCommands  = "PUT /applications/{application}/guilds/{guild}/commands"
	RouteInteractionCallback     = "POST /interactions/{interaction}/{token}/callback"
	RouteOriginal                = "GET /webhooks/{application}/{token}/messages/@original"
	RouteEditOriginal            = "PATCH /webhooks/{application}/{token}/messages/@original"
	RouteDeleteOriginal          = "DELETE /webhooks/{application}/{token}/messages/@original"
	RouteCreateFollowup          = "POST /webhooks/{application}/{token}"
	RouteFollowup                = "GET /webhooks/{application}/{token}/messages/{message}"
	RouteEditFollowup            = "PATCH /webhooks/{application}/{token}/messages/{message}"
	RouteDeleteFollowup          = "DELETE /webhooks/{application}/{token}/messages/{message}"
)

type route struct {
	name   string
	method string
	segs   []string
	// auth: needs "Authorization: Bot <token>"; global: counts against
	// GlobalLimit.
	auth, global bool
	limit        *limitKind
	fn           func(*Server, *call) reply
}

var routes []*route

func init() {
	add := func(name string, fn func(*Server, *call) reply, limit *limitKind) {
		method, path, _ := strings.Cut(name, " ")
		open := strings.HasPrefix(path, "/webhooks/") || strings.HasPrefix(path, "/interactions/") || path == "/gateway"
		routes = append(routes, &route{
			name: name, method: method, segs: strings.Split(strings.Trim(path, "/"), "/"),
			auth: !open, global: !open, limit: limit, fn: fn,
		})
	}
	add(RouteGateway, (*Server).gateway, nil)
	add(RouteGatewayBot, (*Server).gatewayBot, nil)
	add(RouteCurrentUser, (*Server).currentUser, nil)
	add(RouteCurrentApplication, (*Server).currentApplication, nil)
	add(RouteUser, (*Server).user, nil)
	add(RouteCreateDM, (*Server).createDM, nil)
	add(RouteChannel, (*Server).channel, nil)
	add(RouteCreateMessage, (*Server).createMessage, limitMessages)
	add(RouteMessage, (*Server).getMessage, nil)
	add(RouteEditMessage, (*Server).editMessage, limitMessages)
	add(RouteDeleteMessage, (*Server).deleteMessage, nil)
	add(RouteTyping, (*Server).typing, limitTyping)
	add(RouteStartThreadFromMessage, (*Server).startThreadFromMessage, nil)
	add(RouteStartThread, (*Server).startThread, nil)
	add(RouteGlobalCommands, (*Server).listCommands, nil)
	add(RouteOverwriteGlobalCommands, (*Server).overwriteCommands, nil)
	add(RouteGuildCommands, (*Server).listCommands, nil)
	add(RouteOverwriteGuildCommands, (*Server).overwriteCommands, nil)
	add(RouteInteractionCallback, (*Server).interactionCallback, nil)
	add(RouteOriginal, (*Server).getWebhookMessage, limitWebhook)
	add(RouteEditOriginal, (*Server).editWebhookMessage, limitWebhook)
	add(RouteDeleteOriginal, (*Server).deleteWebhookMessage, limitWebhook)
	add(RouteCreateFollowup, (*Server).createFollowup, limitWebhook)
	add(RouteFollowup, (*Server).getWebhookMessage, limitWebhook)
	add(RouteEditFollowup, (*Server).editWebhookMessage, limitWebhook)
	add(RouteDeleteFollowup, (*Server).deleteWebhookMessage, limitWebhook)
}

func knownRoute(name string) bool {
	for _, rt := range routes {
		if rt.name == name {
			return true
		}
	}
	return false
}

// match finds the route for method and path segments. It prefers the
// route with the most literal segments. allowed is false when the path
// exists with other methods only (405).
func match(method string, segs []string) (rt *route, params map[string]string, pathKnown bool) {
	best := -1
	for _, r := range routes {
		if len(r.segs) != len(segs) {
			continue
		}
		lit, ok := 0, true
		p := map[string]string{}
		for i, sg := range r.segs {
			if strings.HasPrefix(sg, "{") {
				if segs[i] == "" {
					ok = false
					break
				}
				p[strings.Trim(sg, "{}")] = segs[i]
				continue
			}
			if sg != segs[i] {
				ok = false
				break
			}
			lit++
		}
		if !ok {
			continue
		}
		pathKnown = true
		if r.method == method && lit > best {
			best, rt, params = lit, r, p
		}
	}
	return rt, params, pathKnown
}

// call is one request being served.
type call struct {
	r      *http.Request
	route  *route
	now    time.Time
	params map[string]string
	// raw is the JSON body (or payload_json); fields its members when it
	// is an object.
	raw    json.RawMessage
	fields obj
	files  []Attachment
	rec    *Call
}

// reply is an answer.
type reply struct {
	status     int
	body       any // nil: no body
	headers    http.Header
	code       int
	message    string
	errors     json.RawMessage
	retryAfter time.Duration
	global     bool
}

func ok(body any) reply { return reply{status: http.StatusOK, body: body} }

func noContent() reply { return reply{status: http.StatusNoContent} }

func apiError(status, code int, message string) reply {
	return reply{status: status, code: code, message: message,
		body: map[string]any{"message": message, "code": code}}
}

var (
	errUnauthorized = func() reply { return apiError(401, 0, "401: Unauthorized") }
	errNotFound     = func() reply { return apiError(404, 0, "404: Not Found") }
)

func unknownChannel() reply { return apiError(404, 10003, "Unknown Channel") }
func unknownMessage() reply { return apiError(404, 10008, "Unknown Message") }
func unknownWebhook() reply { return apiError(404, 10015, "Unknown Webhook") }
func emptyMessage() reply   { return apiError(400, 50006, "Cannot send an empty message") }

var apiPath = regexp.MustCompile(`^/api/v(\d+)(/.*)?$`)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if websocketRequest(r) {
		s.serveGateway(w, r)
		return
	}
	rec := &Call{Method: r.Method, Path: r.URL.Path, Route: r.Method + " " + r.URL.Path, At: now}
	s.mu.Lock()
	s.calls = append(s.calls, rec)
	s.mu.Unlock()

	m := apiPath.FindStringSubmatch(r.URL.Path)
	if m == nil || (m[1] != "9" && m[1] != "10") {
		s.finish(w, rec, errNotFound())
		return
	}
	version, _ := strconv.Atoi(m[1])
	s.mu.Lock()
	rec.Version = version
	s.mu.Unlock()
	rt, params, pathKnown := match(r.Method, strings.Split(strings.Trim(m[2], "/"), "/"))
	if rt == nil {
		if pathKnown {
			s.finish(w, rec, apiError(405, 0, "405: Method Not Allowed"))
		} else {
			s.finish(w, rec, errNotFound())
		}
		return
	}
	c := &call{r: r, route: rt, now: now, params: params, rec: rec}
	s.mu.Lock()
	rec.Route = rt.name
	rec.Bucket = bucketKey(rt, params)
	if until, open := s.windows[rec.Bucket]; open && now.Before(until) {
		rec.Early = true
	}
	if rt.global && now.Before(s.globalUntil) {
		rec.Early = true
	}
	s.mu.Unlock()

	if rt.auth && r.Header.Get("Authorization") != "Bot "+s.opts.Token {
		s.finish(w, rec, errUnauthorized())
		return
	}
	if rep, failed := s.readBody(c); failed {
		s.finish(w, rec, rep)
		return
	}

	s.mu.Lock()
	if q := s.faults[rt.name]; len(q) > 0 {
		s.faults[rt.name] = q[1:]
		rep := s.faultReplyLocked(c, q[0], now)
		s.mu.Unlock()
		s.finish(w, rec, rep)
		return
	}
	rl := s.checkLimitsLocked(c, now)
	if rl.retryAfter > 0 {
		s.mu.Unlock()
		s.finish(w, rec, tooMany(rl, "", ""))
		return
	}
	rep := rt.fn(s, c)
	s.mu.Unlock()
	if rl.headers != nil && rep.status < 300 {
		if rep.headers == nil {
			rep.headers = http.Header{}
		}
		for k, v := range rl.headers {
			rep.headers[k] = v
		}
	}
	s.finish(w, rec, rep)
}

func bucketKey(rt *route, p map[string]string) string {
	prefix := rt.name
	if rt.limit != nil {
		prefix = rt.limit.name
	}
	switch {
	case p["channel"] != "":
		return prefix + ":" + p["channel"]
	case p["interaction"] != "":
		return prefix + ":" + p["interaction"]
	case p["token"] != "":
		return prefix + ":" + p["application"] + "/" + p["token"]
	case p["guild"] != "":
		return prefix + ":" + p["guild"]
	}
	return prefix
}

// finish writes rep and completes the call record.
func (s *Server) finish(w http.ResponseWriter, rec *Call, rep reply) {
	var body []byte
	if rep.body != nil {
		body, _ = json.Marshal(rep.body)
	}
	s.mu.Lock()
	rec.Status = rep.status
	rec.Code = rep.code
	rec.Message = rep.message
	rec.Errors = rep.errors
	rec.RetryAfter = rep.retryAfter
	rec.Global = rep.global
	s.mu.Unlock()
	for k, v := range rep.headers {
		w.Header()[k] = v
	}
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if body == nil {
		w.WriteHeader(rep.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)
}

var filesField = regexp.MustCompile(`^files\[(\d+)\]$`)

// readBody reads a JSON or multipart body into c. failed is true with the
// answer when the body is invalid.
func (s *Server) readBody(c *call) (reply, bool) {
	r := c.r
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		r.Body = http.MaxBytesReader(nil, r.Body, 100<<20)
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return apiError(413, 40005, "Request entity too large"), true
			}
			return apiError(400, 0, "400: Bad Request"), true
		}
		defer func() { _ = r.MultipartForm.RemoveAll() }()
		if v := r.MultipartForm.Value["payload_json"]; len(v) > 0 {
			c.raw = json.RawMessage(v[0])
		}
		type indexed struct {
			n int
			a Attachment
		}
		var files []indexed
		for name, fhs := range r.MultipartForm.File {
			fm := filesField.FindStringSubmatch(name)
			if fm == nil || len(fhs) == 0 {
				continue
			}
			if fhs[0].Size > s.opts.MaxFileSize {
				return apiError(413, 40005, "Request entity too large"), true
			}
			f, err := fhs[0].Open()
			if err != nil {
				return apiError(400, 0, "400: Bad Request"), true
			}
			data, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil {
				return apiError(400, 0, "400: Bad Request"), true
			}
			n, _ := strconv.Atoi(fm[1])
			files = append(files, indexed{n, Attachment{
				Filename: fhs[0].Filename, ContentType: fhs[0].Header.Get("Content-Type"), Data: data,
			}})
		}
		sort.Slice(files, func(i, j int) bool { return files[i].n < files[j].n })
		for _, f := range files {
			c.files = append(c.files, f.a)
		}
	default:
		data, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 100<<20))
		if err != nil {
			return apiError(413, 40005, "Request entity too large"), true
		}
		if len(bytes.TrimSpace(data)) > 0 {
			c.raw = json.RawMessage(data)
		}
	}
	s.mu.Lock()
	c.rec.Body = c.raw
	for _, f := range c.files {
		c.rec.Files = append(c.rec.Files, f.Filename)
	}
	s.mu.Unlock()
	if len(c.raw) == 0 {
		return reply{}, false
	}
	if !json.Valid(c.raw) {
		return apiError(400, 50109, "The request body contains invalid JSON."), true
	}
	if bytes.HasPrefix(bytes.TrimSpace(c.raw), []byte("{")) {
		_ = json.Unmarshal(c.raw, &c.fields)
	}
	return reply{}, false
}

// ---- JSON field helpers ----

// obj is a JSON object's members.
type obj map[string]json.RawMessage

// has reports whether member k is present and not null.
func (o obj) has(k string) bool {
	v, ok := o[k]
	return ok && string(v) != "null"
}

// present reports whether member k is present, even as null.
func (o obj) present(k string) bool {
	_, ok := o[k]
	return ok
}

// str returns member k as a string; ok is false if absent, null or not a
// string.
func (o obj) str(k string) (string, bool) {
	var v string
	if !o.has(k) || json.Unmarshal(o[k], &v) != nil {
		return "", false
	}
	return v, true
}

// isString reports whether member k is absent, null or a string.
func (o obj) isString(k string) bool {
	if !o.has(k) {
		return true
	}
	_, ok := o.str(k)
	return ok
}

// integer returns member k as an int (JSON number or numeric string).
func (o obj) integer(k string) (int, bool) {
	if !o.has(k) {
		return 0, false
	}
	var n json.Number
	if err := json.Unmarshal(o[k], &n); err != nil {
		var sv string
		if json.Unmarshal(o[k], &sv) != nil {
			return 0, false
		}
		n = json.Number(sv)
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return int(i), err == nil
}

// array returns member k as a list of raw values; ok is false if absent,
// null or not an array.
func (o obj) array(k string) ([]json.RawMessage, bool) {
	var out []json.RawMessage
	if !o.has(k) || json.Unmarshal(o[k], &out) != nil {
		return nil, false
	}
	return out, true
}

// object returns member k as an object; ok is false if absent, null or
// not an object.
func (o obj) object(k string) (obj, bool) {
	var out obj
	if !o.has(k) || json.Unmarshal(o[k], &out) != nil || out == nil {
		return nil, false
	}
	return out, true
}

// formErrors collects the "errors" of a 50035 Invalid Form Body.
type formErrors map[string]any

// add records an error at a dotted path such as "content" or
// "0.options.1.name".
func (fe formErrors) add(path, code, message string) {
	node := map[string]any(fe)
	if path == "" {
		list, _ := node["_errors"].([]any)
		node["_errors"] = append(list, map[string]any{"code": code, "message": message})
		return
	}
	for _, p := range strings.Split(path, ".") {
		next, _ := node[p].(map[string]any)
		if next == nil {
			next = map[string]any{}
			node[p] = next
		}
		node = next
	}
	list, _ := node["_errors"].([]any)
	node["_errors"] = append(list, map[string]any{"code": code, "message": message})
}

// reply is the 400 answer, or ok=false when there is no error.
func (fe formErrors) reply() (reply, bool) {
	if len(fe) == 0 {
		return reply{}, false
	}
	raw, _ := json.Marshal(map[string]any(fe))
	return reply{status: 400, code: 50035, message: "Invalid Form Body", errors: raw,
		body: map[string]any{"message": "Invalid Form Body", "code": 50035, "errors": json.RawMessage(raw)}}, true
}

func maxLen(n int) string { return "Must be " + strconv.Itoa(n) + " or fewer in length." }

func badLen(lo, hi int) string {
	return "Must be between " + strconv.Itoa(lo) + " and " + strconv.Itoa(hi) + " in length."
}
