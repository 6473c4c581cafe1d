package expr

import (
	"strconv"
	"strings"
)

// op is a comparison operator.
type op uint8

const (
	opEq       op = iota // == or =
	opNe                 // !=
	opLt                 // <
	opGt                 // >
	opLe                 // <=
	opGe                 // >=
	opContains           // CONTAINS
	opHas                // HAS
	opIn                 // IN
	opNotIn              // NOT IN
)

// String is the operator's canonical spelling.
func (o op) String() string {
	return [...]string{"==", "!=", "<", ">", "<=", ">=", "CONTAINS", "HAS", "IN", "NOT IN"}[o]
}

// opFromSymbol maps a run of operator characters to an operator.
func opFromSymbol(s string) (op, bool) {
	switch s {
	case "==", "=":
		return opEq, true
	case "!=":
		return opNe, true
	case "<":
		return opLt, true
	case ">":
		return opGt, true
	case "<=":
		return opLe, true
	case ">=":
		return opGe, true
	}
	return 0, false
}

// node is a compiled boolean expression.
type node interface {
	eval(env Env) bool
	// canon writes the node in canonical form: keywords upper case, "==" for
	// equality, single-quoted strings, and parentheses only where the tree needs them.
	canon(b *strings.Builder)
}

type (
	orNode    struct{ xs []node }
	andNode   struct{ xs []node }
	notNode   struct{ x node }
	truthNode struct{ x operand } // a bare key or boolean: true when it is boolean true
	cmpNode   struct {
		op   op
		l, r operand
	}
)

// operand is one side of a comparison: a key or a literal.
type operand struct {
	isKey bool
	key   keyRef
	lit   value
}

// isNullLit reports whether the operand is the literal null.
func (o *operand) isNullLit() bool { return !o.isKey && o.lit.kind == kindNull }

// resolve is the operand's value in env.
func (o *operand) resolve(env Env) value {
	if !o.isKey {
		return o.lit
	}
	return o.key.lookup(env)
}

func (o *operand) canon(b *strings.Builder) {
	if o.isKey {
		o.key.canon(b)
		return
	}
	literalString(b, o.lit)
}

// keyRef is a compiled key: the root it names explicitly ("task", "worker"), or ""
// for the Env's default root, and the path below that root.
type keyRef struct {
	root string
	path []seg
	// flat is the path's leading names joined with dots ("skills.finance" for
	// skills.finance[0]) when there are two or more of them; flatRest the same for
	// path[1:] (used when path[0] names an extra root of the Env). nil otherwise, so
	// that a plain key costs nothing more. A label whose key is the dotted name itself
	// wins over the nested path (see lookup).
	flat, flatRest *flatKey
}

// flatKey is a run of a key's leading names joined with dots, and how many segments
// it covers.
type flatKey struct {
	name string
	n    int
}

// explicitRoots are the root names a key may start with at compile time.
var explicitRoots = [...]string{"task", "worker"}

// newKeyRef builds a keyRef from a key's segments as written: "task.x" and "worker.x"
// name their root; anything else is in the default root.
func newKeyRef(segs []seg) keyRef {
	k := keyRef{path: segs}
	if len(segs) >= 2 && !segs[1].isIndex {
		for _, r := range explicitRoots {
			if segs[0].name == r {
				k = keyRef{root: r, path: segs[1:]}
				break
			}
		}
	}
	k.flat = flatName(k.path)
	if len(k.path) > 1 {
		k.flatRest = flatName(k.path[1:])
	}
	return k
}

// flatName joins the leading names of path with dots, when there are at least two.
func flatName(path []seg) *flatKey {
	n := 0
	for n < len(path) && !path[n].isIndex {
		n++
	}
	if n < 2 {
		return nil
	}
	names := make([]string, n)
	for i := range n {
		names[i] = path[i].name
	}
	return &flatKey{name: strings.Join(names, "."), n: n}
}

// lookup walks the key's path in env. A default-root key whose first name is itself a
// root of env (one the caller added besides task and worker) is looked up there.
//
// Dotted keys: when the root holds an entry whose key is the path's leading names
// joined with dots ("skills.finance", a flat label from before labels could nest),
// and it is not null, that entry is used; otherwise the path is walked through nested
// objects (root["skills"]["finance"]).
func (k *keyRef) lookup(env Env) value {
	path, flat := k.path, k.flat
	var cur any
	if k.root != "" {
		cur = env.Roots[k.root]
	} else {
		cur = env.Roots[env.Default]
		if len(path) >= 2 && !path[0].isIndex && !path[1].isIndex {
			if r, ok := env.Roots[path[0].name]; ok {
				cur, path, flat = r, path[1:], k.flatRest
			}
		}
	}
	if flat != nil && cur != nil {
		if v := step(cur, seg{name: flat.name}); v != nil {
			cur, path = v, path[flat.n:]
		}
	}
	for _, s := range path {
		if cur == nil {
			return value{}
		}
		cur = step(cur, s)
	}
	return toValue(cur)
}

func (k *keyRef) canon(b *strings.Builder) {
	if k.root != "" {
		b.WriteString(k.root)
	}
	for i, s := range k.path {
		switch {
		case s.isIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case i > 0 || k.root != "":
			b.WriteByte('.')
			b.WriteString(s.name)
		default:
			b.WriteString(s.name)
		}
	}
}

// pathStrings is the key's path as Key.Path shows it: names, and "[n]" for indexes.
func (k *keyRef) pathStrings() []string {
	out := make([]string, len(k.path))
	for i, s := range k.path {
		if s.isIndex {
			out[i] = "[" + strconv.Itoa(s.index) + "]"
		} else {
			out[i] = s.name
		}
	}
	return out
}

func (n *orNode) eval(env Env) bool {
	for _, x := range n.xs {
		if x.eval(env) {
			return true
		}
	}
	return false
}

func (n *andNode) eval(env Env) bool {
	for _, x := range n.xs {
		if !x.eval(env) {
			return false
		}
	}
	return true
}

func (n *notNode) eval(env Env) bool { return !n.x.eval(env) }

func (n *truthNode) eval(env Env) bool {
	v := n.x.resolve(env)
	return v.kind == kindBool && v.b
}

func (n *cmpNode) eval(env Env) bool {
	// The literal null is how an expression tests for absence.
	if ln, rn := n.l.isNullLit(), n.r.isNullLit(); ln || rn {
		var other value
		switch {
		case ln && rn:
			other = value{}
		case ln:
			other = n.r.resolve(env)
		default:
			other = n.l.resolve(env)
		}
		switch n.op {
		case opEq:
			return other.kind == kindNull
		case opNe:
			return other.kind != kindNull
		}
		return false
	}
	l := n.l.resolve(env)
	if l.kind == kindNull {
		return false
	}
	r := n.r.resolve(env)
	if r.kind == kindNull {
		return false
	}
	switch n.op {
	case opEq:
		return equal(l, r, 0)
	case opNe:
		return !equal(l, r, 0)
	case opLt, opGt, opLe, opGe:
		c, ok := order(l, r)
		if !ok {
			return false
		}
		switch n.op {
		case opLt:
			return c < 0
		case opGt:
			return c > 0
		case opLe:
			return c <= 0
		}
		return c >= 0
	case opContains:
		switch l.kind {
		case kindString:
			return r.kind == kindString && strings.Contains(l.s, r.s)
		case kindList:
			if r.kind == kindString {
				return listHasSubstring(l.x, r.s)
			}
			return listHas(l.x, r)
		}
		return false
	case opHas:
		return l.kind == kindList && listHas(l.x, r)
	case opIn:
		return r.kind == kindList && in(l, r)
	case opNotIn:
		return r.kind == kindList && !in(l, r)
	}
	return false
}

// in is `l IN r` for a list r: l is an element of r or, when l is a list, one of
// l's elements is.
func in(l, r value) bool {
	if l.kind != kindList {
		return listHas(r.x, l)
	}
	for i, n := 0, listLen(l.x); i < n; i++ {
		if listHas(r.x, listAt(l.x, i)) {
			return true
		}
	}
	return false
}

func (n *orNode) canon(b *strings.Builder) {
	for i, x := range n.xs {
		if i > 0 {
			b.WriteString(" OR ")
		}
		_, isOr := x.(*orNode)
		canonGroup(b, x, isOr)
	}
}

func (n *andNode) canon(b *strings.Builder) {
	for i, x := range n.xs {
		if i > 0 {
			b.WriteString(" AND ")
		}
		canonGroup(b, x, isBinary(x))
	}
}

func (n *notNode) canon(b *strings.Builder) {
	b.WriteString("NOT ")
	canonGroup(b, n.x, isBinary(n.x))
}

func (n *truthNode) canon(b *strings.Builder) { n.x.canon(b) }

func (n *cmpNode) canon(b *strings.Builder) {
	n.l.canon(b)
	b.WriteByte(' ')
	b.WriteString(n.op.String())
	b.WriteByte(' ')
	n.r.canon(b)
}

func isBinary(x node) bool {
	switch x.(type) {
	case *orNode, *andNode:
		return true
	}
	return false
}

// canonGroup writes x, in parentheses when paren is set.
func canonGroup(b *strings.Builder, x node, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	x.canon(b)
	if paren {
		b.WriteByte(')')
	}
}

// canonical is the canonical form of a compiled tree.
func canonical(n node) string {
	var b strings.Builder
	n.canon(&b)
	return b.String()
}
