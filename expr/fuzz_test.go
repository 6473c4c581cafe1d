package expr

import (
	"errors"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// fuzzSeeds are added to the corpus in testdata/fuzz/FuzzCompileEval.
var fuzzSeeds = []string{
	`type == 'Sales'`,
	`task.subSection = worker.specializedSubField`,
	`worker.skills HAS 'support'`,
	`task.language IN ['en','fr']`,
	`a NOT IN [1, -2.5e3, "x\"y", 'it\'s', true, null] OR NOT (b CONTAINS 'z' AND c[0].d >= -1)`,
	`worker.available AND NOT worker.busy`,
	`x == null AND y != null`,
	`(a = 1 OR (b = 2 AND (c = 3)))`,
	`a === 1`,
	`'unterminated`,
}

// fuzzValueCount is how many values fuzzValue has.
const fuzzValueCount = 26

// fuzzValue is value i of what fuzzEnvs puts at the keys an expression references: a
// fresh one on every call, since fuzzEnvs may store more values inside it.
func fuzzValue(i int) any {
	switch i {
	case 0:
		return nil
	case 1:
		return true
	case 2:
		return false
	case 3:
		return float64(0)
	case 4:
		return float64(1)
	case 5:
		return -2.5
	case 6:
		return math.NaN()
	case 7:
		return math.Inf(1)
	case 8:
		return ""
	case 9:
		return "a"
	case 10:
		return "x"
	case 11:
		return "Sales"
	case 12:
		return "en"
	case 13:
		return 3
	case 14:
		return int64(-4)
	case 15:
		return uint8(7)
	case 16:
		return tier("gold")
	case 17:
		return []any{}
	case 18:
		return []any{"a", float64(1), nil, true}
	case 19:
		return []string{"x", "en"}
	case 20:
		return [2]int{1, 2}
	case 21:
		return map[string]any{}
	case 22:
		return map[string]any{"a": float64(1)}
	case 23:
		return map[string]string{"a": "x"}
	case 24:
		return labels{"a": "x"}
	}
	return struct{ A int }{1}
}

// fuzzEnvs are evaluation environments for e: two fixed ones, and some where the
// keys e references hold values picked by fuzzValue, seeded by src.
func fuzzEnvs(src string, e *Expr) []Env {
	envs := []Env{
		{},
		{Roots: map[string]any{RootTask: testTask(), RootWorker: testWorker()}, Default: RootTask},
	}
	h := fnv.New64a()
	h.Write([]byte(src))
	rng := rand.New(rand.NewPCG(h.Sum64(), 1))
	for i, def := range []string{RootTask, RootWorker, "", "nope"} {
		roots := map[string]any{}
		for _, k := range e.Keys() {
			roots[k.Root] = put(roots[k.Root], k.Path, fuzzValue(rng.IntN(fuzzValueCount)))
		}
		if m, ok := roots[""].(map[string]any); ok && i == 2 {
			roots[""] = labels(m) // reach a named map type through reflect
		}
		envs = append(envs, Env{Roots: roots, Default: def})
	}
	return envs
}

// put stores v at path below cur, building maps and lists (of at most 9 elements) on
// the way, and returns the new cur. It leaves cur alone when the path clashes with a
// value already there.
func put(cur any, path []string, v any) any {
	if len(path) == 0 {
		return v
	}
	p := path[0]
	if strings.HasPrefix(p, "[") {
		idx, err := strconv.Atoi(p[1 : len(p)-1])
		if err != nil || idx > 8 {
			return cur
		}
		l, ok := cur.([]any)
		if !ok && cur != nil {
			return cur
		}
		for len(l) <= idx {
			l = append(l, nil)
		}
		l[idx] = put(l[idx], path[1:], v)
		return l
	}
	m, ok := cur.(map[string]any)
	if !ok {
		if cur != nil {
			return cur
		}
		m = map[string]any{}
	}
	m[p] = put(m[p], path[1:], v)
	return m
}

// FuzzCompileEval checks that Compile never panics and reports every error as a
// *SyntaxError at a position inside the source; that a compiled expression
// round-trips through String and through its canonical form (same tree, same result
// in every env); that Eval never panics; that Keys read back as themselves; that every
// Equality holds whenever the expression is true; and that NOT negates. The seed
// corpus is in testdata/fuzz/FuzzCompileEval.
func FuzzCompileEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(checkCompileEval)
}

// checkCompileEval is the body of FuzzCompileEval.
func checkCompileEval(t *testing.T, src string) {
	e, err := Compile(src)
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Fatalf("Compile(%q): error %v (%T) is not a *SyntaxError", src, err, err)
		}
		if se.Pos < 0 || se.Pos > len(src) {
			t.Fatalf("Compile(%q): position %d outside the source", src, se.Pos)
		}
		if e != nil {
			t.Fatalf("Compile(%q): an Expr with an error", src)
		}
		return
	}
	if e.String() != src {
		t.Fatalf("String() = %q, want %q", e.String(), src)
	}
	if _, err := Compile(e.String()); err != nil {
		t.Fatalf("Compile(String()) of %q: %v", src, err)
	}

	canon := canonical(e.root)
	var c *Expr
	if len(canon) <= MaxSourceLen {
		c, err = Compile(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not compile: %v", canon, src, err)
		}
		if again := canonical(c.root); again != canon {
			t.Fatalf("canonical form not stable: %q then %q", canon, again)
		}
	}
	neg, _ := Compile("NOT (" + src + ")")

	for _, k := range e.Keys() {
		ks := MustCompile(k.String() + " == null").Keys()
		if len(ks) != 1 || ks[0].String() != k.String() || ks[0].Root != k.Root {
			t.Fatalf("key %q of %q reads back as %v", k.String(), src, ks)
		}
	}
	eqs := e.Equalities()

	for _, env := range fuzzEnvs(src, e) {
		got := e.root.eval(env) // no recover: a panic fails the fuzz test
		if c != nil && c.root.eval(env) != got {
			t.Fatalf("%q and its canonical form %q disagree in %v", src, canon, env)
		}
		if neg != nil && neg.root.eval(env) == got {
			t.Fatalf("NOT (%s) == %s in %v", src, src, env)
		}
		if !got {
			continue
		}
		for _, q := range eqs {
			v := toValue(q.Value)
			cond := &cmpNode{op: opEq, l: operand{isKey: true, key: keyRefOf(q.Root, q.Path)}, r: operand{lit: v}}
			if !cond.eval(env) {
				t.Fatalf("%q is true but its equality %v does not hold in %v", src, q, env)
			}
		}
	}
}

// keyRefOf rebuilds a keyRef from a Key's parts.
func keyRefOf(root string, path []string) keyRef {
	src := Key{Root: root, Path: path}.String()
	return MustCompile(src).root.(*truthNode).x.key
}
