package engine

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Part is one message of a split text.
type Part struct {
	// Text is the message to send: Reopen + Body + Close.
	Text string
	// Body is the slice of the split text this part carries,
	// text[Start:Start+len(Body)]. The bodies of all parts, in order, are
	// the text.
	Body  string
	Start int
	// Reopen is the opener line of the code block Body starts inside,
	// copied from the text ("```go\n"), or "" when the part starts outside
	// any block.
	Reopen string
	// Close closes the code block Body ends inside, or is "". It is the
	// opener's run ("```") when Body ends with a line break, else a line
	// break and the run one character longer ("\n````"): the lengths tell
	// JoinParts which of the two it removes, and a longer run still closes
	// the block.
	Close string
}

// Split cuts text, a CommonMark reply, into messages that each measure at
// most limit in unit u; limit <= 0 means no limit. It returns nil for "".
//
// A part is cut, searching back from the limit so parts are as full as
// possible, after a blank line, else after a line break, else after a
// sentence end (". ", "! ", "? ", "。"), else after a space, else between
// two characters, keeping emoji sequences and combining marks whole where it
// can. A better kind of cut is taken only if it keeps the part at least half
// full; otherwise the latest cut of any kind is. Whitespace at a cut stays at
// the end of the earlier part.
//
// A fenced code block open at a cut is closed at the end of the part and its
// opener line repeated at the start of the next (see Part); the additions
// count toward the limit. Every part then has balanced fences (see
// FencesBalanced), with three exceptions. A block the text leaves open (a
// reply still streaming) stays open in the last part: closing it would make
// Split("```\nx") look exactly like Split("```\nx\n```"), and no JoinParts
// could tell them apart. A block is not repaired when its opener line, a
// closer and one character do not fit in limit. And a fence line, or a run of
// fence characters, longer than a whole part has to be cut somewhere inside.
//
// Nothing is lost: JoinParts(Split(text, limit, u)) == text for every text,
// limit and u. No part is empty, and a part is all whitespace only where the
// text has about a part's worth of whitespace in a row. A part exceeds limit
// only when limit is smaller than one character (limit 1 and an emoji in
// UTF16); that character then makes a part of its own.
//
// Split takes time linear in len(text) and allocates little (the result,
// and one string per part it adds fences to): it is meant to be called on
// every flush of a growing reply.
func Split(text string, limit int, u LenUnit) []string {
	if text == "" {
		return nil
	}
	sp := newSplitter(text, limit, u)
	out := make([]string, 0, sp.estimate())
	for {
		p, ok := sp.next()
		if !ok {
			return out
		}
		out = append(out, p.Text)
	}
}

// SplitParts is Split with the details of each part: where its body lies in
// text and what was added around it.
func SplitParts(text string, limit int, u LenUnit) []Part {
	if text == "" {
		return nil
	}
	sp := newSplitter(text, limit, u)
	out := make([]Part, 0, sp.estimate())
	for {
		p, ok := sp.next()
		if !ok {
			return out
		}
		out = append(out, p)
	}
}

// splitter produces the parts of one text, one at a time.
type splitter struct {
	text   string
	limit  int
	u      LenUnit
	fences []fence
	pos    int // where the next part's body starts
	posLS  int // where the line holding pos starts
	reopen int // index of the fence the next part reopens, or -1
}

// cand is a cut position and the units of the body up to it.
type cand struct{ pos, used int }

// hardLookBack is how many characters a hard cut may step back from the
// limit to find a better place: enough for any emoji sequence.
const hardLookBack = 64

func newSplitter(text string, limit int, u LenUnit) splitter {
	sp := splitter{text: text, limit: limit, u: u, reopen: -1}
	if limit <= 0 {
		return sp
	}
	sp.fences = scanFences(text)
	for i := range sp.fences {
		f := &sp.fences[i]
		f.openUnits = u.Len(text[f.os:f.oe])
		// A reopened part must hold the opener, the longer closer and one
		// character, or it could never advance.
		f.repair = f.openUnits+f.n+2+maxRuneUnits(u) <= limit
	}
	return sp
}

// estimate guesses the number of parts, to size the result once.
func (sp *splitter) estimate() int {
	if sp.limit <= 0 {
		return 1
	}
	return min(len(sp.text)/sp.limit+1, 1024)
}

// next returns the next part, or false after the last.
func (sp *splitter) next() (Part, bool) {
	text := sp.text
	start := sp.pos
	if start >= len(text) {
		return Part{}, false
	}
	p := Part{Start: start}
	budget := sp.limit
	if sp.reopen >= 0 {
		f := &sp.fences[sp.reopen]
		p.Reopen = text[f.os:f.oe]
		budget -= f.openUnits
	}
	end := len(text)
	if sp.limit > 0 {
		end = sp.cut(start, budget)
	}
	sp.posLS = sp.lineStart(start, end)
	sp.pos, sp.reopen = end, -1
	p.Body = text[start:end]
	closeN := 0
	if end < len(text) {
		if i := sp.fenceIndex(end); i < len(sp.fences) {
			if f := &sp.fences[i]; f.repair && f.zone(end) == zoneBody {
				sp.reopen = i
				closeN = f.n
				if text[end-1] != '\n' {
					closeN = f.n + 2
				}
			}
		}
	}
	if p.Reopen == "" && closeN == 0 {
		p.Text = p.Body
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p.Reopen) + len(p.Body) + closeN)
	b.WriteString(p.Reopen)
	b.WriteString(p.Body)
	if closeN > 0 {
		f := &sp.fences[sp.reopen]
		runN := closeN
		if closeN > f.n {
			b.WriteByte('\n')
			runN = f.n + 1
		}
		for range runN {
			b.WriteByte(f.ch)
		}
	}
	p.Text = b.String()
	p.Close = p.Text[len(p.Text)-closeN:]
	return p, true
}

// fenceIndex returns the index of the first fence that ends after p.
func (sp *splitter) fenceIndex(p int) int {
	lo, hi := 0, len(sp.fences)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sp.fences[m].ce <= p {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// lineStart returns where the line holding c starts, for start <= c, in
// time proportional to c-start rather than to the line's length.
func (sp *splitter) lineStart(start, c int) int {
	if i := strings.LastIndexByte(sp.text[start:c], '\n'); i >= 0 {
		return start + i + 1
	}
	return sp.posLS
}

// closerAt returns the units of the closer a cut at p needs: none outside a
// repaired block, else the opener's run after a line break, else "\n" and a
// run one longer.
func (sp *splitter) closerAt(fi, p int) (units int, repair bool) {
	if fi >= len(sp.fences) {
		return 0, false
	}
	f := &sp.fences[fi]
	if !f.repair || f.zone(p) != zoneBody {
		return 0, false
	}
	if sp.text[p-1] == '\n' {
		return f.n, true
	}
	return f.n + 2, true
}

// cut returns the end of the body of the part starting at start, whose body
// may measure budget units (the limit less a reopened opener line). It walks
// forward once, measuring as it goes, and remembers the latest cut of each
// kind that fits with the closer it would need.
func (sp *splitter) cut(start, budget int) int {
	text := sp.text
	fi := sp.fenceIndex(start)
	fenceLine := fenceStart(text[sp.posLS:]) // the current line looks like a fence line
	lineBlank := sp.posLS == start           // the current line is blank so far
	prevBlank := false                       // the line before the current one was blank
	seen := false                            // text[start:p] has a non-space
	var para, line, sentence, space cand
	var closerLine cand // the line break before a repaired block's closer line
	// fits reports whether a cut at p fits with the closer it needs, and
	// whether it needs one.
	fits := func(p, used int) (ok, repair bool) {
		for fi < len(sp.fences) && sp.fences[fi].ce <= p {
			fi++
		}
		closer, repair := sp.closerAt(fi, p)
		return used+closer <= budget, repair
	}
	used := 0
	p := start
	for p < len(text) {
		c := text[p]
		r := rune(c)
		w, size := 1, 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[p:])
			w = runeUnits(sp.u, r, size)
		}
		if used+w > budget {
			break
		}
		used += w
		p += size
		// Only positions after a line break, a space or a CJK sentence end
		// are candidates; the hard cut is found from the limit afterwards.
		switch c {
		case '\n':
			prevBlank, lineBlank = lineBlank, true
			fenceLine = fenceStart(text[p:])
			if !seen {
				continue
			}
			ok, repair := fits(p, used)
			switch {
			case !ok:
			case repair && p == sp.fences[fi].oe:
				// The part would end in an empty block; the cut before
				// the opener line is as good.
			case repair && p == sp.fences[fi].cs:
				// The next part would begin with an empty block: take
				// this only when no other line break will do.
				closerLine = cand{p, used}
			default:
				line = cand{p, used}
				if prevBlank {
					para = line
				}
			}
		case ' ', '\t':
			if !seen || fenceLine || fenceStart(text[p:]) {
				continue
			}
			if ok, _ := fits(p, used); ok {
				space = cand{p, used}
				if p >= 2 && c == ' ' && (text[p-2] == '.' || text[p-2] == '!' || text[p-2] == '?') {
					sentence = space
				}
			}
		case '\r':
		default:
			lineBlank, seen = false, true
			if (r == '。' || r == '！' || r == '？') && !fenceLine && !fenceStart(text[p:]) {
				if ok, _ := fits(p, used); ok {
					sentence = cand{p, used}
				}
			}
		}
	}
	if p == len(text) {
		return p
	}
	half := budget / 2
	for _, c := range [...]cand{para, line, closerLine, sentence, space} {
		if c.pos > start && c.used >= half {
			return c.pos
		}
	}
	if best := max(line.pos, closerLine.pos, sentence.pos, space.pos); best > start {
		return best
	}
	return sp.hardCut(start, budget, cand{p, used})
}

// hardCut cuts between two characters at or before h, the limit. It steps
// back a little to keep emoji sequences, fence lines and CRLF whole and to
// avoid a part of only whitespace, and never leaves the part ending in a line
// that JoinParts would take for a repair closer.
func (sp *splitter) hardCut(start, budget int, h cand) int {
	text := sp.text
	// Step back to where the closer a cut would need fits too.
	for h.pos > start {
		if closer, _ := sp.closerAt(sp.fenceIndex(h.pos), h.pos); h.used+closer <= budget {
			break
		}
		r, size := utf8.DecodeLastRuneInString(text[:h.pos])
		h.pos -= size
		h.used -= runeUnits(sp.u, r, size)
	}
	if h.pos <= start {
		// Not one character fits: the limit is smaller than a character.
		// Take one anyway, since dropping it would lose text.
		_, size := utf8.DecodeRuneInString(text[start:])
		return start + size
	}
	// The better tiers keep some non-space in the part, if the window has any.
	least := start
	for least < h.pos && (text[least] == ' ' || text[least] == '\t' || text[least] == '\n' || text[least] == '\r') {
		least++
	}
	if least == h.pos {
		least = start
	}
	for tier := range 3 {
		c, used := h.pos, h.used
		ls := sp.lineStart(start, c)
		for steps := 0; c > start && (tier == 2 || steps < hardLookBack); steps++ {
			if (tier == 2 || c > least) && sp.hardOK(start, budget, c, used, ls, tier) {
				return c
			}
			r, size := utf8.DecodeLastRuneInString(text[:c])
			c -= size
			used -= runeUnits(sp.u, r, size)
			if c < ls {
				ls = sp.lineStart(start, c)
			}
		}
	}
	// Unreachable: tier 2 accepts two characters into any line.
	return h.pos
}

// hardOK reports whether a hard cut at c (whose line starts at ls, with used
// units before it) is acceptable at the given tier: 2 only needs the cut to
// fit and to be undoable by JoinParts, 1 also keeps fence lines whole, and 0
// also keeps grapheme-like sequences whole.
func (sp *splitter) hardOK(start, budget, c, used, ls, tier int) bool {
	text := sp.text
	fi := sp.fenceIndex(c)
	closer, repair := sp.closerAt(fi, c)
	if used+closer > budget {
		return false
	}
	// A body ending in a line of three or more fence characters, with a line
	// break before it in the part, would read as a repair closer.
	if !repair && ls > start && fenceRunOnly(text[ls:c]) {
		return false
	}
	if tier == 2 {
		return true
	}
	if c == ls {
		if repair && c == sp.fences[fi].oe {
			return false
		}
	} else if fenceStart(text[ls:]) || fenceStart(text[c:]) {
		return false
	}
	return tier == 1 || graphemeBoundary(text, c)
}

// graphemeBoundary reports whether cutting text at i keeps together what
// shows as one character, approximately: CRLF, ZWJ emoji sequences,
// variation selectors, skin tones, flag pairs, tag sequences and combining
// marks. (Full UAX #29 segmentation would need tables this does not.)
func graphemeBoundary(text string, i int) bool {
	const zwj = '\u200d'
	a, _ := utf8.DecodeLastRuneInString(text[:i])
	b, _ := utf8.DecodeRuneInString(text[i:])
	switch {
	case a == '\r' && b == '\n', a == zwj, b == zwj:
		return false
	case b < utf8.RuneSelf:
		return true
	case b >= 0xFE00 && b <= 0xFE0F, b >= 0xE0100 && b <= 0xE01EF: // variation selectors
		return false
	case b >= 0x1F3FB && b <= 0x1F3FF, b >= 0xE0020 && b <= 0xE007F: // skin tones, tags
		return false
	case isRegional(a) && isRegional(b):
		// Flags are pairs: cut only after an even run of indicators.
		n := 0
		for j := i; j > 0 && n < hardLookBack; n++ {
			r, size := utf8.DecodeLastRuneInString(text[:j])
			if !isRegional(r) {
				break
			}
			j -= size
		}
		return n%2 == 0
	}
	return !unicode.In(b, unicode.Mn, unicode.Me, unicode.Mc)
}

func isRegional(r rune) bool { return r >= 0x1F1E6 && r <= 0x1F1FF }

// runeUnits measures one decoded rune of size bytes in u, as LenUnit.Len
// would (an invalid byte decodes to U+FFFD and counts one).
func runeUnits(u LenUnit, r rune, size int) int {
	switch u {
	case Bytes:
		return size
	case UTF16:
		if r >= 0x10000 {
			return 2
		}
	}
	return 1
}

// maxRuneUnits is the most one character measures in u.
func maxRuneUnits(u LenUnit) int {
	switch u {
	case Bytes:
		return utf8.UTFMax
	case UTF16:
		return 2
	}
	return 1
}
