package expr

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTaskRouterDocExamples evaluates the examples of TaskRouter's expression
// documentation against attributes decoded from JSON, as a job's or a worker's labels
// are: the attributes document it resolves keys in, its operator examples, and the
// usual queue and workflow expressions.
func TestTaskRouterDocExamples(t *testing.T) {
	t.Parallel()
	var task, worker map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
		"string_const": "foo",
		"object": {"array": ["a", "b", "c"], "attr": "bar", "param": "pear"},
		"customer_value": "Gold",
		"type": "ticket",
		"language": "en",
		"key": 2,
		"condition_a": false,
		"condition_b": true,
		"skill_rating": 6,
		"name": "Alice Smith",
		"customer": {"tier": "gold"}
	}`), &task))
	require.NoError(t, json.Unmarshal([]byte(`{
		"skills": ["support", "sales"],
		"languages": ["english", "french"],
		"language": ["en", "fr"],
		"finance": {"level": 10},
		"skill_levels": {"finance": 10, "support": 4}
	}`), &worker))
	env := Env{Roots: map[string]any{RootTask: task, RootWorker: worker}, Default: RootTask}
	runEval(t, env, []evalCase{
		// Keys resolve into the JSON document: dots for sub-objects, [n] for elements.
		{`string_const == 'foo'`, true},
		{`object.array == ['a', 'b', 'c']`, true},
		{`object.array[2] == 'c'`, true},
		{`object.attr == 'bar'`, true},
		{`object.missing == null`, true},
		// The documentation's expression examples.
		{`1 == 1`, true},
		{`0 != 1`, true},
		{`"apple" != "orange"`, true},
		{`key > 1`, true},
		{`object.param != "apple"`, true},
		{`language IN ["en", "es"]`, true},
		{`(condition_a == true) OR (condition_b == true)`, true},
		{`(language == "en" OR language == "fr") AND skill_rating >= 5.1`, true},
		{`customer_value == 'Gold' AND type == 'ticket'`, true},
		// The usual queue expression, evaluated on a worker.
		{`(worker.skills HAS 'support') AND (worker.languages HAS 'english')`, true},
		{`(worker.skills HAS 'support') AND (worker.languages HAS 'german')`, false},
		// HAS: an array on the left holds the value on the right.
		{`worker.skills HAS "support"`, true},
		{`worker.skills HAS "supp"`, false},
		{`string_const HAS "foo"`, false}, // not an array
		// CONTAINS: a substring of a string, or of a string element of an array.
		{`name CONTAINS "Alice"`, true},
		{`name CONTAINS "alice"`, false},
		{`worker.skills CONTAINS "port"`, true},
		{`worker.skills CONTAINS "billing"`, false},
		// IN: the left value is one of the right-hand list; a left array when any
		// of its elements is.
		{`language IN ['en', 'fr']`, true},
		{`language IN ['de']`, false},
		{`worker.language IN ['fr', 'es']`, true},
		{`worker.language IN ['de', 'es']`, false},
		{`'support' IN worker.skills`, true},
		// NOT IN: the negation of IN, for a present left and a list on the right.
		{`language NOT IN ['de']`, true},
		{`worker.language NOT IN ['fr', 'es']`, false},
		{`worker.language NOT IN ['de', 'es']`, true},
		{`missing NOT IN ['de']`, false}, // comparisons on a missing attribute are false
		// Nested attributes, with and without the root.
		{`worker.skill_levels.finance > 5`, true},
		{`worker.skill_levels.support > 5`, false},
		{`worker.finance.level == 10`, true},
		{`task.customer.tier == "gold"`, true},
		{`customer.tier == "gold"`, true},
		// == and != on arrays compare whole arrays, in order.
		{`worker.skills == ['support', 'sales']`, true},
		{`worker.skills == ['sales', 'support']`, false},
		{`worker.skills != ['sales']`, true},
		{`worker.skills == 'support'`, false}, // an array is never equal to a scalar
		{`worker.skills != 'support'`, true},
		// Comparisons on missing attributes are false.
		{`worker.skill_levels.legal > 5`, false},
		{`worker.skill_levels.legal <= 5`, false},
		{`worker.nothing HAS 'x'`, false},
	})
}

// TestFlatDottedKeys: a label whose key holds dots (a flat label from before labels
// could nest) is found by the dotted key, and wins over a nested path of the same
// name; without it the nested path is walked.
func TestFlatDottedKeys(t *testing.T) {
	t.Parallel()
	worker := map[string]any{
		"skills.finance": float64(10),                                                  // flat
		"skills":         map[string]any{"finance": float64(2), "support": float64(7)}, // nested
		"a.b":            []any{"x", "y"},
		"queue.name":     "flat",
	}
	env := Env{Roots: map[string]any{
		RootWorker: worker,
		"queue":    map[string]any{"name": "q1"},
	}, Default: RootWorker}
	runEval(t, env, []evalCase{
		{`worker.skills.finance == 10`, true}, // the flat label wins
		{`skills.finance == 10`, true},
		{`worker.skills.support == 7`, true}, // no flat label: nested
		{`a.b[1] == 'y'`, true},              // the names before an index
		{`a.b HAS 'x'`, true},
		{`queue.name == 'q1'`, true}, // an extra root of the Env comes first
	})
	// A null flat label does not hide the nested value.
	worker2 := map[string]any{"skills.finance": nil, "skills": map[string]any{"finance": float64(2)}}
	require.True(t, MustCompile(`skills.finance == 2`).Eval(Env{Roots: map[string]any{RootWorker: worker2}, Default: RootWorker}))
}

// TestInNotInNegation: for a present left value and a list on the right, NOT IN is
// exactly the negation of IN; with a null on either side, or a right side that is not
// a list, both are false.
func TestInNotInNegation(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	scalars := []any{"en", "fr", "de", float64(1), float64(2), true, false}
	randScalar := func() any { return scalars[rng.IntN(len(scalars))] }
	randList := func() []any {
		l := make([]any, rng.IntN(4))
		for i := range l {
			l[i] = randScalar()
		}
		return l
	}
	randValue := func() any {
		switch rng.IntN(5) {
		case 0:
			return nil
		case 1, 2:
			return randList()
		}
		return randScalar()
	}
	in, notIn := MustCompile(`l IN r`), MustCompile(`l NOT IN r`)
	for i := range 5000 {
		l, r := randValue(), randValue()
		env := Env{Roots: map[string]any{RootTask: map[string]any{"l": l, "r": r}}, Default: RootTask}
		a, b := in.Eval(env), notIn.Eval(env)
		_, rList := r.([]any)
		msg := fmt.Sprintf("case %d: l=%v r=%v", i, l, r)
		if l == nil || !rList {
			require.False(t, a, msg)
			require.False(t, b, msg)
			continue
		}
		require.NotEqual(t, a, b, msg)
		// IN means: l, or an element of l when it is a list, is an element of r.
		want := false
		cands := []any{l}
		if ll, ok := l.([]any); ok {
			cands = ll
		}
		for _, c := range cands {
			for _, e := range r.([]any) {
				want = want || c == e
			}
		}
		require.Equal(t, want, a, msg)
	}
}
