package expr

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// kind is the kind of a value as the language sees it.
type kind uint8

const (
	kindNull   kind = iota // a missing key, JSON null, a nil pointer, map or interface
	kindBool               // true, false
	kindNumber             // every Go integer and float kind, and json.Number
	kindString             // every Go string kind
	kindList               // slices and arrays
	kindObject             // maps with string keys
	kindOther              // anything else (structs, channels, funcs...): equal to nothing
)

// value is an operand during evaluation. It is a small struct rather than an
// interface so that evaluation does not allocate.
type value struct {
	kind kind
	b    bool
	n    float64
	s    string
	// x holds a list or an object: []value (a list literal), []any, []string,
	// map[string]any, map[string]string, or a reflect.Value of a slice, array or map.
	x any
}

// Limits of the runtime walk over caller data, which may be deep or even cyclic.
const (
	maxDeref      = 16 // pointers and interfaces followed in a row
	maxEqualDepth = 32 // nesting compared by == between lists and objects
)

// toValue converts a Go value from an Env into a value. The common JSON shapes are
// handled by a type switch; everything else goes through reflect.
func toValue(v any) value {
	switch x := v.(type) {
	case nil:
		return value{}
	case string:
		return value{kind: kindString, s: x}
	case float64:
		return value{kind: kindNumber, n: x}
	case bool:
		return value{kind: kindBool, b: x}
	case int:
		return value{kind: kindNumber, n: float64(x)}
	case int64:
		return value{kind: kindNumber, n: float64(x)}
	case int32:
		return value{kind: kindNumber, n: float64(x)}
	case float32:
		return value{kind: kindNumber, n: float64(x)}
	case json.Number:
		n, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return value{kind: kindOther}
		}
		return value{kind: kindNumber, n: n}
	case []any, []string: // x: v, not x: re-boxing the slice would allocate
		return value{kind: kindList, x: v}
	case map[string]any, map[string]string:
		return value{kind: kindObject, x: v}
	}
	return reflectValue(reflect.ValueOf(v))
}

// reflectValue converts what the type switch of toValue did not know: named types
// (events.Labels, type Skill string...), other numeric kinds, pointers, arrays.
func reflectValue(rv reflect.Value) value {
	rv, ok := deref(rv)
	if !ok {
		return value{}
	}
	switch rv.Kind() {
	case reflect.Bool:
		return value{kind: kindBool, b: rv.Bool()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return value{kind: kindNumber, n: float64(rv.Int())}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return value{kind: kindNumber, n: float64(rv.Uint())}
	case reflect.Float32, reflect.Float64:
		return value{kind: kindNumber, n: rv.Float()}
	case reflect.String:
		return value{kind: kindString, s: rv.String()}
	case reflect.Slice, reflect.Array:
		return value{kind: kindList, x: rv}
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			return value{kind: kindObject, x: rv}
		}
	}
	return value{kind: kindOther}
}

// deref follows pointers and interfaces; ok is false for nil, an invalid value, or a
// chain too long (a pointer cycle).
func deref(rv reflect.Value) (reflect.Value, bool) {
	for range maxDeref {
		switch rv.Kind() {
		case reflect.Invalid:
			return rv, false
		case reflect.Pointer, reflect.Interface:
			if rv.IsNil() {
				return rv, false
			}
			rv = rv.Elem()
		default:
			return rv, true
		}
	}
	return rv, false
}

// step moves one path segment down from v: a map entry for a name, a list element for
// an index. It returns nil when there is nothing there.
func step(v any, s seg) any {
	if s.isIndex {
		switch x := v.(type) {
		case []any:
			if s.index < len(x) {
				return x[s.index]
			}
			return nil
		case []string:
			if s.index < len(x) {
				return x[s.index]
			}
			return nil
		case map[string]any, map[string]string, nil:
			return nil
		}
		rv, ok := deref(reflect.ValueOf(v))
		if !ok || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) || s.index >= rv.Len() {
			return nil
		}
		return rv.Index(s.index).Interface()
	}
	switch x := v.(type) {
	case map[string]any:
		return x[s.name]
	case map[string]string:
		if e, ok := x[s.name]; ok {
			return e
		}
		return nil
	case []any, []string, nil:
		return nil
	}
	rv, ok := deref(reflect.ValueOf(v))
	if !ok || rv.Kind() != reflect.Map {
		return nil
	}
	kt := rv.Type().Key()
	var k reflect.Value
	switch {
	case kt.Kind() == reflect.String:
		k = reflect.ValueOf(s.name).Convert(kt)
	case kt.Kind() == reflect.Interface && reflect.TypeFor[string]().Implements(kt):
		k = reflect.ValueOf(s.name)
	default:
		return nil
	}
	e := rv.MapIndex(k)
	if !e.IsValid() {
		return nil
	}
	return e.Interface()
}

// listLen is the length of a kindList value's list.
func listLen(x any) int {
	switch l := x.(type) {
	case []value:
		return len(l)
	case []any:
		return len(l)
	case []string:
		return len(l)
	case reflect.Value:
		return l.Len()
	}
	return 0
}

// listAt is element i of a kindList value's list.
func listAt(x any, i int) value {
	switch l := x.(type) {
	case []value:
		return l[i]
	case []any:
		return toValue(l[i])
	case []string:
		return value{kind: kindString, s: l[i]}
	case reflect.Value:
		return reflectValue(l.Index(i))
	}
	return value{}
}

// listHas reports whether the list x holds an element equal to v.
func listHas(x any, v value) bool {
	for i, n := 0, listLen(x); i < n; i++ {
		if equal(listAt(x, i), v, 0) {
			return true
		}
	}
	return false
}

// listHasSubstring reports whether the list x holds a string element containing sub.
func listHasSubstring(x any, sub string) bool {
	for i, n := 0, listLen(x); i < n; i++ {
		if e := listAt(x, i); e.kind == kindString && strings.Contains(e.s, sub) {
			return true
		}
	}
	return false
}

// objLen is the number of entries of a kindObject value's map.
func objLen(x any) int {
	switch m := x.(type) {
	case map[string]any:
		return len(m)
	case map[string]string:
		return len(m)
	case reflect.Value:
		return m.Len()
	}
	return 0
}

// objEach calls fn with every entry of a kindObject value's map until fn returns false.
func objEach(x any, fn func(k string, v value) bool) {
	switch m := x.(type) {
	case map[string]any:
		for k, v := range m {
			if !fn(k, toValue(v)) {
				return
			}
		}
	case map[string]string:
		for k, v := range m {
			if !fn(k, value{kind: kindString, s: v}) {
				return
			}
		}
	case reflect.Value:
		it := m.MapRange()
		for it.Next() {
			if !fn(it.Key().String(), reflectValue(it.Value())) {
				return
			}
		}
	}
}

// objGet is the entry k of a kindObject value's map.
func objGet(x any, k string) (value, bool) {
	var e any
	switch m := x.(type) {
	case map[string]any:
		v, ok := m[k]
		if !ok {
			return value{}, false
		}
		e = v
	case map[string]string:
		v, ok := m[k]
		if !ok {
			return value{}, false
		}
		return value{kind: kindString, s: v}, true
	case reflect.Value:
		v := m.MapIndex(reflect.ValueOf(k).Convert(m.Type().Key()))
		if !v.IsValid() {
			return value{}, false
		}
		return reflectValue(v), true
	}
	return toValue(e), true
}

// equal is == between two values: same kind and same value. Numbers compare
// numerically, lists element by element, objects entry by entry. Null equals null
// here (inside lists and objects); the operators handle null operands themselves.
func equal(a, b value, depth int) bool {
	if a.kind != b.kind || depth > maxEqualDepth {
		return false
	}
	switch a.kind {
	case kindNull:
		return true
	case kindBool:
		return a.b == b.b
	case kindNumber:
		return a.n == b.n
	case kindString:
		return a.s == b.s
	case kindList:
		n := listLen(a.x)
		if n != listLen(b.x) {
			return false
		}
		for i := range n {
			if !equal(listAt(a.x, i), listAt(b.x, i), depth+1) {
				return false
			}
		}
		return true
	case kindObject:
		if objLen(a.x) != objLen(b.x) {
			return false
		}
		same := true
		objEach(a.x, func(k string, v value) bool {
			w, ok := objGet(b.x, k)
			same = ok && equal(v, w, depth+1)
			return same
		})
		return same
	}
	return false
}

// order compares two numbers or two strings; ok is false for anything else.
func order(a, b value) (c int, ok bool) {
	switch {
	case a.kind == kindNumber && b.kind == kindNumber:
		switch {
		case a.n < b.n:
			return -1, true
		case a.n > b.n:
			return 1, true
		case a.n == b.n:
			return 0, true
		}
		return 0, false // NaN
	case a.kind == kindString && b.kind == kindString:
		return strings.Compare(a.s, b.s), true
	}
	return 0, false
}

// literalString writes a literal in its canonical form (one that Compile reads back
// to the same value).
func literalString(b *strings.Builder, v value) {
	switch v.kind {
	case kindNull:
		b.WriteString("null")
	case kindBool:
		b.WriteString(strconv.FormatBool(v.b))
	case kindNumber:
		b.WriteString(strconv.FormatFloat(v.n, 'g', -1, 64))
	case kindString:
		b.WriteByte('\'')
		for i := 0; i < len(v.s); i++ {
			if c := v.s[i]; c == '\\' || c == '\'' {
				b.WriteByte('\\')
			}
			b.WriteByte(v.s[i])
		}
		b.WriteByte('\'')
	case kindList:
		b.WriteByte('[')
		for i, n := 0, listLen(v.x); i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			literalString(b, listAt(v.x, i))
		}
		b.WriteByte(']')
	}
}

// literalAny is a scalar literal as a plain Go value (string, float64, bool, nil).
func literalAny(v value) any {
	switch v.kind {
	case kindBool:
		return v.b
	case kindNumber:
		return v.n
	case kindString:
		return v.s
	}
	return nil
}
