package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// File is a file the bot uploaded through files.getUploadURLExternal, the
// upload URL and files.completeUploadExternal (slack-go's UploadFile
// flow).
type File struct {
	ID string
	// Name is the filename given to files.getUploadURLExternal; Length the
	// length it declared.
	Name   string
	Length int
	Title  string
	// Data is what was posted to the upload URL (nil before the upload).
	// The fake does not check it against Length.
	Data     []byte
	Uploaded bool
	// Completed is set by files.completeUploadExternal, which shares the
	// file to Channels (channel_id, or channels) in ThreadTS with
	// InitialComment, as the messages MessageTS lists.
	Completed      bool
	Channels       []string
	ThreadTS       string
	InitialComment string
	MessageTS      []string
	AltText        string
	SnippetType    string
}

type fileState struct {
	File
	uploadID string
}

func (s *Server) getUploadURL(c *call) reply {
	name := c.param("filename")
	length, err := strconv.Atoi(c.param("length"))
	if name == "" || err != nil || length <= 0 {
		return fail("invalid_arguments")
	}
	n := s.nextID()
	f := &fileState{
		File:     File{ID: fmt.Sprintf("F0FAKE%05d", n), Name: name, Length: length, AltText: c.param("alt_txt"), SnippetType: c.param("snippet_type")},
		uploadID: fmt.Sprintf("%s-%d", uuidFor(n), c.now.UnixNano()),
	}
	s.files[f.ID] = f
	s.fileOrder = append(s.fileOrder, f.ID)
	return ok(map[string]any{"upload_url": s.srv.URL + "/upload/v1/" + f.uploadID, "file_id": f.ID})
}

// serveUpload takes the bytes of a file: a multipart body (the "file"
// part, as slack-go sends) or the raw body.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var data []byte
	var err error
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "multipart/form-data" {
		if err = r.ParseMultipartForm(64 << 20); err == nil {
			defer func() { _ = r.MultipartForm.RemoveAll() }()
			fhs := r.MultipartForm.File["file"]
			if len(fhs) == 0 {
				http.Error(w, "no file part", http.StatusBadRequest)
				return
			}
			f, ferr := fhs[0].Open()
			if ferr == nil {
				data, err = io.ReadAll(f)
				_ = f.Close()
			} else {
				err = ferr
			}
		}
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, 64<<20))
	}
	if err != nil {
		http.Error(w, "can't read the upload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	var f *fileState
	for _, x := range s.files {
		if x.uploadID == r.PathValue("id") {
			f = x
		}
	}
	if f == nil || f.Completed {
		s.mu.Unlock()
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	f.Data, f.Uploaded = append([]byte(nil), data...), true
	s.notifyLocked()
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprintf(w, "OK - %d", len(data))
}

func (s *Server) completeUpload(c *call) reply {
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(c.param("files")), &list); err != nil || len(list) == 0 {
		return fail("invalid_arguments")
	}
	var targets []*channelState
	if c.param("channel_id") != "" {
		cs, e := s.channelFor(c, "channel_id")
		if e != "" {
			return fail(e)
		}
		targets = append(targets, cs)
	}
	if raw := c.param("channels"); raw != "" {
		for _, id := range strings.Split(raw, ",") {
			cs, e := s.channelFor(&call{params: map[string]string{"channel": strings.TrimSpace(id)}}, "channel")
			if e != "" {
				return fail(e)
			}
			targets = append(targets, cs)
		}
	}
	thread := c.param("thread_ts")
	if thread != "" && len(targets) != 1 {
		return fail("invalid_arguments")
	}
	comment := c.param("initial_comment")
	if utf8.RuneCountInString(comment) > s.opts.MaxTextLen {
		return fail("msg_too_long")
	}
	var blocks json.RawMessage
	if raw, has := c.params["blocks"]; has {
		n, e := checkBlocks(raw)
		if e != "" {
			return fail(e)
		}
		if n > 0 {
			blocks = json.RawMessage(raw)
		}
	}
	files := make([]*fileState, len(list))
	for i, item := range list {
		f := s.files[item.ID]
		if f == nil || !f.Uploaded || f.Completed {
			return fail("file_not_found")
		}
		files[i] = f
	}
	ids := make([]string, len(files))
	out := make([]map[string]any, len(files))
	for i, f := range files {
		f.Title = list[i].Title
		if f.Title == "" {
			f.Title = f.Name
		}
		f.Completed, f.ThreadTS, f.InitialComment = true, thread, comment
		ids[i] = f.ID
		out[i] = map[string]any{"id": f.ID, "title": f.Title}
	}
	for _, cs := range targets {
		m := s.newBotMsgLocked(cs, c, thread)
		m.Text, m.Versions, m.Blocks, m.FileIDs = comment, []string{comment}, blocks, ids
		for _, f := range files {
			f.Channels = append(f.Channels, cs.ID)
			f.MessageTS = append(f.MessageTS, m.TS)
		}
	}
	return ok(map[string]any{"files": out})
}

// Files returns the files of the upload flow, in the order their upload
// URLs were handed out, finished or not.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, 0, len(s.fileOrder))
	for _, id := range s.fileOrder {
		f := s.files[id].File
		f.Data = append([]byte(nil), f.Data...)
		f.Channels = append([]string(nil), f.Channels...)
		f.MessageTS = append([]string(nil), f.MessageTS...)
		out = append(out, f)
	}
	return out
}

// ---- response_url ----

// Limits of a response_url, as documented by Slack.
const (
	responseURLUses = 5
	responseURLTTL  = 30 * time.Minute
)

type responseURL struct {
	channel string
	created time.Time
	uses    int
}

// ResponsePost is one POST to a response_url the fake handed out with a
// slash command or an interaction.
type ResponsePost struct {
	URL     string
	Channel string // channel of the command or action
	At      time.Time
	// Status is the HTTP status the fake answered; Error its body when
	// not 200 (no_text, invalid_payload, used_url, expired_url).
	Status int
	Error  string
	// Fields of the JSON body.
	Text            string
	ResponseType    string // "ephemeral" (also when absent) or "in_channel"
	ReplaceOriginal bool
	DeleteOriginal  bool
	ThreadTS        string
	Blocks          json.RawMessage
	Body            json.RawMessage
}

// newResponseURLLocked hands out a response_url under kind ("commands"
// or "actions").
func (s *Server) newResponseURLLocked(kind, channel string, now time.Time) string {
	id := fmt.Sprintf("%s%d-%d", s.opts.TeamID, s.nextID(), now.UnixNano())
	s.responses[id] = &responseURL{channel: channel, created: now}
	return s.srv.URL + "/" + kind + "/" + id
}

func (s *Server) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	now := time.Now()
	data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body struct {
		Text            string          `json:"text"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal any             `json:"replace_original"`
		DeleteOriginal  any             `json:"delete_original"`
		ThreadTS        string          `json:"thread_ts"`
		Blocks          json.RawMessage `json:"blocks"`
	}
	p := ResponsePost{URL: s.srv.URL + r.URL.Path, At: now, Status: http.StatusOK, Body: append(json.RawMessage(nil), data...)}
	perr := json.Unmarshal(data, &body)
	p.Text, p.ResponseType, p.ThreadTS = body.Text, body.ResponseType, body.ThreadTS
	p.ReplaceOriginal, p.DeleteOriginal = truthy(body.ReplaceOriginal), truthy(body.DeleteOriginal)
	if b := strings.TrimSpace(string(body.Blocks)); b != "" && b != "null" && b != "[]" {
		p.Blocks = body.Blocks
	}
	if p.ResponseType == "" {
		p.ResponseType = "ephemeral"
	}

	s.mu.Lock()
	ru := s.responses[r.PathValue("id")]
	switch {
	case ru == nil:
		p.Status, p.Error = http.StatusNotFound, "no_service"
	case now.Sub(ru.created) > responseURLTTL:
		p.Status, p.Error = http.StatusNotFound, "expired_url"
	case ru.uses >= responseURLUses:
		p.Status, p.Error = http.StatusNotFound, "used_url"
	case perr != nil:
		p.Status, p.Error = http.StatusBadRequest, "invalid_payload"
	case strings.TrimSpace(p.Text) == "" && p.Blocks == nil && !p.DeleteOriginal:
		p.Status, p.Error = http.StatusBadRequest, "no_text"
	case utf8.RuneCountInString(p.Text) > s.opts.MaxTextLen:
		p.Status, p.Error = http.StatusBadRequest, "msg_too_long"
	}
	if ru != nil {
		p.Channel = ru.channel
		if p.Status == http.StatusOK {
			ru.uses++
		}
	}
	s.posts = append(s.posts, p)
	s.notifyLocked()
	s.mu.Unlock()

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if p.Status != http.StatusOK {
		w.WriteHeader(p.Status)
		_, _ = io.WriteString(w, p.Error)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true"
	}
	return false
}

// ResponseURLPosts returns the POSTs to response URLs, failed ones too,
// in order.
func (s *Server) ResponseURLPosts() []ResponsePost {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ResponsePost(nil), s.posts...)
}
