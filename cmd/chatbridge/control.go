package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/chatbridge/chatbridge/cmd/chatbridge/internal/config"
	"github.com/chatbridge/chatbridge/storage"
)

// The control socket. While `chatbridge run` holds the data directory's
// lock, other chatbridge commands ask the daemon over a Unix socket,
// control.sock in the data directory (mode 0600, in a directory Badger
// creates with mode 0700).
//
// Protocol, one request per connection: the client sends one JSON line,
// {"op":"ping"} or {"op":"backup"}; the server answers with one JSON line,
// a controlReply: {"ok":true,...} or {"ok":false,"error":"..."}. After an
// ok answer to "backup" come the backup's bytes (encrypted when the
// daemon's storage.backup_age_recipients is set) in frames: a 4-byte
// big-endian length, then that many bytes. A frame of length 0 ends them
// and is followed by one more JSON line saying whether the whole backup was
// sent; without an ok there the backup is incomplete.
const (
	controlSocketName = "control.sock"
	// maxSocketPath is the longest socket path: sun_path is 108 bytes on
	// Linux, with the terminating NUL.
	maxSocketPath = 107
	// controlLineMax bounds a request or reply line.
	controlLineMax = 4 << 10
	// controlReadTimeout bounds the wait for a request, and a client's
	// dial and ping.
	controlReadTimeout = 10 * time.Second
	// controlWriteTimeout drops a client that reads nothing for this long,
	// so a stuck client does not hold a database snapshot for ever.
	controlWriteTimeout = time.Minute
	// controlFrameSize is the size of the server's frames; maxControlFrame
	// is the largest a client accepts.
	controlFrameSize = 64 << 10
	maxControlFrame  = 1 << 20
	// acceptBackoff is the pause after a failed Accept (out of files).
	acceptBackoff = 100 * time.Millisecond
)

// controlRequest is a client's request line.
type controlRequest struct {
	Op string `json:"op"`
}

// controlReply is a server's reply line.
type controlReply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	// Version and PID identify the daemon (first reply only).
	Version string `json:"version,omitempty"`
	PID     int    `json:"pid,omitempty"`
	// Encrypted says the backup that follows is an age file.
	Encrypted bool `json:"encrypted,omitempty"`
}

// controlSocketPath is the control socket of the data directory dataDir.
// A path too long for a Unix socket is a usage error naming storage.dir.
func controlSocketPath(dataDir string) (string, error) {
	path := filepath.Join(dataDir, controlSocketName)
	if len(path) > maxSocketPath {
		return "", usagef("storage.dir %s is too long for the control socket: %s is %d bytes, and a Unix socket path "+
			"may have at most %d; choose a shorter storage.dir (or start chatbridge from a directory that makes a relative one short)",
			dataDir, path, len(path), maxSocketPath)
	}
	return path, nil
}

// serveControl serves the control socket of dataDir (storage.dir) until ctx
// ends or stop is called: ping, and backups of st, encrypted to
// cfg.Storage.BackupAgeRecipients when set. It removes a stale socket file
// left by a crash and fails when another daemon answers on the socket,
// when something else is at its path, or when the path is too long for a
// Unix socket (a usage error). It returns once the socket listens; stop
// closes it, cuts short backups in progress, waits for every connection to
// end and removes the socket file; it may be called more than once. The
// caller must call stop before closing st.
func serveControl(ctx context.Context, dataDir string, st *storage.Store, cfg *config.Config, log *slog.Logger) (stop func(), err error) {
	recips, err := cfg.Storage.AgeRecipients()
	if err != nil {
		return nil, usageError{err}
	}
	return listenControl(ctx, dataDir, st, recips, log)
}

// listenControl is serveControl for any backup source.
func listenControl(ctx context.Context, dataDir string, src backupSource, recips []age.Recipient, log *slog.Logger) (stop func(), err error) {
	path, err := controlSocketPath(dataDir)
	if err != nil {
		return nil, err
	}
	if err := clearStaleSocket(ctx, path, log); err != nil {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &controlServer{
		ln:     ln,
		src:    src,
		recips: recips,
		log:    log.With("component", "control"),
		ctx:    sctx,
		cancel: cancel,
		conns:  map[net.Conn]struct{}{},
	}
	s.wg.Go(s.serve)
	stopAfter := context.AfterFunc(ctx, s.close)
	s.log.Info("control socket", "path", path)
	return func() {
		stopAfter()
		s.close()
		s.wg.Wait()
	}, nil
}

// clearStaleSocket removes the socket file at path when no one answers on
// it, and fails when someone does or when the file is not a socket.
func clearStaleSocket(ctx context.Context, path string, log *slog.Logger) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket %s: the path exists and is not a socket; move that file away", path)
	}
	r, err := pingControl(ctx, path)
	switch {
	case err == nil:
		return fmt.Errorf("control socket %s: another chatbridge daemon (version %s, pid %d) answers on it; stop it first",
			path, r.Version, r.PID)
	case errors.Is(err, syscall.ECONNREFUSED):
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("control socket %s: remove the stale socket: %w", path, err)
		}
		log.Info("removed a stale control socket", "path", path)
		return nil
	default:
		return fmt.Errorf("control socket %s: something else answers on it, or it cannot be checked (%w); stop it or remove the file", path, err)
	}
}

// controlServer serves one control socket.
type controlServer struct {
	ln     *net.UnixListener
	src    backupSource
	recips []age.Recipient
	log    *slog.Logger
	ctx    context.Context // ends at close: cuts backups short
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every connection

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

// serve accepts connections until the listener is closed.
func (s *controlServer) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("control socket accept", "err", err)
			t := time.NewTimer(acceptBackoff)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if !s.track(conn) {
			conn.Close()
			return
		}
		s.wg.Go(func() {
			defer s.untrack(conn)
			s.handle(conn)
		})
	}
}

// close stops accepting and closes every connection. It may be called
// more than once and from any goroutine.
func (s *controlServer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.ln.Close() // also removes the socket file
}

func (s *controlServer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// track registers conn, unless the server is closed.
func (s *controlServer) track(conn net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[conn] = struct{}{}
	return true
}

func (s *controlServer) untrack(conn net.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
}

// handle answers the one request of conn.
func (s *controlServer) handle(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(controlReadTimeout))
	var req controlRequest
	if err := readLine(bufio.NewReader(io.LimitReader(conn, controlLineMax)), &req); err != nil {
		s.reply(conn, controlReply{Error: "bad request: " + err.Error()})
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	switch req.Op {
	case "ping":
		s.reply(conn, controlReply{OK: true, Version: version, PID: os.Getpid()})
	case "backup":
		s.backup(conn)
	default:
		s.reply(conn, controlReply{Error: fmt.Sprintf("unknown op %q; accepted: ping, backup", req.Op)})
	}
}

// backup streams a backup to conn in frames, then the final reply.
func (s *controlServer) backup(conn net.Conn) {
	start := time.Now()
	head := controlReply{OK: true, Version: version, PID: os.Getpid(), Encrypted: len(s.recips) > 0}
	if err := s.reply(conn, head); err != nil {
		return
	}
	fw := &frameWriter{conn: conn}
	bw := bufio.NewWriterSize(fw, controlFrameSize)
	err := writeBackup(s.ctx, bw, s.src, s.recips)
	if err == nil {
		err = bw.Flush()
	}
	endErr := fw.end()
	if err == nil {
		err = endErr
	}
	if err != nil {
		s.reply(conn, controlReply{Error: "backup failed: " + err.Error()})
		if s.ctx.Err() != nil {
			s.log.Info("backup over the control socket cut short: the daemon is stopping")
		} else {
			s.log.Warn("backup over the control socket failed", "err", err)
		}
		return
	}
	s.reply(conn, controlReply{OK: true})
	s.log.Info("backup sent over the control socket", "bytes", fw.n, "encrypted", head.Encrypted,
		"took", time.Since(start).Round(time.Millisecond))
}

// reply writes r as one JSON line.
func (s *controlServer) reply(conn net.Conn, r controlReply) error {
	_ = conn.SetWriteDeadline(time.Now().Add(controlWriteTimeout))
	return writeLine(conn, r)
}

// frameWriter writes each Write as frames of at most controlFrameSize
// bytes, each write within controlWriteTimeout.
type frameWriter struct {
	conn net.Conn
	n    int64
}

func (f *frameWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), controlFrameSize)]
		if err := f.frame(chunk); err != nil {
			return done, err
		}
		done += len(chunk)
		p = p[len(chunk):]
	}
	return done, nil
}

// end writes the frame of length 0 that ends the data.
func (f *frameWriter) end() error { return f.frame(nil) }

func (f *frameWriter) frame(p []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(p)))
	_ = f.conn.SetWriteDeadline(time.Now().Add(controlWriteTimeout))
	bufs := net.Buffers{hdr[:], p}
	if _, err := bufs.WriteTo(f.conn); err != nil {
		return err
	}
	f.n += int64(len(p))
	return nil
}

// writeLine writes v as one line of JSON.
func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// readLine reads one line of JSON into v.
func readLine(r *bufio.Reader, v any) error {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return errors.New("line too long")
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	return json.Unmarshal(line, v)
}

// dialControl connects to the control socket at path, giving up after
// controlReadTimeout or when ctx ends. The connection is closed when ctx
// ends; the caller closes it and calls the returned release when done.
func dialControl(ctx context.Context, path string) (net.Conn, func(), error) {
	d := net.Dialer{Timeout: controlReadTimeout}
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, nil, err
	}
	release := context.AfterFunc(ctx, func() { conn.Close() })
	return conn, func() { release() }, nil
}

// pingControl asks the daemon on the control socket at path who it is.
func pingControl(ctx context.Context, path string) (controlReply, error) {
	conn, release, err := dialControl(ctx, path)
	if err != nil {
		return controlReply{}, err
	}
	defer release()
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(controlReadTimeout))
	if err := writeLine(conn, controlRequest{Op: "ping"}); err != nil {
		return controlReply{}, fmt.Errorf("ping: %w", err)
	}
	var r controlReply
	if err := readLine(bufio.NewReaderSize(conn, controlLineMax), &r); err != nil {
		return controlReply{}, fmt.Errorf("ping: %w", err)
	}
	if !r.OK {
		return r, fmt.Errorf("ping: %s", r.Error)
	}
	return r, nil
}

// fetchBackup asks the daemon on the control socket at path for a backup
// and writes it to w. It returns the daemon's first reply, which says
// whether the backup is encrypted, once the whole backup is written; an
// error means w holds a partial backup. It blocks until then or until ctx
// ends.
func fetchBackup(ctx context.Context, path string, w io.Writer) (controlReply, error) {
	conn, release, err := dialControl(ctx, path)
	if err != nil {
		return controlReply{}, err
	}
	defer release()
	defer conn.Close()
	head, err := readBackup(conn, w)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return head, err
}

// readBackup sends the backup request on conn and copies the frames to w.
func readBackup(conn net.Conn, w io.Writer) (controlReply, error) {
	if err := writeLine(conn, controlRequest{Op: "backup"}); err != nil {
		return controlReply{}, fmt.Errorf("send the request: %w", err)
	}
	br := bufio.NewReaderSize(conn, controlFrameSize+8)
	var head controlReply
	if err := readLine(br, &head); err != nil {
		return head, fmt.Errorf("read the daemon's answer: %w", err)
	}
	if !head.OK {
		return head, fmt.Errorf("the daemon refused: %s", head.Error)
	}
	ew := &errWriter{w: w}
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return head, fmt.Errorf("the backup stream broke off: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 {
			break
		}
		if n > maxControlFrame {
			return head, fmt.Errorf("the backup stream is garbled (a frame of %d bytes)", n)
		}
		if _, err := io.CopyN(ew, br, int64(n)); err != nil {
			if ew.err != nil {
				return head, ew.err
			}
			return head, fmt.Errorf("the backup stream broke off: %w", err)
		}
	}
	var tail controlReply
	if err := readLine(br, &tail); err != nil {
		return head, fmt.Errorf("read the daemon's final answer: %w", err)
	}
	if !tail.OK {
		return head, fmt.Errorf("the daemon's backup failed: %s", tail.Error)
	}
	return head, nil
}

// errWriter keeps the first error of w, to tell a failed write from a
// failed read.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}
