package telegram

// This file holds the HTML side of the Telegram formatting: escaping, link
// targets, the decoding of Markdown text, ValidateHTML and VisibleLen.

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"
)

// ValidateHTML reports why s is not Telegram HTML as RenderHTML writes it,
// or nil. It is stricter than Telegram, so HTML it accepts Telegram accepts
// too and renders with all its formatting:
//
//   - valid UTF-8; '<' only in tags, '>' and '&' only escaped;
//   - entities only &lt; &gt; &amp; &quot; and numeric ones (&#65; &#x41;)
//     of valid code points, each ending in ';';
//   - only the tags b strong i em u ins s strike del a code pre blockquote
//     tg-spoiler and span, in lower case;
//   - attributes only href on a (an http or https URL with a dotted host,
//     or a tg:// URL, in double quotes), class="language-X" (X of [A-Za-z0-9_+-]) on a code
//     that is the only child of a pre, class="tg-spoiler" (required) on
//     span, and a bare expandable on blockquote;
//   - every tag closed, in order; nothing but text inside code and pre
//     (bar that one code); pre only at the top or in a blockquote;
//     blockquote only at the top; no a or code inside an a. Telegram
//     accepts these nestings but drops one of the entities.
func ValidateHTML(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("telegram html: invalid UTF-8")
	}
	type open struct {
		name string
		body int // offset just past the start tag
	}
	var stack []open
	for i := 0; i < len(s); {
		switch s[i] {
		case '>':
			return fmt.Errorf("telegram html: unescaped '>' at byte offset %d", i)
		case '&':
			_, n := htmlEntityAt(s[i:])
			if n == 0 {
				return fmt.Errorf("telegram html: bad entity at byte offset %d", i)
			}
			i += n
		case '<':
			end := htmlTagEnd(s, i)
			if end < 0 {
				return fmt.Errorf("telegram html: unclosed tag at byte offset %d", i)
			}
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1].name
			}
			if s[i+1] == '/' {
				name := s[i+2 : end]
				if parent == "" {
					return fmt.Errorf("telegram html: unexpected end tag </%s> at byte offset %d", name, i)
				}
				if name != parent {
					return fmt.Errorf("telegram html: end tag </%s> at byte offset %d, expected </%s>", name, i, parent)
				}
				stack = stack[:len(stack)-1]
				if name == "code" && len(stack) > 0 && stack[len(stack)-1].name == "pre" &&
					!strings.HasPrefix(s[end+1:], "</pre>") {
					return fmt.Errorf("telegram html: text after </code> in pre at byte offset %d", end+1)
				}
				i = end + 1
				continue
			}
			name, attrs, _ := strings.Cut(s[i+1:end], " ")
			inPre := parent == "pre"
			if inPre && stack[len(stack)-1].body != i {
				return fmt.Errorf("telegram html: <%s> inside pre at byte offset %d", name, i)
			}
			if err := htmlCheckTag(name, attrs, inPre); err != nil {
				return fmt.Errorf("telegram html: %w at byte offset %d", err, i)
			}
			for _, o := range stack {
				if err := htmlCheckNesting(name, o.name, parent); err != nil {
					return fmt.Errorf("telegram html: %w at byte offset %d", err, i)
				}
			}
			stack = append(stack, open{name, end + 1})
			i = end + 1
		default:
			i++
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("telegram html: <%s> is not closed", stack[len(stack)-1].name)
	}
	return nil
}

// htmlCheckTag checks a start tag's name and attributes.
func htmlCheckTag(name, attrs string, inPre bool) error {
	switch name {
	case "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "pre", "tg-spoiler":
		if attrs != "" {
			return fmt.Errorf("attributes on <%s>", name)
		}
	case "blockquote":
		if attrs != "" && attrs != "expandable" {
			return fmt.Errorf("attributes on <%s>", name)
		}
	case "a":
		href, ok := htmlAttr(attrs, "href")
		if !ok {
			return fmt.Errorf("<a> needs exactly one href attribute")
		}
		if !htmlAllowedURL(htmlVisibleText(href)) {
			return fmt.Errorf("<a> href %q has no allowed scheme", href)
		}
	case "code":
		if attrs == "" {
			return nil
		}
		class, ok := htmlAttr(attrs, "class")
		lang, isLang := strings.CutPrefix(class, "language-")
		if !ok || !isLang || !inPre || lang == "" || htmlLanguage([]byte(lang)) != lang {
			return fmt.Errorf("bad attributes %q on <code>", attrs)
		}
	case "span":
		if class, ok := htmlAttr(attrs, "class"); !ok || class != "tg-spoiler" {
			return fmt.Errorf(`<span> needs class="tg-spoiler"`)
		}
	default:
		return fmt.Errorf("unsupported tag <%s>", name)
	}
	return nil
}

// htmlCheckNesting checks a start tag against one of the open elements
// (ancestor) and its direct parent.
func htmlCheckNesting(name, ancestor, parent string) error {
	switch {
	case ancestor == "code":
		return fmt.Errorf("<%s> inside code", name)
	case name == "blockquote":
		return fmt.Errorf("<blockquote> inside <%s>", ancestor)
	case name == "pre" && parent != "blockquote":
		return fmt.Errorf("<pre> inside <%s>", parent)
	case ancestor == "a" && (name == "a" || name == "code" || name == "pre"):
		return fmt.Errorf("<%s> inside a link", name)
	}
	return nil
}

// htmlAttr returns the value of the only attribute of attrs, which must be
// name="value" with no '<', '>' or bad entity in the value.
func htmlAttr(attrs, name string) (string, bool) {
	v, ok := strings.CutPrefix(attrs, name+`="`)
	if !ok || len(v) == 0 || v[len(v)-1] != '"' {
		return "", false
	}
	v = v[:len(v)-1]
	if strings.ContainsAny(v, `"<>`) {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] == '&' {
			if _, n := htmlEntityAt(v[i:]); n == 0 {
				return "", false
			}
		}
	}
	return v, true
}

// htmlTagEnd returns the offset of the '>' ending the tag that starts at
// s[i] == '<', skipping quoted attribute values, or -1.
func htmlTagEnd(s string, i int) int {
	var quote byte
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return j
		}
	}
	return -1
}

// htmlEntityAt decodes the entity at the start of s ("&lt;", "&#x1F600;")
// as Telegram does, for the entities ValidateHTML allows. It returns the
// character and the entity's length, or n == 0 when there is none.
func htmlEntityAt(s string) (r rune, n int) {
	// The longest entity is "&#x10FFFF;"; looking no further keeps a text
	// of many '&' linear.
	end := strings.IndexByte(s[:min(len(s), 11)], ';')
	if end < 2 {
		return 0, 0
	}
	name := s[1:end]
	switch name {
	case "lt":
		return '<', end + 1
	case "gt":
		return '>', end + 1
	case "amp":
		return '&', end + 1
	case "quot":
		return '"', end + 1
	}
	if name[0] != '#' || len(name) < 2 {
		return 0, 0
	}
	base, digits := 10, name[1:]
	if digits[0] == 'x' || digits[0] == 'X' {
		base, digits = 16, digits[1:]
	}
	if digits == "" || digits[0] == '+' || digits[0] == '-' {
		return 0, 0
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil || v == 0 || v > utf8.MaxRune || (0xd800 <= v && v <= 0xdfff) {
		return 0, 0
	}
	return rune(v), end + 1
}

// VisibleLen is the length of what Telegram shows for html (tags removed,
// entities decoded) in UTF-16 code units, the unit of Telegram's 4096
// limit. For HTML that passes ValidateHTML it is exact or a slight upper
// bound: Telegram also drops '\r' and a few invisible characters and trims
// the message. A '<' without a matching '>' ends the count.
func VisibleLen(html string) int {
	return htmlScanVisible(html, nil)
}

// htmlVisibleText is the text Telegram shows for html.
func htmlVisibleText(html string) string {
	var b strings.Builder
	b.Grow(len(html))
	htmlScanVisible(html, &b)
	return b.String()
}

// htmlScanVisible measures the text Telegram shows for html in UTF-16
// code units and, if b is not nil, writes it to b.
func htmlScanVisible(html string, b *strings.Builder) (n int) {
	for i := 0; i < len(html); {
		var r rune
		size := 1
		switch c := html[i]; {
		case c == '<':
			end := htmlTagEnd(html, i)
			if end < 0 {
				return n
			}
			i = end + 1
			continue
		case c == '&':
			r = '&'
			if er, en := htmlEntityAt(html[i:]); en > 0 {
				r, size = er, en
			}
		case c < utf8.RuneSelf:
			r = rune(c)
		default:
			r, size = utf8.DecodeRuneInString(html[i:])
		}
		if b != nil {
			b.WriteRune(r)
		}
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
		i += size
	}
	return n
}

// htmlAppendURL appends url as the value of a double-quoted href: the
// ASCII characters a URL cannot hold (controls, space, quotes, angle
// brackets, a '%' that starts no %XX) are percent-encoded and '&' is
// escaped. Other characters stay as written: Telegram takes Unicode URLs,
// and percent-encoding an internationalized host name would break it.
func htmlAppendURL(dst []byte, url string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(url); i++ {
		c := url[i]
		switch {
		case c == '&':
			dst = append(dst, "&amp;"...)
		case c == '%' && i+2 < len(url) && htmlIsHex(url[i+1]) && htmlIsHex(url[i+2]):
			dst = append(dst, c)
		case c <= ' ' || c == 0x7f || c == '%' || strings.IndexByte("\"<>\\^`{|}", c) >= 0:
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// htmlAllowedURL reports whether url should become a Telegram text link:
// an http or https URL whose host has a dot (or is an IPv6 literal), or a
// tg:// link. Telegram (tdlib's check_link) silently drops links to hosts
// without a dot ("localhost"), has no mailto: links (it turns
// "mailto:a@b.c" into "http://mailto:a@b.c/"), and javascript:, file: or
// relative links are no use in a chat; those are shown as text instead.
func htmlAllowedURL(url string) bool {
	var rest string
	switch {
	case gfm.HasPrefixFold(url, "tg://"):
		return len(url) > len("tg://")
	case gfm.HasPrefixFold(url, "https://"):
		rest = url[len("https://"):]
	case gfm.HasPrefixFold(url, "http://"):
		rest = url[len("http://"):]
	default:
		return false
	}
	host := rest
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if strings.HasPrefix(host, "[") {
		return strings.Contains(host, "]")
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Contains(host, ".")
}

// htmlIsHex reports whether c is a hexadecimal digit.
func htmlIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
