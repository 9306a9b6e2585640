package openrouter

import (
	"encoding/json"
	"unicode/utf8"
)

// decodeChunkFast decodes the usual chat.completion.chunk, one content or
// reasoning delta, into ch (which must be zero) without reflection: a
// profile of a streamed reply had encoding/json at about half of the
// daemon's CPU per token. It reports false for anything it does not handle
// exactly as json.Unmarshal would (invalid JSON, a field of an unexpected
// type, a repeated or case-folded field name, usage, reasoning_details, a
// non-streamed message, nesting deeper than fastMaxDepth); the caller then
// starts again with json.Unmarshal. When it reports true, ch is what
// json.Unmarshal would have made of data, and data is valid JSON.
func decodeChunkFast(data []byte, ch *streamChunk) bool {
	d := fastDecoder{data: data}
	d.space()
	var seen [5]bool
	ok := d.object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return once(&seen[0]) && d.str(&ch.ID)
		case "model":
			return once(&seen[1]) && d.str(&ch.Model)
		case "choices":
			return once(&seen[2]) && d.choices(&ch.Choices)
		case "usage":
			return once(&seen[3]) && d.null()
		case "error":
			return once(&seen[4]) && d.raw(&ch.Error)
		}
		return !foldsTo(key, "id", "model", "choices", "usage", "error") && d.skip(0)
	})
	if !ok {
		return false
	}
	d.space()
	return d.i == len(d.data)
}

// fastMaxDepth bounds the nesting of skipped values.
const fastMaxDepth = 32

// fastDecoder reads one JSON value at a time from data[i:].
type fastDecoder struct {
	data []byte
	i    int
}

// once marks a field seen; it reports false the second time.
func once(seen *bool) bool {
	if *seen {
		return false
	}
	*seen = true
	return true
}

// foldsTo reports whether key is not plain lower-case ASCII or matches one
// of names case-insensitively: encoding/json would give it to that field.
func foldsTo(key []byte, names ...string) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf || c == '\\' {
			return true
		}
	}
	for _, n := range names {
		if len(n) != len(key) {
			continue
		}
		match := true
		for j := range key {
			c := key[j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != n[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func (d *fastDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// object reads an object, calling field with the decoder at each value.
// Keys with escapes are refused.
func (d *fastDecoder) object(field func(key []byte) bool) bool {
	if d.i >= len(d.data) || d.data[d.i] != '{' {
		return false
	}
	d.i++
	d.space()
	if d.i < len(d.data) && d.data[d.i] == '}' {
		d.i++
		return true
	}
	for {
		start, end, escaped := d.scanString()
		if start < 0 || escaped {
			return false
		}
		d.space()
		if d.i >= len(d.data) || d.data[d.i] != ':' {
			return false
		}
		d.i++
		d.space()
		if !field(d.data[start:end]) {
			return false
		}
		d.space()
		if d.i >= len(d.data) {
			return false
		}
		switch d.data[d.i] {
		case ',':
			d.i++
			d.space()
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// scanString reads a string and returns the bounds of its contents and
// whether it holds escapes; start is -1 if it is not a valid string.
func (d *fastDecoder) scanString() (start, end int, escaped bool) {
	if d.i >= len(d.data) || d.data[d.i] != '"' {
		return -1, 0, false
	}
	start = d.i + 1
	for j := start; j < len(d.data); j++ {
		switch c := d.data[j]; {
		case c == '"':
			d.i = j + 1
			return start, j, escaped
		case c < 0x20:
			return -1, 0, false
		case c == '\\':
			escaped = true
			j++
			if j >= len(d.data) {
				return -1, 0, false
			}
			switch d.data[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(d.data) {
					return -1, 0, false
				}
				for _, h := range d.data[j+1 : j+5] {
					if !isHex(h) {
						return -1, 0, false
					}
				}
				j += 4
			default:
				return -1, 0, false
			}
		}
	}
	return -1, 0, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// str reads a string or null into s (null leaves it as it is).
func (d *fastDecoder) str(s *string) bool {
	if d.null() {
		return true
	}
	begin := d.i
	start, end, escaped := d.scanString()
	if start < 0 {
		return false
	}
	v := d.data[start:end]
	if !escaped && utf8.Valid(v) {
		*s = string(v)
		return true
	}
	// Escapes or invalid UTF-8: let encoding/json decode this one string.
	return json.Unmarshal(d.data[begin:d.i], s) == nil
}

// null reads a null literal; it reports false (reading nothing) for
// anything else.
func (d *fastDecoder) null() bool {
	if len(d.data)-d.i >= 4 && string(d.data[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// raw reads any value and stores a copy of its bytes, as json.RawMessage
// does.
func (d *fastDecoder) raw(m *json.RawMessage) bool {
	begin := d.i
	if !d.skip(0) {
		return false
	}
	*m = append(json.RawMessage(nil), d.data[begin:d.i]...)
	return true
}

// choices reads the choices array (or null).
func (d *fastDecoder) choices(out *[]streamChoice) bool {
	if d.null() {
		*out = nil
		return true
	}
	cs := make([]streamChoice, 0, 1)
	ok := d.array(func() bool {
		cs = append(cs, streamChoice{})
		return d.null() || d.choice(&cs[len(cs)-1])
	})
	if ok {
		*out = cs
	}
	return ok
}

// array reads a JSON array at d.i, calling elem to read each element.
func (d *fastDecoder) array(elem func() bool) bool {
	if d.i >= len(d.data) || d.data[d.i] != '[' {
		return false
	}
	d.i++
	d.space()
	if d.i < len(d.data) && d.data[d.i] == ']' {
		d.i++
		return true
	}
	for {
		if !elem() {
			return false
		}
		d.space()
		if d.i >= len(d.data) {
			return false
		}
		switch d.data[d.i] {
		case ',':
			d.i++
			d.space()
		case ']':
			d.i++
			return true
		default:
			return false
		}
	}
}

func (d *fastDecoder) choice(c *streamChoice) bool {
	var seen [4]bool
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "delta":
			return once(&seen[0]) && (d.null() || d.delta(&c.Delta))
		case "message":
			return once(&seen[1]) && d.null()
		case "finish_reason":
			return once(&seen[2]) && d.str(&c.FinishReason)
		case "error":
			return once(&seen[3]) && d.raw(&c.Error)
		}
		return !foldsTo(key, "delta", "message", "finish_reason", "error") && d.skip(0)
	})
}

func (d *fastDecoder) delta(w *wireDelta) bool {
	var seen [3]bool
	return d.object(func(key []byte) bool {
		switch string(key) {
		case "content":
			return once(&seen[0]) && d.str(&w.Content)
		case "reasoning":
			return once(&seen[1]) && d.str(&w.Reasoning)
		case "reasoning_details":
			return once(&seen[2]) && d.null()
		}
		return !foldsTo(key, "content", "reasoning", "reasoning_details") && d.skip(0)
	})
}

// skip reads any JSON value, checking it is well formed.
func (d *fastDecoder) skip(depth int) bool {
	if d.i >= len(d.data) || depth > fastMaxDepth {
		return false
	}
	switch c := d.data[d.i]; {
	case c == '"':
		start, _, _ := d.scanString()
		return start >= 0
	case c == '{':
		return d.object(func([]byte) bool { return d.skip(depth + 1) })
	case c == '[':
		return d.array(func() bool { return d.skip(depth + 1) })
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return d.number()
	}
	return false
}

func (d *fastDecoder) literal(lit string) bool {
	if len(d.data)-d.i >= len(lit) && string(d.data[d.i:d.i+len(lit)]) == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *fastDecoder) number() bool {
	if d.data[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.data) && d.data[d.i] == '0':
		d.i++
	case d.digits() == 0:
		return false
	}
	if d.i < len(d.data) && d.data[d.i] == '.' {
		d.i++
		if d.digits() == 0 {
			return false
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return false
		}
	}
	return true
}

func (d *fastDecoder) digits() int {
	n := 0
	for d.i < len(d.data) && '0' <= d.data[d.i] && d.data[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}
