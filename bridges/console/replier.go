package console

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/chatbridge/chatbridge/engine"
)

// Markers that start each block of output, so a transcript in a pipe reads
// as a dialogue and a rewritten message is told apart from a new one.
const (
	markBot    = "bot> "
	markEdited = "bot (edited)> "
	markNotice = "console> "
)

// terminal is the one writer to Out, shared by the bridge and every
// replier. All output goes through mu and one Write call per operation, so
// concurrent replies never interleave within a line.
//
// In TTY mode the prompt is a footer: every block of output is followed by
// a new line holding the prompt, and the next block first clears that line.
// So the prompt always sits under the latest output, where the user types,
// and never inside a reply in progress. The invariant: when tailID is set,
// the cursor is on the prompt line directly under the tail block, so that
// block can be redrawn in place.
type terminal struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	width  int
	prompt string
	prefix string // per-bridge random part of message IDs
	nextID uint64

	atLineStart bool             // nothing written yet, or the last byte was '\n'
	promptShown bool             // TTY: the cursor is on a prompt line
	tailID      engine.MessageID // the message printed last, if nothing came after it
	tailMark    string           // the marker it was printed with
	tailText    string           // its rendered text as written
}

// write sends b to Out in one call. After a failed write what Out shows
// is unknown, so nothing is redrawn or extended in place and the next
// block starts on a new line. Called with mu held.
func (t *terminal) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := t.w.Write(b); err != nil {
		t.forgetTail()
		t.atLineStart, t.promptShown = false, false
		return writeError(err)
	}
	return nil
}

// freshLine appends what starts a new block on a line of its own: clearing
// the prompt line in TTY mode, else a newline if the last line is open.
func (t *terminal) freshLine(b []byte) []byte {
	switch {
	case t.promptShown:
		b = append(b, "\r\x1b[K"...)
	case !t.atLineStart:
		b = append(b, '\n')
	}
	t.promptShown, t.atLineStart = false, true
	return b
}

// endBlock appends the footer prompt after a block in TTY mode, on the
// line after the block, and records where the block ended. Called with mu
// held.
func (t *terminal) endBlock(b []byte, block string) []byte {
	if t.tty {
		if !strings.HasSuffix(block, "\n") {
			b = append(b, '\n')
		}
		return t.appendPrompt(b)
	}
	if block != "" {
		t.atLineStart = strings.HasSuffix(block, "\n")
	}
	return b
}

// printMessage prints a whole message on a fresh line and makes it the tail.
func (t *terminal) printMessage(id engine.MessageID, mark, text string) error {
	block := mark + text
	b := t.freshLine(nil)
	b = append(b, block...)
	b = t.endBlock(b, block)
	t.tailID, t.tailMark, t.tailText = id, mark, text
	return t.write(b)
}

// editMessage shows text, the new rendered text of message id, which
// differs from what it showed last. Called with mu held.
func (t *terminal) editMessage(id engine.MessageID, text string) error {
	switch {
	case id != t.tailID:
		// Something was printed after it: print it again, marked.
		return t.printMessage(id, markEdited, text)
	case t.tty:
		b := t.redraw(t.tailMark+t.tailText, t.tailMark+text)
		t.tailText = text
		return t.write(b)
	case strings.HasPrefix(text, t.tailText):
		// Streaming in a pipe: only the new part.
		suffix := text[len(t.tailText):]
		t.tailText = text
		b := t.endBlock([]byte(suffix), suffix)
		return t.write(b)
	default:
		return t.printMessage(id, markEdited, text)
	}
}

// redraw returns what turns the tail block old into block on the screen.
// It redraws from the first line that differs: back up over the rows the
// old lines from there took, clear to the end of the screen (those lines
// and the prompt line), and print the new lines and the prompt. Streaming
// mostly changes the last line or adds lines, so the cursor moves up a
// row or two, not over the whole reply: a reply taller than the screen
// still streams cleanly, as long as the changed part fits on it (else the
// cursor stops at the top row and the scrollback keeps a stale copy). Lines
// before the change stay as they are: Render's styles never span lines.
// Called with mu held.
func (t *terminal) redraw(old, block string) []byte {
	oldLines, newLines := screenLines(old), screenLines(block)
	k := 0
	for k < len(oldLines) && k < len(newLines) && oldLines[k] == newLines[k] {
		k++
	}
	// The prompt line follows the last line: when the new text lost lines,
	// redraw its last line too so the prompt lands right under it.
	k = min(k, len(newLines)-1)
	up := 0
	for _, line := range oldLines[k:] {
		up += rows(line, t.width)
	}
	b := []byte("\r")
	if up > 0 {
		b = fmt.Appendf(b, "\x1b[%dA", up)
	}
	b = append(b, "\x1b[J"...)
	b = append(b, strings.Join(newLines[k:], "\n")...)
	return t.appendPrompt(append(b, '\n'))
}

// screenLines splits a block into the lines it shows above the prompt
// line: a final "\n" only moves the prompt down (see endBlock).
func screenLines(block string) []string {
	return strings.Split(strings.TrimSuffix(block, "\n"), "\n")
}

// block prints lines that belong to no message (a notice, an upload) and
// leaves nothing to redraw. Called with mu held.
func (t *terminal) block(text string) error {
	b := t.freshLine(nil)
	b = append(b, text...)
	b = t.endBlock(b, text)
	t.forgetTail()
	return t.write(b)
}

// forgetTail records that no message can be redrawn or extended in place.
func (t *terminal) forgetTail() {
	t.tailID, t.tailMark, t.tailText = "", "", ""
}

// notice prints one line from the bridge itself. Safe for concurrent use.
func (t *terminal) notice(text string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.block(markNotice + text + "\n")
}

// showPrompt prints the prompt on a fresh line, in TTY mode only, unless
// it is already there. Safe for concurrent use.
func (t *terminal) showPrompt() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tty || t.promptShown {
		return nil
	}
	return t.write(t.appendPrompt(t.freshLine(nil)))
}

// appendPrompt appends the prompt; the caller is at the start of a line.
func (t *terminal) appendPrompt(b []byte) []byte {
	b = append(b, t.prompt...)
	t.promptShown, t.atLineStart = true, t.prompt == ""
	return b
}

// inputLine records that the user ended a line. In TTY mode the terminal
// echoed it, so the cursor now starts a new row below the prompt line and
// nothing above can be redrawn in place. In a pipe the input is not on Out,
// so nothing changes. Safe for concurrent use.
func (t *terminal) inputLine() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tty {
		return
	}
	t.promptShown, t.atLineStart = false, true
	t.forgetTail()
}

// close ends the output: it clears a prompt line, or ends an open last
// line. Safe for concurrent use.
func (t *terminal) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b []byte
	switch {
	case t.promptShown:
		b = []byte("\r\x1b[K")
	case !t.atLineStart:
		b = []byte{'\n'}
	}
	t.atLineStart, t.promptShown = true, false
	t.forgetTail()
	return t.write(b)
}

// replier is the engine.Replier (and engine.Uploader) for one inbound
// event. It remembers the text it last showed for each of its messages, so
// an unchanged edit is refused with engine.ErrNotModified. Safe for
// concurrent use: all state is guarded by the terminal's mutex.
type replier struct {
	t      *terminal
	maxLen int
	texts  map[engine.MessageID]string // rendered text last shown
}

var (
	_ engine.Replier  = (*replier)(nil)
	_ engine.Uploader = (*replier)(nil)
)

func newReplier(t *terminal, maxLen int) *replier {
	return &replier{t: t, maxLen: maxLen, texts: make(map[engine.MessageID]string)}
}

// render checks the length limit and renders m for this terminal.
func (r *replier) render(m engine.Outgoing) (string, error) {
	if engine.Runes.Len(m.Text) > r.maxLen {
		return "", engine.ErrTooLong
	}
	return Render(m.Text, r.t.tty && !m.Plain), nil
}

// Send prints m as a new message on a line of its own and returns its ID.
// It blocks while Out blocks; ctx is checked before writing. m.Ephemeral is
// ignored: the console has one user.
func (r *replier) Send(ctx context.Context, m engine.Outgoing) (engine.MessageID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	text, err := r.render(m)
	if err != nil {
		return "", err
	}
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.nextID++
	id := engine.MessageID(fmt.Sprintf("console-%s-m%d", t.prefix, t.nextID))
	if err := t.printMessage(id, markBot, text); err != nil {
		return "", err
	}
	r.texts[id] = text
	return id, nil
}

// Edit shows the new text of message id: redrawn in place on a terminal
// when it is the latest output, appended when a pipe already holds its
// beginning, else printed again marked as edited. An unchanged text
// returns engine.ErrNotModified and prints nothing. An id this replier did
// not send is printed as an edited message.
func (r *replier) Edit(ctx context.Context, id engine.MessageID, m engine.Outgoing) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	text, err := r.render(m)
	if err != nil {
		return err
	}
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	old, known := r.texts[id]
	if !known && id == t.tailID {
		old, known = t.tailText, true
	}
	if known && old == text {
		return engine.ErrNotModified
	}
	if err := t.editMessage(id, text); err != nil {
		return err
	}
	r.texts[id] = text
	return nil
}

// Upload prints the file for the user to copy, between a header line
// naming it and an end line, with the caption first. Everything is
// sanitised like a message, so an exported conversation cannot carry
// escape sequences to the terminal. data is not retained.
func (r *replier) Upload(ctx context.Context, name string, data []byte, caption string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("----- " + sanitize(name) + " -----\n")
	if caption != "" {
		b.WriteString(sanitize(caption) + "\n")
	}
	body := sanitize(string(data))
	b.WriteString(body)
	if body != "" && !strings.HasSuffix(body, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString("----- end -----\n")
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	return r.t.block(b.String())
}
