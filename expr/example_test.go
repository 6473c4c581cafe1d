package expr_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/patchbay/patchbay/expr"
)

func Example() {
	// A queue's target-workers expression: bare keys are the worker's.
	target := expr.MustCompile(`task.subSection = worker.specializedSubField AND skills HAS 'support'`)

	var task, ada, bob map[string]any
	_ = json.Unmarshal([]byte(`{"type": "Sales", "subSection": "billing"}`), &task)
	_ = json.Unmarshal([]byte(`{"specializedSubField": "billing", "skills": ["support", "sales"]}`), &ada)
	_ = json.Unmarshal([]byte(`{"specializedSubField": "shipping", "skills": ["support"]}`), &bob)

	for name, w := range map[string]map[string]any{"ada": ada, "bob": bob} {
		env := expr.Env{Roots: map[string]any{expr.RootTask: task, expr.RootWorker: w}, Default: expr.RootWorker}
		if target.Eval(env) {
			fmt.Println(name, "is eligible")
		}
	}
	// Output: ada is eligible
}

func ExampleCompile() {
	_, err := expr.Compile(`task.type ==`)
	var se *expr.SyntaxError
	fmt.Println(errors.Is(err, expr.ErrSyntax), errors.As(err, &se), se.Pos)
	fmt.Println(err)
	// Output:
	// true true 12
	// expr: position 12: expected a value after "=="
}

func ExampleExpr_Eval_null() {
	env := expr.Env{Roots: map[string]any{"task": map[string]any{"type": "Sales"}}, Default: "task"}
	for _, src := range []string{`language != 'en'`, `language == null`, `type != null`} {
		fmt.Printf("%-18s %v\n", src, expr.MustCompile(src).Eval(env))
	}
	// Output:
	// language != 'en'   false
	// language == null   true
	// type != null       true
}

func ExampleExpr_Equalities() {
	e := expr.MustCompile(`worker.team == 'red' AND level >= 3 AND region = 'eu'`)
	for _, q := range e.Equalities() {
		fmt.Printf("%q %v %v\n", q.Root, q.Path, q.Value)
	}
	// Output:
	// "worker" [team] red
	// "" [region] eu
}
