package console

import (
	"strconv"
	"strings"
	"testing"
)

// vt is a tiny virtual terminal: enough of xterm to replay the bridge's
// output and check what the screen finally shows. It knows printable
// runes with deferred wrap, "\n" (as the tty driver's ONLCR makes it, CR
// LF), "\r", "\t", and CSI n A, J, K and m; anything else fails the test.
type vt struct {
	t     *testing.T
	width int
	rows  [][]rune
	r, c  int // c == width: the deferred-wrap state
}

func newVT(t *testing.T, width int) *vt {
	return &vt{t: t, width: width, rows: [][]rune{nil}}
}

func (v *vt) feed(s string) {
	v.t.Helper()
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			j := i + 1
			if j >= len(s) || s[j] != '[' {
				v.t.Fatalf("vt: escape other than CSI at %d in %q", i, s)
			}
			j++
			start := j
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			if j >= len(s) {
				v.t.Fatalf("vt: unterminated CSI in %q", s)
			}
			v.csi(s[start:j], s[j])
			i = j + 1
			continue
		}
		r, size := decodeRune(s[i:])
		i += size
		v.put(r)
	}
}

func decodeRune(s string) (rune, int) {
	for _, r := range s {
		return r, len(string(r))
	}
	return 0, 0
}

func (v *vt) csi(param string, final byte) {
	v.t.Helper()
	switch final {
	case 'A':
		n := 1
		if param != "" {
			var err error
			if n, err = strconv.Atoi(param); err != nil {
				v.t.Fatalf("vt: bad CSI A parameter %q", param)
			}
		}
		v.r = max(0, v.r-n)
		v.c = min(v.c, v.width-1)
	case 'J':
		if param != "" {
			v.t.Fatalf("vt: CSI %sJ not expected", param)
		}
		v.clearLine()
		v.rows = v.rows[:v.r+1]
	case 'K':
		v.clearLine()
	case 'm':
	default:
		v.t.Fatalf("vt: unexpected CSI %s%c", param, final)
	}
}

func (v *vt) clearLine() {
	if row := v.rows[v.r]; len(row) > v.c {
		v.rows[v.r] = row[:v.c]
	}
}

func (v *vt) newline() {
	v.r++
	v.c = 0
	for len(v.rows) <= v.r {
		v.rows = append(v.rows, nil)
	}
}

func (v *vt) put(r rune) {
	v.t.Helper()
	switch {
	case r == '\n':
		v.newline()
		return
	case r == '\r':
		v.c = 0
		return
	case r == '\t':
		v.c = min((v.c/8+1)*8, max(v.c, v.width-1))
		return
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		v.t.Fatalf("vt: control character %U reached the terminal", r)
	}
	w := runeWidth(r)
	if w == 0 {
		return
	}
	if v.c+w > v.width {
		v.newline()
	}
	row := v.rows[v.r]
	for len(row) < v.c+w {
		row = append(row, ' ')
	}
	row[v.c] = r
	if w == 2 {
		row[v.c+1] = 0 // the right half of a wide rune
	}
	v.rows[v.r] = row
	v.c += w
}

// screen is what the terminal shows, rows joined by "\n", trailing spaces
// and trailing empty rows dropped.
func (v *vt) screen() string {
	lines := make([]string, len(v.rows))
	for i, row := range v.rows {
		lines[i] = strings.TrimRight(strings.ReplaceAll(string(row), "\x00", ""), " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}
