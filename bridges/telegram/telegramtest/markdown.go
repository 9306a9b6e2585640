package telegramtest

import (
	"net/url"
	"strconv"
	"strings"
)

// parseMarkdownV2 follows TDLib's parse_markdown_v2: every character of
// _*[]()~`>#+-=|{}.! that does not open or close an entity must be
// escaped with a backslash.
func parseMarkdownV2(str string) (string, []ent, error) {
	text := cstr(str)
	var out []byte
	var entities []ent
	utf16off := 0

	type open struct {
		k        kind
		arg      string
		off      int
		bytePos  int // byte offset of the opening mark in the input
		beginPos int // byte position in out
	}
	var nested []open
	haveQuote := false
	canStartQuote := true
	const reserved = "_*[]()~`>#+-=|{}.!\n"

	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\\' && text.at(i+1) > 0 && text.at(i+1) <= 126 {
			i++
			utf16off++
			out = append(out, text[i])
			if text[i] != '\r' {
				canStartQuote = text[i] == '\n'
			}
			continue
		}
		res := reserved
		if len(nested) > 0 && isPreKind(nested[len(nested)-1].k) {
			res = "`"
		}
		if strings.IndexByte(res, c) < 0 {
			if isFirstUnit(c) {
				utf16off += units(c)
				if c != '\r' {
					canStartQuote = false
				}
			}
			out = append(out, c)
			continue
		}

		isEnd := false
		if len(nested) > 0 {
			if haveQuote && c == '\n' && (i+1 == len(text) || text.at(i+1) != '>') {
				isEnd = true
			} else {
				switch nested[len(nested)-1].k {
				case kBold:
					isEnd = c == '*'
				case kItalic:
					isEnd = c == '_' && text.at(i+1) != '_'
				case kCode:
					isEnd = c == '`'
				case kPre, kPreCode:
					isEnd = c == '`' && text.at(i+1) == '`' && text.at(i+2) == '`'
				case kTextURL, kCustomEmoji:
					isEnd = c == ']'
				case kUnderline:
					isEnd = c == '_' && text.at(i+1) == '_'
				case kStrikethrough:
					isEnd = c == '~'
				case kSpoiler:
					isEnd = c == '|' && text.at(i+1) == '|'
				}
			}
		}
		reservedErr := func() error {
			return perr("Character '%c' is reserved and must be escaped with the preceding '\\'", text[i])
		}

		if !isEnd {
			var k kind
			arg := ""
			bytePos := i
			skip := false
			switch c {
			case '_':
				if text.at(i+1) == '_' {
					k = kUnderline
					i++
				} else {
					k = kItalic
				}
			case '*':
				k = kBold
			case '~':
				k = kStrikethrough
			case '|':
				if text.at(i+1) != '|' {
					return "", nil, reservedErr()
				}
				i++
				k = kSpoiler
			case '[':
				k = kTextURL
			case '`':
				if text.at(i+1) == '`' && text.at(i+2) == '`' {
					i += 3
					k = kPre
					langEnd := i
					for !isSpace(text.at(langEnd)) && text.at(langEnd) != '`' {
						langEnd++
					}
					if i != langEnd && langEnd < len(text) && text.at(langEnd) != '`' {
						k = kPreCode
						arg = string(text[i:langEnd])
						i = langEnd
					}
					if t := text.at(i); t == '\n' || t == '\r' {
						if n := text.at(i + 1); (n == '\n' || n == '\r') && t != n {
							i += 2
						} else {
							i++
						}
					}
					i--
				} else {
					k = kCode
				}
			case '!':
				if text.at(i+1) != '[' {
					return "", nil, reservedErr()
				}
				i++
				k = kCustomEmoji
			case '\n':
				utf16off++
				out = append(out, '\n')
				canStartQuote = true
				skip = true
			case '>':
				if !canStartQuote {
					return "", nil, reservedErr()
				}
				if haveQuote {
					skip = true
				} else {
					k = kBlockQuote
					haveQuote = true
				}
			default:
				return "", nil, reservedErr()
			}
			if skip {
				continue
			}
			nested = append(nested, open{k: k, arg: arg, off: utf16off, bytePos: bytePos, beginPos: len(out)})
			continue
		}

		// the end of an entity
		top := nested[len(nested)-1]
		k := top.k
		if c == '\n' && k != kBlockQuote {
			if k != kSpoiler || !(top.bytePos == i-2 || (top.bytePos == i-3 && len(out) != 0 && out[len(out)-1] == '\r')) {
				return "", nil, perr("Can't find end of %v entity at byte offset %d", top.k, top.bytePos)
			}
			nested = nested[:len(nested)-1]
			top = nested[len(nested)-1]
			if top.k != kBlockQuote {
				return "", nil, perr("Can't find end of %v entity at byte offset %d", top.k, top.bytePos)
			}
			k = kExpandableBlockQuote
		}
		arg := top.arg
		skipEntity := utf16off == top.off
		switch k {
		case kUnderline, kSpoiler:
			i++
		case kPre, kPreCode:
			i += 2
		case kTextURL:
			var link string
			if text.at(i+1) != '(' {
				link = string(out[top.beginPos:])
			} else {
				i += 2
				urlBegin := i
				var b []byte
				for i < len(text) && text[i] != ')' {
					if text[i] == '\\' && text.at(i+1) > 0 && text.at(i+1) <= 126 {
						b = append(b, text[i+1])
						i += 2
						continue
					}
					b = append(b, text[i])
					i++
				}
				if text.at(i) != ')' {
					return "", nil, perr("Can't find end of a URL at byte offset %d", urlBegin)
				}
				link = string(b)
			}
			if uid, ok := linkUserID(link); ok {
				k, arg = kTextMention, uid
			} else if link = checkedLink(link); link == "" {
				skipEntity = true
			} else {
				arg = link
			}
		case kCustomEmoji:
			if text.at(i+1) != '(' {
				return "", nil, perr("Custom emoji entity must contain a tg://emoji URL")
			}
			i += 2
			urlBegin := i
			var b []byte
			for i < len(text) && text[i] != ')' {
				if text[i] == '\\' && text.at(i+1) > 0 && text.at(i+1) <= 126 {
					b = append(b, text[i+1])
					i += 2
					continue
				}
				b = append(b, text[i])
				i++
			}
			if text.at(i) != ')' {
				return "", nil, perr("Can't find end of a custom emoji URL at byte offset %d", urlBegin)
			}
			id, err := customEmojiID(string(b))
			if err != nil {
				return "", nil, err
			}
			arg = id
		case kBlockQuote, kExpandableBlockQuote:
			haveQuote = false
			out = append(out, text[i])
			canStartQuote = true
			utf16off++
			skipEntity = false
		}
		if !skipEntity {
			entities = append(entities, ent{k: k, off: top.off, length: utf16off - top.off, arg: arg})
		}
		nested = nested[:len(nested)-1]
	}
	if haveQuote {
		k := kBlockQuote
		if top := nested[len(nested)-1]; top.k == kSpoiler && top.bytePos == len(text)-2 {
			nested = nested[:len(nested)-1]
			k = kExpandableBlockQuote
		}
		if top := nested[len(nested)-1]; top.k == kBlockQuote {
			if n := utf16off - top.off; n != 0 {
				entities = append(entities, ent{k: k, off: top.off, length: n})
			}
			nested = nested[:len(nested)-1]
		}
	}
	if len(nested) > 0 {
		top := nested[len(nested)-1]
		return "", nil, perr("Can't find end of %v entity at byte offset %d", top.k, top.bytePos)
	}
	sortEntities(entities)
	return string(out), entities, nil
}

func customEmojiID(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil || !strings.EqualFold(u.Scheme, "tg") || !strings.EqualFold(u.Host, "emoji") {
		return "", perr("Custom emoji URL must have scheme tg")
	}
	id := u.Query().Get("id")
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n == 0 {
		return "", perr("Invalid custom emoji identifier specified")
	}
	return id, nil
}

// parseMarkdown follows TDLib's parse_markdown, the legacy "Markdown"
// mode: *bold*, _italic_, `code`, ```pre```, [text](url).
func parseMarkdown(str string) (string, []ent, error) {
	text := cstr(str)
	var out []byte
	var entities []ent
	utf16off := 0
	size := len(text)
	for i := 0; i < size; i++ {
		c := text[i]
		if n := text.at(i + 1); c == '\\' && (n == '_' || n == '*' || n == '`' || n == '[') {
			i++
			out = append(out, text[i])
			utf16off++
			continue
		}
		if c != '_' && c != '*' && c != '`' && c != '[' {
			utf16off += units(c)
			out = append(out, c)
			continue
		}
		begin := i
		endChar := c
		isPre := false
		if c == '[' {
			endChar = ']'
		}
		i++
		lang := ""
		if c == '`' && text.at(i) == '`' && text.at(i+1) == '`' {
			i += 2
			isPre = true
			langEnd := i
			for !isSpace(text.at(langEnd)) && text.at(langEnd) != '`' {
				langEnd++
			}
			if i != langEnd && langEnd < size && text.at(langEnd) != '`' {
				lang = string(text[i:langEnd])
				i = langEnd
			}
			if t := text.at(i); t == '\n' || t == '\r' {
				if n := text.at(i + 1); (n == '\n' || n == '\r') && t != n {
					i += 2
				} else {
					i++
				}
			}
		}
		entOff := utf16off
		entBegin := len(out)
		for i < size && (text[i] != endChar || (isPre && !(text.at(i+1) == '`' && text.at(i+2) == '`'))) {
			utf16off += units(text[i])
			out = append(out, text[i])
			i++
		}
		if i == size {
			return "", nil, perr("Can't find end of the entity starting at byte offset %d", begin)
		}
		if entOff != utf16off {
			length := utf16off - entOff
			switch c {
			case '_':
				entities = append(entities, ent{k: kItalic, off: entOff, length: length})
			case '*':
				entities = append(entities, ent{k: kBold, off: entOff, length: length})
			case '[':
				var link string
				if text.at(i+1) != '(' {
					link = string(out[entBegin:])
				} else {
					i += 2
					var b []byte
					for i < size && text[i] != ')' {
						b = append(b, text[i])
						i++
					}
					link = string(b)
				}
				if uid, ok := linkUserID(link); ok {
					entities = append(entities, ent{k: kTextMention, off: entOff, length: length, arg: uid})
				} else if link = checkedLink(link); link != "" {
					entities = append(entities, ent{k: kTextURL, off: entOff, length: length, arg: link})
				}
			case '`':
				switch {
				case isPre && lang != "":
					entities = append(entities, ent{k: kPreCode, off: entOff, length: length, arg: lang})
				case isPre:
					entities = append(entities, ent{k: kPre, off: entOff, length: length})
				default:
					entities = append(entities, ent{k: kCode, off: entOff, length: length})
				}
			}
		}
		if isPre {
			i += 2
		}
	}
	sortEntities(entities)
	return string(out), entities, nil
}
