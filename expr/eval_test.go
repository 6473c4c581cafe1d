package expr

import (
	"encoding/json"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// labels mimics events.Labels: a named map type, reached through reflect.
type labels map[string]any

// tier is a named string type.
type tier string

func testTask() map[string]any {
	return map[string]any{
		"type":       "Sales",
		"subSection": "billing",
		"language":   "en",
		"priority":   float64(5),
		"ratio":      0.5,
		"vip":        true,
		"title":      "Refund request",
		"count":      "3",
		"nothing":    nil,
		"tags":       []any{"urgent", "billing", float64(3)},
		"items": []any{
			map[string]any{"name": "phone", "qty": float64(2)},
			map[string]any{"name": "case", "qty": float64(1)},
		},
		"customer": map[string]any{"tier": "gold", "age": float64(42)},
		"nan":      math.NaN(),
	}
}

func testWorker() map[string]any {
	return map[string]any{
		"skills":              []any{"support", "sales"},
		"specializedSubField": "billing",
		"level":               float64(3),
		"available":           true,
		"busy":                false,
		"languages":           []any{"en", "de"},
		"customer":            map[string]any{"age": float64(42), "tier": "gold"},
		"name":                "Ada",
	}
}

type evalCase struct {
	src  string
	want bool
}

func runEval(t *testing.T, env Env, tests []evalCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Compile(tt.src)
			require.NoError(t, err)
			require.Equal(t, tt.want, e.Eval(env))
			// The canonical form means the same thing.
			c, err := Compile(canonical(e.root))
			require.NoError(t, err)
			require.Equal(t, tt.want, c.Eval(env), "canonical form %q", canonical(e.root))
		})
	}
}

func taskEnv() Env {
	return Env{Roots: map[string]any{RootTask: testTask(), RootWorker: testWorker()}, Default: RootTask}
}

func TestEvalRoutingExamples(t *testing.T) {
	t.Parallel()
	runEval(t, taskEnv(), []evalCase{
		{`type == 'Sales'`, true},
		{`type == 'sales'`, false},
		{`task.subSection = worker.specializedSubField`, true},
		{`worker.skills HAS 'support'`, true},
		{`worker.skills HAS 'billing'`, false},
		{`task.language IN ['en','fr']`, true},
		{`task.language IN ['de','fr']`, false},
	})
}

func TestEvalOperators(t *testing.T) {
	t.Parallel()
	runEval(t, taskEnv(), []evalCase{
		// == and =
		{`type == 'Sales'`, true},
		{`type = 'Sales'`, true},
		{`'Sales' == type`, true},
		{`priority == 5`, true},
		{`priority == 5.0`, true},
		{`priority = 5.5`, false},
		{`ratio == 0.5`, true},
		{`vip == true`, true},
		{`vip == false`, false},
		{`vip == 'true'`, false},
		{`count == 3`, false},  // no coercion: a numeric string is not a number
		{`count == '3'`, true}, //
		{`priority == '5'`, false},
		{`tags == ['urgent', 'billing', 3]`, true},
		{`tags == ['urgent', 'billing']`, false},
		{`tags == ['billing', 'urgent', 3]`, false},
		{`customer == worker.customer`, true},
		{`customer == worker.skills`, false},
		{`items[0] == items[1]`, false},
		{`items[0] == items[0]`, true},
		{`nan == nan`, false},
		// !=
		{`type != 'Sales'`, false},
		{`type != 'Support'`, true},
		{`priority != 5`, false},
		{`priority != 6`, true},
		{`priority != '5'`, true}, // different kinds
		{`vip != false`, true},
		{`tags != ['urgent']`, true},
		{`nan != nan`, true},
		// ordering: numbers
		{`priority < 6`, true},
		{`priority < 5`, false},
		{`priority > 4`, true},
		{`priority > 5`, false},
		{`priority <= 5`, true},
		{`priority <= 4.99`, false},
		{`priority >= 5`, true},
		{`priority >= 5.01`, false},
		{`priority > -10`, true},
		{`-1 < priority`, true},
		{`ratio < 1`, true},
		// ordering: strings, lexically
		{`type < 'Sb'`, true},
		{`type > 'Sales'`, false},
		{`type >= 'Sales'`, true},
		{`type <= 'Sale'`, false},
		{`'B' < 'a'`, true}, // byte-wise
		// ordering: other kinds are false
		{`vip > false`, false},
		{`vip >= true`, false},
		{`vip <= true`, false},
		{`count < 4`, false},
		{`priority < '6'`, false},
		{`tags < ['z']`, false},
		{`nan < 1`, false},
		{`nan >= 1`, false},
		// CONTAINS
		{`title CONTAINS 'fund'`, true},
		{`title CONTAINS 'Refund request'`, true},
		{`title CONTAINS ''`, true},
		{`title CONTAINS 'FUND'`, false}, // case-sensitive
		{`title CONTAINS 3`, false},
		{`tags CONTAINS 'urgent'`, true},
		{`tags CONTAINS 3`, true},
		{`tags CONTAINS 'urg'`, true},     // a string element with the substring
		{`tags CONTAINS 'URG'`, false},    // case-sensitive in lists too
		{`tags HAS 'urg'`, false},         // HAS wants a whole element
		{`items CONTAINS 'phone'`, false}, // objects in the list are not strings
		{`priority CONTAINS 5`, false},
		{`customer CONTAINS 'gold'`, false},
		// HAS
		{`tags HAS 'billing'`, true},
		{`tags HAS 3`, true},
		{`tags HAS '3'`, false},
		{`tags HAS 'nope'`, false},
		{`title HAS 'fund'`, false}, // the left must be a list
		{`worker.languages HAS task.language`, true},
		// IN
		{`language IN ['en', 'fr']`, true},
		{`language IN ["fr", "de"]`, false},
		{`language IN []`, false},
		{`priority IN [1, 5]`, true},
		{`priority IN ['5']`, false},
		{`language IN worker.languages`, true},
		{`'de' IN worker.languages`, true},
		{`language IN worker.name`, false}, // the right must be a list
		{`language IN title`, false},
		// NOT IN
		{`language NOT IN ['fr', 'de']`, true},
		{`language NOT IN ['en', 'fr']`, false},
		{`language NOT IN []`, true},
		{`language NOT IN worker.languages`, false},
		{`'fr' NOT IN worker.languages`, true},
		{`language NOT IN worker.name`, false},    // the right is not a list
		{`language NOT IN worker.missing`, false}, // the right is null
		{`missing NOT IN ['en']`, false},          // the left is null
		// AND, OR, NOT
		{`type == 'Sales' AND vip`, true},
		{`type == 'Sales' AND NOT vip`, false},
		{`type == 'Nope' OR vip`, true},
		{`type == 'Nope' OR NOT vip`, false},
		{`NOT type == 'Nope'`, true},
		{`NOT NOT type == 'Sales'`, true},
	})
}

func TestEvalNull(t *testing.T) {
	t.Parallel()
	runEval(t, taskEnv(), []evalCase{
		{`missing == null`, true},
		{`null == missing`, true},
		{`nothing == null`, true}, // JSON null
		{`type == null`, false},
		{`missing != null`, false},
		{`nothing != null`, false},
		{`type != null`, true},
		{`null != type`, true},
		{`null == null`, true},
		{`null != null`, false},
		{`customer.missing.deeper == null`, true},
		{`items[9] == null`, true},
		// every other comparison with null is false, != included
		{`missing == 'x'`, false},
		{`missing != 'x'`, false},
		{`nothing != 'x'`, false},
		{`missing == missing2`, false},
		{`missing != missing2`, false},
		{`missing < 1`, false},
		{`missing > 1`, false},
		{`missing <= 1`, false},
		{`missing >= 1`, false},
		{`1 < missing`, false},
		{`missing CONTAINS 'x'`, false},
		{`missing HAS 'x'`, false},
		{`missing IN ['x']`, false},
		{`missing IN [null]`, false},
		{`missing NOT IN ['x']`, false},
		{`'x' IN missing`, false},
		{`'x' NOT IN missing`, false},
		{`tags HAS missing`, false},
		{`tags CONTAINS null`, false},
		{`type < null`, false},
		{`type IN null`, false},
		{`type NOT IN null`, false},
		{`null IN [null]`, false},
		{`null CONTAINS null`, false},
		// NOT turns a false comparison with null into true
		{`NOT missing == 'x'`, true},
		{`NOT missing != 'x'`, true},
	})
}

func TestEvalBareConditions(t *testing.T) {
	t.Parallel()
	runEval(t, taskEnv(), []evalCase{
		{`true`, true},
		{`false`, false},
		{`NOT false`, true},
		{`vip`, true},
		{`worker.available`, true},
		{`worker.busy`, false},
		{`NOT worker.busy`, true},
		{`missing`, false},
		{`NOT missing`, true},
		{`type`, false}, // a string is not true
		{`priority`, false},
		{`tags`, false},
	})
}

func TestEvalPrecedence(t *testing.T) {
	t.Parallel()
	// T is true, F is false in this env.
	env := Env{Roots: map[string]any{"r": map[string]any{"T": true, "F": false, "n": float64(1)}}, Default: "r"}
	runEval(t, env, []evalCase{
		// AND binds tighter than OR
		{`T OR T AND F`, true}, // T OR (T AND F)
		{`(T OR T) AND F`, false},
		{`F AND T OR T`, true}, // (F AND T) OR T
		{`F AND (T OR T)`, false},
		{`F OR F AND T OR T`, true},
		// NOT binds tighter than AND and OR
		{`NOT T AND F`, false}, // (NOT T) AND F
		{`NOT (T AND F)`, true},
		{`NOT F OR T`, true},
		{`NOT T OR F`, false}, // (NOT T) OR F
		{`NOT (T OR F)`, false},
		// NOT negates the whole comparison after it
		{`NOT n == 1`, false},
		{`NOT n == 2`, true},
		{`NOT n == 2 AND n == 1`, true},   // (NOT n == 2) AND n == 1
		{`NOT (n == 2 AND n == 1)`, true}, //
		{`NOT n == 1 OR n == 1`, true},    // (NOT n == 1) OR n == 1
		{`NOT (n == 1 OR n == 1)`, false},
		// comparisons bind tighter than AND and OR
		{`n == 1 AND n != 2 OR n > 5`, true},
		{`n > 5 OR n < 0 AND n == 1`, false},
		// keywords in any case behave the same
		{`F or T and T`, true},
		{`not T Or F`, false},
	})
}

func TestEvalScopes(t *testing.T) {
	t.Parallel()
	task := map[string]any{"subSection": "billing", "language": "en", "queue": map[string]any{"name": "inner"}}
	worker := map[string]any{"specializedSubField": "billing", "language": "fr", "skills": []any{"support"}}
	queue := map[string]any{"name": "support-q"}

	workerDefault := Env{Roots: map[string]any{RootTask: task, RootWorker: worker}, Default: RootWorker}
	runEval(t, workerDefault, []evalCase{
		{`language == 'fr'`, true}, // the worker's
		{`task.language == 'en'`, true},
		{`worker.language == 'fr'`, true},
		{`skills HAS 'support'`, true},
		{`task.subSection = specializedSubField`, true},
		{`task.subSection = worker.specializedSubField`, true},
		{`subSection == null`, true}, // not on the worker
	})

	taskDefault := Env{Roots: map[string]any{RootTask: task, RootWorker: worker}, Default: RootTask}
	runEval(t, taskDefault, []evalCase{
		{`language == 'en'`, true},
		{`subSection = worker.specializedSubField`, true},
		{`queue.name == 'inner'`, true}, // no "queue" root: the task's attribute
	})

	withQueue := Env{Roots: map[string]any{RootTask: task, RootWorker: worker, "queue": queue}, Default: RootTask}
	runEval(t, withQueue, []evalCase{
		{`queue.name == 'support-q'`, true}, // an extra root the caller gave
		{`task.queue.name == 'inner'`, true},
	})

	noDefault := Env{Roots: map[string]any{RootTask: task}}
	runEval(t, noDefault, []evalCase{
		{`language == null`, true},
		{`task.language == 'en'`, true},
		{`worker.language == null`, true}, // no worker root at all
	})

	runEval(t, Env{}, []evalCase{
		{`a == null`, true},
		{`task.a == null`, true},
		{`a != 1`, false},
	})
}

func TestEvalPaths(t *testing.T) {
	t.Parallel()
	runEval(t, taskEnv(), []evalCase{
		{`items[0].name == 'phone'`, true},
		{`task.items[1].qty == 1`, true},
		{`items[2].name == null`, true}, // out of range
		{`tags[0] == 'urgent'`, true},
		{`tags[2] == 3`, true},
		{`customer.tier == 'gold'`, true},
		{`customer.age >= 18`, true},
		{`customer[0] == null`, true}, // an index into a map
		{`tags.x == null`, true},      // a name into a list
		{`type.x == null`, true},      // a name into a string
		{`type[0] == null`, true},     // an index into a string
		{`nothing.x == null`, true},
	})
}

func TestEvalGoTypes(t *testing.T) {
	t.Parallel()
	type skill string
	n := 7
	task := labels{
		"int":      3,
		"int64":    int64(-4),
		"int8":     int8(5),
		"uint8":    uint8(6),
		"uint64":   uint64(1 << 40),
		"float32":  float32(0.5),
		"jsonNum":  json.Number("12.5"),
		"badNum":   json.Number("x"),
		"tier":     tier("gold"),
		"strs":     []string{"a", "b"},
		"skills":   []skill{"support"},
		"ints":     []int{1, 2, 3},
		"array":    [2]string{"x", "y"},
		"smap":     map[string]string{"k": "v"},
		"nested":   labels{"deep": labels{"x": 1}},
		"ptr":      &n,
		"nilPtr":   (*int)(nil),
		"mapPtr":   &map[string]any{"x": "y"},
		"anyKeys":  map[any]any{"k": "v"},
		"intKeys":  map[int]string{1: "one"},
		"tierKeys": map[tier]int{"gold": 1},
		"struct":   struct{ A int }{1},
		"typedNil": []any(nil),
		"named":    labels{"a": float64(1)},
		"copy":     map[string]any{"a": 1},
	}
	env := Env{Roots: map[string]any{RootTask: task}, Default: RootTask}
	runEval(t, env, []evalCase{
		{`int == 3`, true},
		{`int > 2.5`, true},
		{`int64 == -4`, true},
		{`int8 == 5`, true},
		{`uint8 == 6`, true},
		{`uint64 == 1099511627776`, true},
		{`float32 == 0.5`, true},
		{`jsonNum == 12.5`, true},
		{`jsonNum > 12`, true},
		{`badNum == 'x'`, false},
		{`badNum != null`, true},
		{`tier == 'gold'`, true},
		{`tier IN ['gold', 'silver']`, true},
		{`strs HAS 'b'`, true},
		{`strs[1] == 'b'`, true},
		{`strs == ['a', 'b']`, true},
		{`skills HAS 'support'`, true},
		{`skills[0] == 'support'`, true},
		{`ints HAS 2`, true},
		{`ints[2] == 3`, true},
		{`ints == [1, 2, 3]`, true},
		{`array HAS 'y'`, true},
		{`array[1] == 'y'`, true},
		{`smap.k == 'v'`, true},
		{`smap.nope == null`, true},
		{`nested.deep.x == 1`, true},
		{`ptr == 7`, true},
		{`nilPtr == null`, true},
		{`mapPtr.x == 'y'`, true},
		{`anyKeys.k == 'v'`, true},
		{`intKeys.k == null`, true},
		{`tierKeys.gold == 1`, true},
		{`struct == null`, false},
		{`struct != 1`, true},
		{`struct == 1`, false},
		{`struct == struct`, false}, // structs are equal to nothing
		{`struct.A == null`, true},
		{`typedNil == []`, true},
		{`named == copy`, true}, // objects of different Go types, equal entries
		{`smap == copy`, false},
	})
	// A named root map type (events.Labels-like) works as a root directly.
	runEval(t, Env{Roots: map[string]any{RootWorker: labels{"level": 3}}, Default: RootWorker}, []evalCase{
		{`level == 3`, true},
		{`worker.level >= 3`, true},
	})
	// And so does map[string]string.
	runEval(t, Env{Roots: map[string]any{RootWorker: map[string]string{"team": "red"}}, Default: RootWorker}, []evalCase{
		{`team == 'red'`, true},
		{`team CONTAINS 'e'`, true},
	})
}

func TestEvalCyclicDataDoesNotHang(t *testing.T) {
	t.Parallel()
	a := []any{nil}
	a[0] = a // a list that contains itself
	m := map[string]any{}
	m["self"] = m
	var p any
	p = &p // a pointer cycle
	env := Env{Roots: map[string]any{"r": map[string]any{"a": a, "b": a, "m": m, "n": m, "p": p}}, Default: "r"}
	runEval(t, env, []evalCase{
		{`a == b`, false}, // gives up past maxEqualDepth
		{`m == n`, false},
		{`m.self.self.self.self == m`, false},
		{`a[0][0][0] HAS 1`, false},
		{`p == null`, true},
		{`p.x == null`, true},
	})
}

func TestEvalNilExpr(t *testing.T) {
	t.Parallel()
	var e *Expr
	require.False(t, e.Eval(taskEnv()))
	require.Equal(t, "", e.String())
	require.Nil(t, e.Keys())
	require.Nil(t, e.Equalities())
	require.False(t, (&Expr{}).Eval(taskEnv()))
}

func TestEvalConcurrent(t *testing.T) {
	t.Parallel()
	e := MustCompile(`task.subSection = worker.specializedSubField AND worker.skills HAS 'support' AND task.language IN ['en', 'fr']`)
	env := taskEnv()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if !e.Eval(env) {
					t.Error("Eval was false")
					return
				}
			}
		})
	}
	wg.Wait()
}
