package telegramtest

// The HTML parse mode, and the helpers the three parsers share. The
// parsers (this one, and MarkdownV2 and Markdown in markdown.go) follow
// TDLib's td/telegram/MessageEntity.cpp (parse_html, parse_markdown_v2,
// parse_markdown), which is what the Bot API server runs, so error texts
// and byte offsets match the real ones. Known simplifications are listed
// in doc.go.

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseError is a "can't parse entities" failure; its message is what
// follows "Bad Request: can't parse entities: ".
type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

func perr(format string, args ...any) error {
	return &parseError{msg: sprintf(format, args...)}
}

// sprintf is a tiny %s/%d/%c formatter so that the error strings read as
// the C++ ones do without fmt's quoting rules getting in the way.
func sprintf(format string, args ...any) string {
	var b strings.Builder
	ai := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 's':
			b.WriteString(args[ai].(string))
		case 'd':
			b.WriteString(strconv.Itoa(args[ai].(int)))
		case 'c':
			b.WriteByte(args[ai].(byte))
		case 'v':
			b.WriteString(args[ai].(kind).String())
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
			continue
		}
		ai++
	}
	return b.String()
}

// cstr gives C-string access to a Go string: reading past the end yields 0,
// as the C++ parsers rely on the terminating NUL.
type cstr string

func (s cstr) at(i int) byte {
	if i < 0 || i >= len(s) {
		return 0
	}
	return s[i]
}

// isSpace is td::is_space, which counts NUL as space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 || c == '\v' || c == '\f'
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) uint32 {
	switch {
	case isDigit(c):
		return uint32(c - '0')
	case c >= 'a' && c <= 'f':
		return uint32(c-'a') + 10
	default:
		return uint32(c-'A') + 10
	}
}

// isFirstUnit reports whether c starts a UTF-8 sequence.
func isFirstUnit(c byte) bool { return c&0xC0 != 0x80 }

// units is the number of UTF-16 code units the UTF-8 sequence starting
// with c adds.
func units(c byte) int {
	if !isFirstUnit(c) {
		return 0
	}
	if c >= 0xF0 {
		return 2
	}
	return 1
}

// UTF16Len is the length of s in UTF-16 code units, the unit of every
// Telegram length limit and entity offset.
func UTF16Len(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n += units(s[i])
	}
	return n
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// decodeHTMLEntity decodes the character reference at s[*pos] == '&'. It
// returns 0, leaving *pos alone, when there is none: the '&' is then an
// ordinary character, as in the real parser.
func decodeHTMLEntity(s cstr, pos *int) uint32 {
	p := *pos
	end := p + 1
	var res uint32
	if s.at(p+1) == '#' {
		end++
		if s.at(p+2) == 'x' {
			end++
			for isHex(s.at(end)) {
				res = res*16 + hexVal(s.at(end))
				end++
			}
		} else {
			for isDigit(s.at(end)) {
				res = res*10 + uint32(s.at(end)-'0')
				end++
			}
		}
		if res == 0 || res >= 0x10ffff || end-p >= 10 {
			return 0
		}
	} else {
		for isAlpha(s.at(end)) {
			end++
		}
		switch string(s[p+1 : end]) {
		case "lt":
			res = '<'
		case "gt":
			res = '>'
		case "amp":
			res = '&'
		case "quot":
			res = '"'
		default:
			return 0
		}
	}
	if s.at(end) == ';' {
		*pos = end + 1
	} else {
		*pos = end
	}
	return res
}

const surrogatesText = "Text contains invalid Unicode characters after decoding HTML entities, check for unmatched surrogate code units"

var htmlTags = map[string]bool{
	"a": true, "b": true, "strong": true, "i": true, "em": true, "s": true, "strike": true, "del": true,
	"u": true, "ins": true, "tg-spoiler": true, "tg-emoji": true, "span": true, "pre": true, "code": true,
	"blockquote": true,
}

// parseHTML parses Telegram's HTML subset into visible text and entities.
func parseHTML(str string) (string, []ent, error) {
	text := cstr(str)
	var out []byte
	var entities []ent
	utf16off := 0
	needRecheck := false

	type open struct {
		tag      string
		arg      string
		off      int // UTF-16 offset of the entity start
		beginPos int // byte position in out
	}
	var nested []open

	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '&' {
			j := i
			code := decodeHTMLEntity(text, &j)
			if code != 0 {
				i = j - 1
				if code > 0xffff {
					utf16off += 2
				} else {
					utf16off++
				}
				if code >= 0xd800 && code <= 0xdfff {
					needRecheck = true
					out = append(out, 0xED, 0xA0|byte((code>>6)&0x1F), 0x80|byte(code&0x3F))
				} else {
					out = utf8.AppendRune(out, rune(code))
				}
				continue
			}
		}
		if c != '<' {
			utf16off += units(c)
			out = append(out, c)
			continue
		}

		begin := i
		i++
		if text.at(i) != '/' {
			for !isSpace(text.at(i)) && text.at(i) != '>' {
				i++
			}
			if text.at(i) == 0 {
				return "", nil, perr("Unclosed start tag at byte offset %d", begin)
			}
			tag := toLowerASCII(string(text[begin+1 : i]))
			if !htmlTags[tag] {
				return "", nil, perr("Unsupported start tag \"%s\" at byte offset %d", tag, begin)
			}

			arg := ""
			for text.at(i) != '>' {
				for text.at(i) != 0 && isSpace(text.at(i)) {
					i++
				}
				if text.at(i) == '>' {
					break
				}
				attrBegin := i
				for {
					ch := text.at(i)
					if isSpace(ch) || ch == '=' || ch == '>' || ch == '/' || ch == '"' || ch == '\'' {
						break
					}
					i++
				}
				attr := string(text[attrBegin:i])
				if attr == "" {
					return "", nil, perr("Empty attribute name in the tag \"%s\" at byte offset %d", tag, begin)
				}
				for text.at(i) != 0 && isSpace(text.at(i)) {
					i++
				}
				if text.at(i) != '=' {
					if text.at(i) == 0 {
						return "", nil, perr("Unclosed start tag \"%s\" at byte offset %d", tag, begin)
					}
					if tag == "blockquote" && attr == "expandable" {
						arg = "1"
					}
					continue
				}
				i++
				for text.at(i) != 0 && isSpace(text.at(i)) {
					i++
				}
				if text.at(i) == 0 {
					return "", nil, perr("Unclosed start tag \"%s\" at byte offset %d", tag, begin)
				}
				var value string
				if q := text.at(i); q != '\'' && q != '"' {
					tokenBegin := i
					for isAlnum(text.at(i)) || text.at(i) == '.' || text.at(i) == '-' {
						i++
					}
					value = toLowerASCII(string(text[tokenBegin:i]))
					if !isSpace(text.at(i)) && text.at(i) != '>' {
						return "", nil, perr("Unexpected end of name token at byte offset %d", tokenBegin)
					}
				} else {
					i++
					var v []byte
					for text.at(i) != q && text.at(i) != 0 {
						if text.at(i) == '&' {
							j := i
							if code := decodeHTMLEntity(text, &j); code != 0 {
								v = utf8.AppendRune(v, rune(code))
								i = j
								continue
							}
						}
						v = append(v, text.at(i))
						i++
					}
					if text.at(i) == q {
						i++
					}
					value = string(v)
				}
				if text.at(i) == 0 {
					return "", nil, perr("Unclosed start tag at byte offset %d", begin)
				}
				switch {
				case tag == "a" && attr == "href":
					arg = value
				case tag == "code" && attr == "class" && strings.HasPrefix(value, "language-"):
					arg = value[len("language-"):]
				case tag == "span" && attr == "class" && strings.HasPrefix(value, "tg-"):
					arg = value[3:]
				case tag == "tg-emoji" && attr == "emoji-id":
					arg = value
				case tag == "blockquote" && attr == "expandable":
					arg = "1"
				}
			}
			if tag == "span" && arg != "spoiler" {
				return "", nil, perr("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
			}
			nested = append(nested, open{tag: tag, arg: arg, off: utf16off, beginPos: len(out)})
			continue
		}

		// an end tag
		if len(nested) == 0 {
			return "", nil, perr("Unexpected end tag at byte offset %d", begin)
		}
		for !isSpace(text.at(i)) && text.at(i) != '>' {
			i++
		}
		endTag := toLowerASCII(string(text[begin+2 : i]))
		for isSpace(text.at(i)) && text.at(i) != 0 {
			i++
		}
		if text.at(i) != '>' {
			return "", nil, perr("Unclosed end tag at byte offset %d", begin)
		}
		top := nested[len(nested)-1]
		if endTag != "" && endTag != top.tag {
			return "", nil, perr("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.tag, endTag)
		}
		if utf16off > top.off {
			off, length := top.off, utf16off-top.off
			switch top.tag {
			case "i", "em":
				entities = append(entities, ent{k: kItalic, off: off, length: length})
			case "b", "strong":
				entities = append(entities, ent{k: kBold, off: off, length: length})
			case "s", "strike", "del":
				entities = append(entities, ent{k: kStrikethrough, off: off, length: length})
			case "u", "ins":
				entities = append(entities, ent{k: kUnderline, off: off, length: length})
			case "tg-spoiler", "span":
				entities = append(entities, ent{k: kSpoiler, off: off, length: length})
			case "tg-emoji":
				id, err := strconv.ParseInt(top.arg, 10, 64)
				if err != nil || id == 0 {
					return "", nil, perr("Invalid custom emoji identifier specified")
				}
				entities = append(entities, ent{k: kCustomEmoji, off: off, length: length, arg: top.arg})
			case "a":
				u := top.arg
				if u == "" {
					u = string(out[top.beginPos:])
				}
				if uid, ok := linkUserID(u); ok {
					entities = append(entities, ent{k: kTextMention, off: off, length: length, arg: uid})
				} else if u = checkedLink(u); u != "" {
					entities = append(entities, ent{k: kTextURL, off: off, length: length, arg: u})
				}
			case "pre":
				if n := len(entities); n > 0 && entities[n-1].k == kCode && entities[n-1].off == off &&
					entities[n-1].length == length && entities[n-1].arg != "" {
					entities[n-1].k = kPreCode
				} else {
					entities = append(entities, ent{k: kPre, off: off, length: length})
				}
			case "code":
				if n := len(entities); n > 0 && entities[n-1].k == kPre && entities[n-1].off == off &&
					entities[n-1].length == length && top.arg != "" {
					entities[n-1].k = kPreCode
					entities[n-1].arg = top.arg
				} else {
					entities = append(entities, ent{k: kCode, off: off, length: length, arg: top.arg})
				}
			case "blockquote":
				if top.arg != "" {
					entities = append(entities, ent{k: kExpandableBlockQuote, off: off, length: length})
				} else {
					entities = append(entities, ent{k: kBlockQuote, off: off, length: length})
				}
			}
		}
		nested = nested[:len(nested)-1]
	}
	if len(nested) > 0 {
		return "", nil, perr("Can't find end tag corresponding to start tag \"%s\"", nested[len(nested)-1].tag)
	}
	for i := range entities {
		if entities[i].k == kCode {
			entities[i].arg = ""
		}
	}
	if needRecheck && !utf8.Valid(out) {
		return "", nil, &parseError{msg: surrogatesText}
	}
	sortEntities(entities)
	return string(out), entities, nil
}

// linkUserID recognises tg://user?id=N links, which become text_mention
// entities.
func linkUserID(link string) (string, bool) {
	u, err := url.Parse(link)
	if err != nil || !strings.EqualFold(u.Scheme, "tg") || !strings.EqualFold(u.Host, "user") {
		return "", false
	}
	id := u.Query().Get("id")
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
		return "", false
	}
	return id, true
}

// checkedLink approximates LinkManager::get_checked_link: it returns the
// normalised URL, or "" when Telegram would drop the link. A missing
// scheme becomes http://, and a bare host gets a trailing slash, as the
// real server does ("https://example.com" becomes "https://example.com/").
func checkedLink(link string) string {
	link = strings.TrimSpace(link)
	if link == "" || strings.ContainsAny(link, " \t\n\r") {
		return ""
	}
	lower := strings.ToLower(link)
	for _, p := range []string{"tg:", "ton:", "tonsite:"} {
		if strings.HasPrefix(lower, p) {
			return link
		}
	}
	if !strings.Contains(link, "://") {
		link = "http://" + link
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "ftp":
	default:
		return ""
	}
	host := u.Hostname()
	if host == "" || strings.HasPrefix(host, ".") || strings.Contains(host, "..") {
		return ""
	}
	if !strings.Contains(host, ".") && host != "localhost" && !strings.Contains(host, ":") {
		return ""
	}
	for _, r := range host {
		if r < 0x80 && !(isAlnum(byte(r)) || r == '.' || r == '-' || r == ':' || r == '_') {
			return ""
		}
	}
	if u.Path == "" && u.RawQuery == "" && u.Fragment == "" && !u.ForceQuery && !strings.HasSuffix(link, "#") {
		link += "/"
	}
	return link
}
