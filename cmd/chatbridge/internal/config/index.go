package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// entry is one key written in the file.
type entry struct {
	key   string          // dotted path from the root
	line  int             // 1-based line of the key (or of the table header)
	kind  unstable.Kind   // Table and ArrayTable for headers, else the value's kind
	elems []unstable.Kind // kinds of an array's elements
	text  string          // a string value's contents; never printed for secrets
	// repeatable is set for keys under an [[array.table]] header, which may
	// legitimately appear once per element.
	repeatable bool
}

// index records where every key of a TOML document is, and what kind of value
// it holds, so that problems found after decoding can name their line.
type index struct {
	entries []entry        // in document order
	lines   map[string]int // key -> line of its first definition
}

// parseIndex parses doc with go-toml's parser. A syntax error is returned as
// a *Error with its line (Key empty); the caller fills File.
func parseIndex(doc []byte) (*index, *Error) {
	idx := &index{lines: map[string]int{}}
	p := &unstable.Parser{}
	p.Reset(doc)
	var table []string
	inArray := false
	for p.NextExpression() {
		expr := p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, line := keyOf(doc, expr)
			table, inArray = parts, expr.Kind == unstable.ArrayTable
			idx.add(entry{key: strings.Join(parts, "."), line: line, kind: expr.Kind, repeatable: inArray})
		case unstable.KeyValue:
			idx.addKeyValue(doc, table, expr, inArray)
		}
	}
	if err := p.Error(); err != nil {
		e := &Error{Problem: "syntax error: " + err.Error()}
		if perr, ok := err.(*unstable.ParserError); ok {
			e.Line = lineAt(doc, perr.Highlight)
			e.Problem = "syntax error: " + perr.Message
		}
		return nil, e
	}
	return idx, nil
}

// addKeyValue records a key-value expression under the table path, and the
// keys of an inline table value beneath it.
func (idx *index) addKeyValue(doc []byte, table []string, expr *unstable.Node, repeatable bool) {
	parts, line := keyOf(doc, expr)
	full := append(append([]string{}, table...), parts...)
	v := expr.Value()
	e := entry{key: strings.Join(full, "."), line: line, kind: v.Kind, repeatable: repeatable}
	switch v.Kind {
	case unstable.String:
		e.text = string(v.Data)
	case unstable.Array:
		for it := v.Children(); it.Next(); {
			e.elems = append(e.elems, it.Node().Kind)
		}
	}
	idx.add(e)
	if v.Kind == unstable.InlineTable {
		for it := v.Children(); it.Next(); {
			if it.Node().Kind == unstable.KeyValue {
				idx.addKeyValue(doc, full, it.Node(), repeatable)
			}
		}
	}
}

// add appends e and remembers the line of its first definition.
func (idx *index) add(e entry) {
	idx.entries = append(idx.entries, e)
	if _, ok := idx.lines[e.key]; !ok {
		idx.lines[e.key] = e.line
	}
}

// line returns the line where key is first written, or 0.
func (idx *index) line(key string) int {
	if idx == nil {
		return 0
	}
	return idx.lines[key]
}

// keyOf returns the dotted key parts of a key-value or table expression and
// the line of its first part.
func keyOf(doc []byte, expr *unstable.Node) ([]string, int) {
	var parts []string
	line := 0
	for it := expr.Key(); it.Next(); {
		n := it.Node()
		if line == 0 {
			line = 1 + strings.Count(string(doc[:min(int(n.Raw.Offset), len(doc))]), "\n")
		}
		parts = append(parts, string(n.Data))
	}
	return parts, line
}

// lineAt returns the 1-based line of highlight, a subslice of doc, or 0 when
// it is not one.
func lineAt(doc, highlight []byte) int {
	if cap(highlight) == 0 {
		return 0
	}
	off := cap(doc) - cap(highlight)
	if off < 0 || off > len(doc) {
		return 0
	}
	return 1 + strings.Count(string(doc[:off]), "\n")
}

// check compares every written key with the Config schema and returns one
// *Error per unknown key (each unknown table reported once), wrongly typed
// value, unparsable duration or repeated key. The caller fills File.
func (idx *index) check() Errors {
	var errs Errors
	reported := map[string]bool{}
	seen := map[string]int{}
	for _, e := range idx.entries {
		parts := strings.Split(e.key, ".")
		if prev, dup := seen[e.key]; dup && !e.repeatable {
			errs = append(errs, &Error{Line: e.line, Key: e.key,
				Problem: fmt.Sprintf("is defined twice (first on line %d)", prev), Accepted: "each key once"})
			continue
		}
		seen[e.key] = e.line
		f, known := lookup(parts)
		if !known && len(parts) > 2 {
			// A table below a known key: report that key's type once.
			if f, ok := lookup(parts[:2]); ok && !f.section {
				if k := f.key; !reported[k] {
					reported[k] = true
					errs = append(errs, &Error{Line: e.line, Key: k,
						Problem: "expected " + f.typeName() + ", got a table", Accepted: f.accepted()})
				}
				continue
			}
		}
		switch {
		case !known:
			top := unknownPrefix(parts)
			if !reported[top] {
				reported[top] = true
				errs = append(errs, unknownKey(top, e.line))
			}
		case f.section:
			if e.kind != unstable.Table && e.kind != unstable.InlineTable {
				errs = append(errs, &Error{Line: e.line, Key: e.key,
					Problem: "expected a table [" + e.key + "], got " + kindName(e.kind), Accepted: "a table [" + e.key + "]"})
			}
		default:
			if problem := f.mismatch(e); problem != "" {
				reported[f.key] = true
				errs = append(errs, &Error{Line: e.line, Key: e.key, Problem: problem, Accepted: f.accepted()})
			}
		}
	}
	return errs
}

// unknownPrefix returns the shortest unknown prefix of a key path: the
// section when it is unknown, else section.key.
func unknownPrefix(parts []string) string {
	if _, ok := lookup(parts[:1]); !ok || len(parts) == 1 {
		return parts[0]
	}
	return parts[0] + "." + parts[1]
}

// unknownKey returns the error for an unknown dotted key (a section or
// section.key), listing what the file may hold there instead.
func unknownKey(key string, line int) *Error {
	section, _, inSection := strings.Cut(key, ".")
	if !inSection {
		return &Error{Line: line, Key: key, Problem: "unknown section",
			Accepted: "one of the sections " + strings.Join(sectionNames(), ", ")}
	}
	if _, ok := lookup([]string{section}); !ok {
		return unknownKey(section, line)
	}
	return &Error{Line: line, Key: key, Problem: "unknown key",
		Accepted: "one of the keys of [" + section + "]: " + strings.Join(keyNames(section), ", ")}
}

// field describes one key of the schema.
type field struct {
	key     string
	section bool // a whole [section]
	typ     reflect.Type
	sf      reflect.StructField
}

// isDuration reports whether f holds a Duration.
func (f field) isDuration() bool { return f.typ == reflect.TypeFor[Duration]() }

// isSecret reports whether f holds a Secret, whose value must never be shown.
func (f field) isSecret() bool { return f.typ == reflect.TypeFor[Secret]() }

// lookup finds a key path (one part: a section, two: a key) in the schema.
func lookup(parts []string) (field, bool) {
	if len(parts) == 0 || len(parts) > 2 {
		return field{}, false
	}
	for _, s := range fieldsOf(reflect.TypeFor[Config]()) {
		if s.Name != parts[0] {
			continue
		}
		if len(parts) == 1 {
			return field{key: s.Name, section: true, typ: s.Type}, true
		}
		for _, k := range fieldsOf(s.Type) {
			if k.Name == parts[1] {
				return field{key: s.Name + "." + k.Name, typ: k.Type, sf: k.StructField}, true
			}
		}
	}
	return field{}, false
}

// tomlField is a struct field with its TOML key name.
type tomlField struct {
	reflect.StructField
	Name string // the TOML key
}

// fieldsOf returns the fields of struct type t that have a TOML key, in
// declaration order.
func fieldsOf(t reflect.Type) []tomlField {
	var out []tomlField
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, tomlField{StructField: sf, Name: name})
	}
	return out
}

// sectionNames returns the sections as "[name]".
func sectionNames() []string {
	var out []string
	for _, s := range fieldsOf(reflect.TypeFor[Config]()) {
		out = append(out, "["+s.Name+"]")
	}
	return out
}

// keyNames returns the keys of a section.
func keyNames(section string) []string {
	f, _ := lookup([]string{section})
	var out []string
	for _, k := range fieldsOf(f.typ) {
		out = append(out, k.Name)
	}
	return out
}

// mismatch returns the problem with e as a value of f, or "" when its TOML
// kind fits f's Go type. It never includes the value of a secret.
func (f field) mismatch(e entry) string {
	want := f.typeName()
	got := kindName(e.kind)
	ok := false
	switch {
	case f.isDuration():
		ok = e.kind == unstable.String
		if ok {
			if err := new(Duration).UnmarshalText([]byte(e.text)); err != nil {
				return err.Error()
			}
		}
	case f.typ.Kind() == reflect.Slice:
		elem := unstable.String
		if f.typ.Elem().Kind() == reflect.Int64 {
			elem = unstable.Integer
		}
		ok = e.kind == unstable.Array
		for _, k := range e.elems {
			if ok && k != elem {
				ok = false
				got = "an array holding " + kindName(k)
			}
		}
	case f.typ.Kind() == reflect.Bool:
		ok = e.kind == unstable.Bool
	case f.typ.Kind() == reflect.Int:
		ok = e.kind == unstable.Integer
	case f.typ.Kind() == reflect.Float64:
		ok = e.kind == unstable.Float || e.kind == unstable.Integer
	case f.typ.Kind() == reflect.String:
		ok = e.kind == unstable.String
	}
	if ok {
		return ""
	}
	return "expected " + want + ", got " + got
}

// typeName names the TOML type f accepts.
func (f field) typeName() string {
	switch {
	case f.isDuration():
		return `a duration string like "90s"`
	case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.Int64:
		return "an array of integers"
	case f.typ.Kind() == reflect.Slice:
		return "an array of strings"
	case f.typ.Kind() == reflect.Bool:
		return "a boolean"
	case f.typ.Kind() == reflect.Int:
		return "an integer"
	case f.typ.Kind() == reflect.Float64:
		return "a number"
	default:
		return "a string"
	}
}

// accepted describes the values f accepts: its type, with its range or
// choices when its tags give them.
func (f field) accepted() string {
	if choices := f.sf.Tag.Get("oneof"); choices != "" {
		return quoteList(strings.Split(choices, ","))
	}
	switch f.typ.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		if f.typ.Elem().Kind() == reflect.Int64 {
			return "an array of integers, like [123456789]"
		}
		return `an array of strings, like ["abc"]`
	}
	lo, hi, hasRange := strings.Cut(f.sf.Tag.Get("range"), ",")
	name := f.typeName()
	if f.isDuration() {
		name = "a duration"
	}
	switch {
	case !hasRange:
	case lo != "" && hi != "":
		name += " from " + lo + " to " + hi
	case lo != "":
		name += " >= " + lo
	case hi != "":
		name += " <= " + hi
	}
	if f.isDuration() {
		name += `, written like "90s", "1m30s" or "24h"`
	}
	return name
}

// quoteList renders ["a" "b" "c"] as `"a", "b" or "c"`.
func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// kindName names a TOML value kind with its article.
func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "an array"
	case unstable.Table, unstable.InlineTable:
		return "a table"
	case unstable.ArrayTable:
		return "an array of tables"
	case unstable.DateTime, unstable.LocalDateTime, unstable.LocalDate, unstable.LocalTime:
		return "a date or time"
	default:
		return "a " + strings.ToLower(k.String())
	}
}
