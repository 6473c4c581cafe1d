package expr

import (
	"fmt"
	"slices"
	"strings"
)

// Limits on what Compile accepts, so that hostile input costs little. Going over any
// of them is a *SyntaxError.
const (
	// MaxSourceLen is the longest source Compile accepts, in bytes.
	MaxSourceLen = 4096
	// MaxDepth is how deeply parentheses and NOTs may nest.
	MaxDepth = 64
	// MaxListLen is the most elements a list literal may have.
	MaxListLen = 1000
)

// Root names that keys may start with explicitly, and that Env.Default usually is.
const (
	RootTask   = "task"   // the task (job) attributes
	RootWorker = "worker" // the worker attributes
)

// Expr is a compiled expression. It is immutable and safe for concurrent use; compile
// it once and Eval it once per candidate.
type Expr struct {
	src  string
	root node
	keys []Key
	eqs  []Equality
}

// Env is what an expression is evaluated against: named roots of attributes, and the
// root that keys without an explicit root prefix are looked up in.
//
// A root is a tree as decoded from JSON: map[string]any, []any, float64, string, bool
// and nil. Other integer and float types, json.Number, []string, map[string]string
// and named types (events.Labels, type Tier string, ...) work too, through reflect;
// converting a named map to map[string]any (a free conversion) avoids that cost.
type Env struct {
	// Roots are the attribute trees by root name: usually RootTask and RootWorker,
	// and any other the caller wants keys to reach (a key "queue.name" looks in
	// Roots["queue"] when there is such a root).
	Roots map[string]any
	// Default is the root of keys written without a root prefix: RootTask for a
	// workflow filter, RootWorker for a queue's target-workers expression.
	Default string
}

// Key is a key an expression references.
type Key struct {
	// Root is RootTask or RootWorker when the key names it ("task.x"), or "" when
	// the key is looked up in the Env's default root ("x"), or in an extra root of
	// the Env named by its first path element ("queue.name" with a "queue" root).
	Root string
	// Path is the key's steps below its root: names, and "[n]" for an index
	// ("task.items[2].name" is Root "task", Path ["items", "[2]", "name"]).
	Path []string
}

// String is the key as written in canonical form, root included.
func (k Key) String() string {
	var b strings.Builder
	b.WriteString(k.Root)
	for _, p := range k.Path {
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// Equality is a condition `key == literal` that must hold for an expression to be
// true. Value is a string, a float64 or a bool.
type Equality struct {
	Root  string   // as in Key
	Path  []string // as in Key
	Value any      // string, float64 or bool
}

// Compile parses src. Every error is a *SyntaxError (errors.Is(err, ErrSyntax)) with
// the byte offset of the problem. Callers reporting it on the wire wrap it, e.g.
// events.Errorf(events.CodeInvalidData, "targets[0].expression", "%v", err).
func Compile(src string) (*Expr, error) {
	root, err := parse(src)
	if err != nil {
		return nil, err
	}
	return &Expr{src: src, root: root, keys: collectKeys(root), eqs: collectEqualities(root)}, nil
}

// MustCompile is Compile that panics on an error; for expressions fixed in code.
func MustCompile(src string) *Expr {
	e, err := Compile(src)
	if err != nil {
		panic(fmt.Sprintf("expr.MustCompile(%q): %v", src, err))
	}
	return e
}

// String is the source the expression was compiled from.
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return e.src
}

// Eval reports whether the expression is true in env. It never panics and never
// fails: a missing key is null, and a comparison that makes no sense is false. A nil
// or zero Expr is false.
func (e *Expr) Eval(env Env) bool {
	if e == nil || e.root == nil {
		return false
	}
	return safeEval(e.root, env)
}

// safeEval evaluates n, turning a panic into false. Nothing in the evaluator is known
// to panic (the fuzz test runs it without this guard); it is a last line of defence
// against odd caller data.
func safeEval(n node, env Env) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return n.eval(env)
}

// Keys lists every key the expression references, once each, in source order.
func (e *Expr) Keys() []Key {
	if e == nil || len(e.keys) == 0 {
		return nil
	}
	out := make([]Key, len(e.keys))
	for i, k := range e.keys {
		out[i] = Key{Root: k.Root, Path: slices.Clone(k.Path)}
	}
	return out
}

// Equalities lists the conditions `key == literal` (or `literal == key`, with a
// string, number or boolean literal) that are AND-ed at the top of the expression, so
// that each must hold for the whole to be true; a bare key counts as `key == true`.
// It is empty when the top of the expression is an OR or a NOT. Callers use it to
// index candidates by attribute; it never replaces Eval.
func (e *Expr) Equalities() []Equality {
	if e == nil || len(e.eqs) == 0 {
		return nil
	}
	out := make([]Equality, len(e.eqs))
	for i, q := range e.eqs {
		out[i] = Equality{Root: q.Root, Path: slices.Clone(q.Path), Value: q.Value}
	}
	return out
}

// collectKeys lists the distinct keys of a tree in source order.
func collectKeys(n node) []Key {
	var keys []Key
	seen := map[string]bool{}
	add := func(o *operand) {
		if !o.isKey {
			return
		}
		k := Key{Root: o.key.root, Path: o.key.pathStrings()}
		id := k.Root + "\x00" + strings.Join(k.Path, "\x00")
		if !seen[id] {
			seen[id] = true
			keys = append(keys, k)
		}
	}
	var walk func(node)
	walk = func(n node) {
		switch x := n.(type) {
		case *orNode:
			for _, c := range x.xs {
				walk(c)
			}
		case *andNode:
			for _, c := range x.xs {
				walk(c)
			}
		case *notNode:
			walk(x.x)
		case *truthNode:
			add(&x.x)
		case *cmpNode:
			add(&x.l)
			add(&x.r)
		}
	}
	walk(n)
	return keys
}

// collectEqualities lists the key == literal conditions AND-ed at the top of a tree.
func collectEqualities(n node) []Equality {
	var eqs []Equality
	var walk func(node)
	walk = func(n node) {
		switch x := n.(type) {
		case *andNode:
			for _, c := range x.xs {
				walk(c)
			}
		case *truthNode:
			if x.x.isKey {
				eqs = append(eqs, Equality{Root: x.x.key.root, Path: x.x.key.pathStrings(), Value: true})
			}
		case *cmpNode:
			if x.op != opEq {
				return
			}
			k, l := x.l, x.r
			if !k.isKey {
				k, l = l, k
			}
			if k.isKey && !l.isKey && scalar(l.lit) {
				eqs = append(eqs, Equality{Root: k.key.root, Path: k.key.pathStrings(), Value: literalAny(l.lit)})
			}
		}
	}
	walk(n)
	return eqs
}

// scalar reports whether v is a string, number or boolean.
func scalar(v value) bool {
	return v.kind == kindString || v.kind == kindNumber || v.kind == kindBool
}
