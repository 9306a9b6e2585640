package slack

// This file renders links, images and autolinks as <url|text>.

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark/ast"

	"github.com/chatbridge/chatbridge/bridges/internal/gfm"
)

// linkTo renders a link or image whose children are its text (an image's
// alt text) as <url|text>, or <url> when there is no text. Slack opens
// only the schemes mrkdwnAllowedURL accepts; other targets are shown in
// parentheses after the text so they are not lost. Inside a link only the
// text is rendered: links cannot nest, and an image inside a link (a
// badge) is just its alt text there.
func (r *mrkdwnRenderer) linkTo(n ast.Node, dest string) {
	if r.link > 0 {
		r.inlines(n)
		return
	}
	if !mrkdwnAllowedURL(dest) {
		mark := len(r.buf)
		r.inlines(n)
		// A data: URL is an inline image, often kilobytes of base64: no use
		// as text.
		if dest == "" || gfm.HasPrefixFold(dest, "data:") {
			return
		}
		escaped := gfm.AppendEscaped(nil, dest)
		if string(r.buf[mark:]) == string(escaped) {
			return
		}
		if len(r.buf) > mark {
			r.buf = append(r.buf, ' ')
		}
		r.buf = append(r.buf, '(')
		r.buf = append(r.buf, escaped...)
		r.buf = append(r.buf, ')')
		return
	}
	r.buf = append(r.buf, '<', mrkdwnVerbatimMark)
	r.buf = mrkdwnAppendURL(r.buf, dest)
	r.buf = append(r.buf, mrkdwnTextMark, '|', mrkdwnLabelMark)
	start := len(r.buf)
	r.link++
	r.inlines(n)
	r.link--
	label := r.buf[start:]
	if len(bytes.TrimSpace(label)) == 0 {
		// "[](url)" or "![](url)": Slack shows the target itself.
		r.buf = append(r.buf[:start-2], '>')
		return
	}
	// '|' would end the target early in some clients, so the text gets a
	// look-alike (U+2223); '>' is already &gt;.
	if bytes.IndexByte(label, '|') >= 0 {
		fixed := bytes.ReplaceAll(label, []byte("|"), []byte("∣"))
		r.buf = append(r.buf[:start], fixed...)
	}
	r.buf = append(r.buf, mrkdwnTextMark, '>')
}

// autoLink renders <http://…>, <a@b.c> and GFM's bare www. and http://
// links as <url>, or <url|label> when the label is not the URL itself (a
// www. link, an e-mail address). Other schemes, and addresses without a
// dot in the domain, stay text as written.
func (r *mrkdwnRenderer) autoLink(n *ast.AutoLink) {
	raw := n.Label(r.src)
	label := string(raw)
	url := string(n.URL(r.src))
	if n.AutoLinkType == ast.AutoLinkEmail && !gfm.HasPrefixFold(url, "mailto:") {
		url = "mailto:" + url
	}
	if n.AutoLinkType == ast.AutoLinkEmail && !strings.Contains(url[strings.LastIndexByte(url, '@')+1:], ".") {
		url = "" // "<!subteam^S1|@team>" is no address to write to
	}
	if r.link > 0 || !mrkdwnAllowedURL(url) {
		// Shown as written, with its angle brackets if it had them.
		bracketed := false
		// The label is a slice of the source; find where it starts.
		if at := cap(r.src) - cap(raw); len(raw) > 0 && at > 0 && at < len(r.src) && &r.src[at] == &raw[0] {
			bracketed = r.src[at-1] == '<'
		}
		if bracketed && r.link == 0 {
			r.buf = append(r.buf, "&lt;"...)
		}
		r.buf = gfm.AppendEscaped(r.buf, label)
		if bracketed && r.link == 0 {
			r.buf = append(r.buf, "&gt;"...)
		}
		return
	}
	r.buf = append(r.buf, '<', mrkdwnVerbatimMark)
	r.buf = mrkdwnAppendURL(r.buf, url)
	r.buf = append(r.buf, mrkdwnTextMark)
	if label != url {
		r.buf = append(r.buf, '|', mrkdwnLabelMark)
		r.buf = gfm.AppendEscaped(r.buf, strings.ReplaceAll(label, "|", "∣"))
		r.buf = append(r.buf, mrkdwnTextMark)
	}
	r.buf = append(r.buf, '>')
}

// mrkdwnAppendURL appends url as the target of a <url|text> link: the
// ASCII characters a URL cannot hold (controls, space, quotes, angle
// brackets, '|', a '%' that starts no %XX) are percent-encoded and '&' is
// escaped. Other characters stay as written: percent-encoding an
// internationalized host name would break it.
func mrkdwnAppendURL(dst []byte, url string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(url); i++ {
		c := url[i]
		switch {
		case c == '&':
			dst = append(dst, "&amp;"...)
		case c == '%' && i+2 < len(url) && mrkdwnIsHex(url[i+1]) && mrkdwnIsHex(url[i+2]):
			dst = append(dst, c)
		case c <= ' ' || c == 0x7f || c == '%' || c == '"' || c == '<' || c == '>' || c == '\\' ||
			c == '^' || c == '`' || c == '{' || c == '|' || c == '}':
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// mrkdwnAllowedURL reports whether url should become a Slack link: an
// http, https or mailto URL with something after the scheme. javascript:,
// file: or relative links are no use in a chat; they are shown as text.
func mrkdwnAllowedURL(url string) bool {
	for _, scheme := range [...]string{"https://", "http://", "mailto:"} {
		if gfm.HasPrefixFold(url, scheme) {
			return len(url) > len(scheme)
		}
	}
	return false
}

// mrkdwnIsHex reports whether c is a hexadecimal digit.
func mrkdwnIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
