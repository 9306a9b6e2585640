package telegramtest

// Entities: the MessageEntity model, and what the real server does to
// every formatted text after parsing (fix_entities, clean_input_string,
// trimming, automatic entities), after TDLib's MessageEntity.cpp.

import (
	"errors"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Entity is a MessageEntity as the Bot API returns it. Offset and Length
// are in UTF-16 code units.
type Entity struct {
	Type     string `json:"type"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
	URL      string `json:"url,omitempty"`
	Language string `json:"language,omitempty"`
	// CustomEmojiID is set for "custom_emoji" entities.
	CustomEmojiID string `json:"custom_emoji_id,omitempty"`
}

// entity kinds, with the priority TDLib sorts by (lower first when two
// entities share offset and length).
type kind int

const (
	kMention kind = iota
	kHashtag
	kBotCommand
	kURL
	kEmail
	kBold
	kItalic
	kCode
	kPre
	kPreCode
	kTextURL
	kTextMention
	kCashtag
	kUnderline
	kStrikethrough
	kBlockQuote
	kSpoiler
	kCustomEmoji
	kExpandableBlockQuote
)

var kindInfo = [...]struct {
	priority int
	name     string // Bot API type
	tdName   string // TDLib name, used in MarkdownV2 errors
}{
	kMention:              {50, "mention", "Mention"},
	kHashtag:              {50, "hashtag", "Hashtag"},
	kBotCommand:           {50, "bot_command", "BotCommand"},
	kURL:                  {50, "url", "Url"},
	kEmail:                {50, "email", "EmailAddress"},
	kBold:                 {90, "bold", "Bold"},
	kItalic:               {91, "italic", "Italic"},
	kCode:                 {20, "code", "Code"},
	kPre:                  {11, "pre", "Pre"},
	kPreCode:              {10, "pre", "PreCode"},
	kTextURL:              {49, "text_link", "TextUrl"},
	kTextMention:          {49, "text_mention", "MentionName"},
	kCashtag:              {50, "cashtag", "Cashtag"},
	kUnderline:            {92, "underline", "Underline"},
	kStrikethrough:        {93, "strikethrough", "Strikethrough"},
	kBlockQuote:           {0, "blockquote", "BlockQuote"},
	kSpoiler:              {94, "spoiler", "Spoiler"},
	kCustomEmoji:          {99, "custom_emoji", "CustomEmoji"},
	kExpandableBlockQuote: {1, "expandable_blockquote", "ExpandableBlockQuote"},
}

func (k kind) String() string { return kindInfo[k].tdName }

// splittable entities may overlap anything but pre/code; they are cut
// around other entities when TDLib fixes a text.
var splittableKinds = [...]kind{kBold, kItalic, kUnderline, kStrikethrough, kSpoiler}

func splittableIndex(k kind) int {
	for i, s := range splittableKinds {
		if s == k {
			return i
		}
	}
	return -1
}

func isSplittable(k kind) bool { return splittableIndex(k) >= 0 }
func isBlockquote(k kind) bool { return k == kBlockQuote || k == kExpandableBlockQuote }
func isPreKind(k kind) bool    { return k == kCode || k == kPre || k == kPreCode }

type ent struct {
	k      kind
	off    int
	length int
	arg    string // URL, language, custom emoji id or user id
}

func (e ent) end() int { return e.off + e.length }

func (e ent) export() Entity {
	x := Entity{Type: kindInfo[e.k].name, Offset: e.off, Length: e.length}
	switch e.k {
	case kTextURL:
		x.URL = e.arg
	case kPreCode:
		x.Language = e.arg
	case kCustomEmoji:
		x.CustomEmojiID = e.arg
	case kTextMention:
		x.URL = "tg://user?id=" + e.arg
	}
	return x
}

// sortEntities orders as TDLib does: offset ascending, then length
// descending, then type priority.
func sortEntities(es []ent) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.off != b.off {
			return a.off < b.off
		}
		if a.length != b.length {
			return a.length > b.length
		}
		return kindInfo[a.k].priority < kindInfo[b.k].priority
	})
}

// formatted is the result of parsing and fixing a text.
type formatted struct {
	text     string
	entities []ent
}

// formatText parses text in parse mode mode (case-insensitive "html",
// "markdownv2", "markdown" or ""), or takes explicit entities, then fixes
// and trims the result as the real server does. With allowEmpty an empty
// result is fine (drafts, captions); otherwise it is errEmptyText.
func formatText(text, mode string, explicit []ent, allowEmpty bool) (formatted, error) {
	var (
		out  string
		ents []ent
		err  error
	)
	switch strings.ToLower(mode) {
	case "html":
		out, ents, err = parseHTML(text)
	case "markdownv2":
		out, ents, err = parseMarkdownV2(text)
	case "markdown":
		out, ents, err = parseMarkdown(text)
	case "":
		out, ents = text, clampEntities(text, explicit)
	default:
		return formatted{}, errBadParseMode
	}
	if err != nil {
		return formatted{}, err
	}
	if !utf8.ValidString(out) {
		return formatted{}, errNotUTF8
	}
	return fixFormattedText(out, ents, allowEmpty)
}

var (
	errBadParseMode = errors.New("unsupported parse_mode")
	errNotUTF8      = errors.New("strings must be encoded in UTF-8")
	errEmptyText    = errors.New("text must be non-empty")
)

// clampEntities drops explicit entities that fall outside the text.
func clampEntities(text string, es []ent) []ent {
	n := UTF16Len(text)
	var out []ent
	for _, e := range es {
		if e.off < 0 || e.length <= 0 || e.off >= n {
			continue
		}
		if e.end() > n {
			e.length = n - e.off
		}
		out = append(out, e)
	}
	return out
}

// fixFormattedText is fix_formatted_text: it fixes the entity tree,
// trims spaces and newlines at both ends and adds the entities the server
// finds by itself (mentions, commands, hashtags, URLs, e-mails).
func fixFormattedText(text string, es []ent, allowEmpty bool) (formatted, error) {
	es = fixEntities(es)
	text, es = cleanInput(text, es)

	// the last non-whitespace character (only ' ' and '\n' count)
	lastPos, last16 := -1, -1
	off16 := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		off16 += units(c)
		if c == ' ' || c == '\n' || !isFirstUnit(c) {
			continue
		}
		j := i + 1
		for j < len(text) && !isFirstUnit(text[j]) {
			j++
		}
		lastPos, last16 = j-1, off16-1
	}
	if last16 == -1 {
		if allowEmpty {
			return formatted{}, nil
		}
		return formatted{}, errEmptyText
	}
	es = fixEntities(es)

	// rtrim
	text = text[:lastPos+1]
	kept := es[:0]
	for _, e := range es {
		if e.off > last16 {
			continue
		}
		if e.end() > last16+1 {
			e.length = last16 + 1 - e.off
		}
		kept = append(kept, e)
	}
	es = kept
	sortEntities(es)

	// ltrim, up to the first entity
	first := len(text)
	if len(es) > 0 && es[0].off < first {
		first = es[0].off
	}
	skip := 0
	for skip < first && (text[skip] == ' ' || text[skip] == '\n') {
		skip++
	}
	if skip > 0 {
		text = text[skip:]
		for i := range es {
			es[i].off -= skip
		}
	}
	if strings.TrimFunc(text, func(r rune) bool { return r == ' ' || r == '\n' }) == "" && !allowEmpty {
		return formatted{}, errEmptyText
	}
	es = mergeNewEntities(es, findEntities(text))
	return formatted{text: text, entities: es}, nil
}

func kindBit(k kind) int { return 1 << uint(k) }

var (
	splittableMask = kindBit(kBold) | kindBit(kItalic) | kindBit(kUnderline) | kindBit(kStrikethrough) | kindBit(kSpoiler)
	blockquoteMask = kindBit(kBlockQuote) | kindBit(kExpandableBlockQuote)
	continuousMask = kindBit(kMention) | kindBit(kHashtag) | kindBit(kBotCommand) | kindBit(kURL) | kindBit(kEmail) |
		kindBit(kTextURL) | kindBit(kTextMention) | kindBit(kCashtag) | kindBit(kCustomEmoji)
)

// areEntitiesValid is TDLib's are_entities_valid, the fast path of
// fix_entities: sorted entities that need no fixing. Anything nested in a
// splittable entity, or two touching entities of one splittable type,
// need fixing.
func areEntitiesValid(es []ent) bool {
	endPos := [len(splittableKinds)]int{-1, -1, -1, -1, -1}
	var stack []ent
	mask := 0
	for _, e := range es {
		if e.length <= 0 {
			return false
		}
		for len(stack) > 0 && e.off >= stack[len(stack)-1].end() {
			mask &^= kindBit(stack[len(stack)-1].k)
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 {
			parent := stack[len(stack)-1]
			switch {
			case e.end() > parent.end():
				return false // intersects
			case mask&kindBit(e.k) != 0:
				return false // nested in its own type
			case isPreKind(parent.k):
				return false // pre and code contain nothing
			case isPreKind(e.k) && mask&^blockquoteMask != 0:
				return false // pre and code are inside blockquotes only
			case (kindBit(e.k)&continuousMask != 0 || isBlockquote(e.k)) && mask&continuousMask != 0:
				return false
			case isBlockquote(e.k) && mask&blockquoteMask != 0:
				return false
			case mask&splittableMask != 0:
				return false // the outer entity is to be split
			}
		}
		if idx := splittableIndex(e.k); idx >= 0 {
			if endPos[idx] >= e.off {
				return false // can be merged
			}
			endPos[idx] = e.end()
		}
		stack = append(stack, e)
		mask |= kindBit(e.k)
	}
	return true
}

// cleanInput is clean_input_string(_with_entities): '\r' is dropped,
// other control characters but '\n' (tabs too) become spaces, and
// U+2028-U+202E and the combining vertical lines U+030A, U+0333, U+033F
// are dropped. Entities are moved accordingly.
func cleanInput(text string, es []ent) (string, []ent) {
	out := make([]byte, 0, len(text))
	var removed []int // UTF-16 offsets, in the input, of dropped units
	off16 := 0
	for i := 0; i < len(text); {
		c := text[i]
		switch {
		case c == '\r':
			removed = append(removed, off16)
			off16++
			i++
		case c < 32 && c != '\n':
			out = append(out, ' ')
			off16++
			i++
		case c == 0xE2 && i+2 < len(text) && text[i+1] == 0x80 && text[i+2] >= 0xA8 && text[i+2] <= 0xAE:
			removed = append(removed, off16)
			off16++
			i += 3
		case c == 0xCC && i+1 < len(text) && (text[i+1] == 0xB3 || text[i+1] == 0xBF || text[i+1] == 0x8A):
			removed = append(removed, off16)
			off16++
			i += 2
		default:
			out = append(out, c)
			off16 += units(c)
			i++
		}
	}
	if len(removed) == 0 {
		return string(out), es
	}
	for i := range es {
		before, inside := 0, 0
		for _, r := range removed {
			switch {
			case r < es[i].off:
				before++
			case r < es[i].end():
				inside++
			}
		}
		es[i].off -= before
		es[i].length -= inside
	}
	return string(out), removeEmpty(es)
}

// fixEntities is TDLib's fix_entities.
func fixEntities(es []ent) []ent {
	es = removeEmpty(es)
	sortEntities(es)
	if areEntitiesValid(es) {
		return es
	}
	var continuous, quotes, splittable []ent
	for _, e := range es {
		switch {
		case isSplittable(e.k):
			splittable = append(splittable, e)
		case isBlockquote(e.k):
			quotes = append(quotes, e)
		default:
			continuous = append(continuous, e)
		}
	}
	continuous = removeIntersecting(continuous)
	if len(quotes) > 0 {
		quotes = removeIntersecting(quotes)
		continuous = removeIntersectingBlockquote(continuous, quotes)
		continuous = append(continuous, quotes...)
		sortEntities(continuous)
	}
	return resplit(splittable, continuous)
}

func removeEmpty(es []ent) []ent {
	out := es[:0:0]
	for _, e := range es {
		if e.length > 0 {
			out = append(out, e)
		}
	}
	return out
}

// removeIntersecting keeps the entities that start after every kept one
// ended (nested ones go too); es must be sorted.
func removeIntersecting(es []ent) []ent {
	var out []ent
	lastEnd := 0
	for _, e := range es {
		if e.off >= lastEnd {
			lastEnd = e.end()
			out = append(out, e)
		}
	}
	return out
}

// removeIntersectingBlockquote drops entities that cross a blockquote
// boundary.
func removeIntersectingBlockquote(es, quotes []ent) []ent {
	var out []ent
next:
	for _, e := range es {
		for _, q := range quotes {
			inside := e.off >= q.off && e.end() <= q.end()
			outside := e.end() <= q.off || e.off >= q.end()
			if !inside && !outside {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

func resplit(splittable, others []ent) []ent {
	if len(splittable) == 0 {
		return others
	}
	sortEntities(splittable)
	splittable = splitEntities(splittable, others)
	out := append(append([]ent(nil), others...), splittable...)
	sortEntities(out)
	return out
}

// splitEntities is TDLib's split_entities: splittable entities of one
// type are merged when they touch, cut at the boundaries of the other
// entities, and removed inside pre and code.
func splitEntities(spl, others []ent) []ent {
	const n = len(splittableKinds)
	var beginPos, endPos [n]int
	var result []ent
	it := 0
	flush := func(offset int) {
		for idx, k := range splittableKinds {
			if endPos[idx] != 0 && beginPos[idx] < offset {
				if endPos[idx] <= offset {
					result = append(result, ent{k: k, off: beginPos[idx], length: endPos[idx] - beginPos[idx]})
					beginPos[idx], endPos[idx] = 0, 0
				} else {
					result = append(result, ent{k: k, off: beginPos[idx], length: offset - beginPos[idx]})
					beginPos[idx] = offset
				}
			}
		}
	}
	addEntities := func(endOffset int) {
		for it < len(spl) && spl[it].off < endOffset {
			e := spl[it]
			idx := splittableIndex(e.k)
			if e.off <= endPos[idx] && endPos[idx] != 0 {
				if e.end() > endPos[idx] {
					endPos[idx] = e.end()
				}
			} else {
				flush(e.off)
				beginPos[idx], endPos[idx] = e.off, e.end()
			}
			it++
		}
		flush(endOffset)
	}
	var stack []ent
	addOffset := func(offset int) {
		for len(stack) > 0 && offset >= stack[len(stack)-1].end() {
			top := stack[len(stack)-1]
			old := len(result)
			addEntities(top.end())
			if isPreKind(top.k) {
				result = result[:old]
			}
			stack = stack[:len(stack)-1]
		}
		addEntities(offset)
	}
	for _, o := range others {
		addOffset(o.off)
		stack = append(stack, o)
	}
	addOffset(int(^uint(0) >> 1))
	result = removeEmpty(result)
	sortEntities(result)
	return result
}

// mergeNewEntities is merge_new_entities: found entities that intersect
// an existing non-splittable entity (or cross a blockquote) are dropped,
// and splittable entities are re-split around the new set.
func mergeNewEntities(es, found []ent) []ent {
	if len(found) == 0 {
		return es
	}
	var continuous, quotes, splittable []ent
	for _, e := range es {
		switch {
		case isSplittable(e.k):
			splittable = append(splittable, e)
		case isBlockquote(e.k):
			quotes = append(quotes, e)
		default:
			continuous = append(continuous, e)
		}
	}
	found = removeIntersectingBlockquote(found, quotes)
	var merged []ent
next:
	for _, f := range found {
		for _, c := range continuous {
			if f.off < c.end() && c.off < f.end() {
				continue next
			}
		}
		merged = append(merged, f)
	}
	continuous = append(continuous, merged...)
	continuous = append(continuous, quotes...)
	sortEntities(continuous)
	return resplit(splittable, continuous)
}

// findEntities detects the entities Telegram adds by itself. It is a
// simplification of TDLib's find_entities: mentions, bot commands,
// hashtags, cashtags, e-mail addresses and URLs with an explicit scheme
// (http, https, tg, ftp) or a "www." prefix.
func findEntities(text string) []ent {
	var out []ent
	offs := utf16Offsets(text)
	add := func(k kind, from, to int) {
		out = append(out, ent{k: k, off: offs[from], length: offs[to] - offs[from]})
	}
	runeBefore := func(i int) rune {
		if i == 0 {
			return 0
		}
		r, _ := utf8.DecodeLastRuneInString(text[:i])
		return r
	}
	runeAt := func(i int) rune {
		if i >= len(text) {
			return 0
		}
		r, _ := utf8.DecodeRuneInString(text[i:])
		return r
	}
	isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }
	isAlnumUnderscore := func(c byte) bool { return isAlnum(c) || c == '_' }

	// URLs and e-mails first, so mentions inside them are skipped
	covered := make([]bool, len(text)+1)
	cover := func(from, to int) {
		for i := from; i < to; i++ {
			covered[i] = true
		}
	}
	lower := strings.ToLower(text)
	for i := 0; i < len(text); i++ {
		if covered[i] {
			continue
		}
		var start int
		matched := false
		for _, p := range []string{"https://", "http://", "ftp://", "tg://", "www."} {
			if strings.HasPrefix(lower[i:], p) && !isWord(runeBefore(i)) {
				start, matched = i, true
				break
			}
		}
		if !matched {
			continue
		}
		j := start
		for j < len(text) {
			r, size := utf8.DecodeRuneInString(text[j:])
			if unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' {
				break
			}
			j += size
		}
		for j > start && strings.ContainsRune(".,;:!?)]}'\"", rune(text[j-1])) {
			j--
		}
		body := lower[start:j]
		if p := strings.Index(body, "://"); p >= 0 {
			body = body[p+3:]
		}
		if body == "" || body == "www." {
			continue
		}
		add(kURL, start, j)
		cover(start, j)
		i = j - 1
	}
	for i := 0; i < len(text); i++ {
		if text[i] != '@' || covered[i] {
			continue
		}
		// e-mail: local part before '@'
		l := i
		for l > 0 && (isAlnum(text[l-1]) || strings.IndexByte("._%+-", text[l-1]) >= 0) {
			l--
		}
		r := i + 1
		for r < len(text) && (isAlnum(text[r]) || text[r] == '.' || text[r] == '-') {
			r++
		}
		for r > i+1 && text[r-1] == '.' {
			r--
		}
		if l < i && r > i+1 && strings.Contains(text[i+1:r], ".") && !covered[l] {
			dom := text[i+1 : r]
			tld := dom[strings.LastIndexByte(dom, '.')+1:]
			if len(tld) >= 2 && isAlpha(tld[0]) {
				add(kEmail, l, r)
				cover(l, r)
			}
		}
	}
	for i := 0; i < len(text); i++ {
		if covered[i] {
			continue
		}
		switch text[i] {
		case '@':
			if isWord(runeBefore(i)) {
				continue
			}
			j := i + 1
			for j < len(text) && isAlnumUnderscore(text[j]) {
				j++
			}
			if n := j - i - 1; n >= 2 && n <= 32 && !isWord(runeAt(j)) {
				add(kMention, i, j)
				i = j - 1
			}
		case '/':
			prev := runeBefore(i)
			if isWord(prev) || prev == '/' || prev == '<' || prev == '>' {
				continue
			}
			j := i + 1
			for j < len(text) && isAlnumUnderscore(text[j]) {
				j++
			}
			if n := j - i - 1; n < 1 || n > 64 {
				continue
			}
			end := j
			if j < len(text) && text[j] == '@' {
				k := j + 1
				for k < len(text) && isAlnumUnderscore(text[k]) {
					k++
				}
				if n := k - j - 1; n < 3 || n > 32 {
					continue
				}
				end = k
			}
			next := runeAt(end)
			if isWord(next) || next == '/' || next == '<' || next == '>' {
				continue
			}
			add(kBotCommand, i, end)
			i = end - 1
		case '#':
			if isWord(runeBefore(i)) {
				continue
			}
			j := i + 1
			letter := false
			for j < len(text) {
				r, size := utf8.DecodeRuneInString(text[j:])
				if !isWord(r) {
					break
				}
				letter = letter || unicode.IsLetter(r)
				j += size
			}
			if j > i+1 && letter && runeAt(j) != '#' {
				add(kHashtag, i, j)
				i = j - 1
			}
		case '$':
			prev := runeBefore(i)
			if isWord(prev) || prev == '$' {
				continue
			}
			j := i + 1
			for j < len(text) && text[j] >= 'A' && text[j] <= 'Z' {
				j++
			}
			next := runeAt(j)
			if n := j - i - 1; n >= 1 && n <= 8 && !isWord(next) && next != '$' {
				add(kCashtag, i, j)
				i = j - 1
			}
		}
	}
	out = removeIntersecting(sorted(out))
	return out
}

func sorted(es []ent) []ent {
	sortEntities(es)
	return es
}

// utf16Offsets maps every byte index of s (and len(s)) to its UTF-16
// offset.
func utf16Offsets(s string) []int {
	offs := make([]int, len(s)+1)
	n := 0
	for i := 0; i < len(s); i++ {
		offs[i] = n
		n += units(s[i])
	}
	offs[len(s)] = n
	return offs
}

func exportEntities(es []ent) []Entity {
	if len(es) == 0 {
		return nil
	}
	out := make([]Entity, len(es))
	for i, e := range es {
		out[i] = e.export()
	}
	return out
}

// importEntities reads explicit MessageEntity objects (the entities /
// caption_entities parameters).
func importEntities(in []Entity) ([]ent, error) {
	var out []ent
	for _, e := range in {
		var k kind
		found := false
		for i, info := range kindInfo {
			if info.name == e.Type && kind(i) != kPreCode {
				k, found = kind(i), true
				break
			}
		}
		if !found {
			continue // unknown types are ignored
		}
		x := ent{k: k, off: e.Offset, length: e.Length}
		switch k {
		case kTextURL:
			x.arg = checkedLink(e.URL)
			if x.arg == "" {
				return nil, errors.New("wrong HTTP URL specified")
			}
		case kPre:
			if e.Language != "" {
				x.k, x.arg = kPreCode, e.Language
			}
		case kCustomEmoji:
			x.arg = e.CustomEmojiID
		}
		out = append(out, x)
	}
	return out, nil
}
