package expr

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want []Key
	}{
		{`type == 'Sales'`, []Key{{Root: "", Path: []string{"type"}}}},
		{`task.subSection = worker.specializedSubField`, []Key{
			{Root: RootTask, Path: []string{"subSection"}},
			{Root: RootWorker, Path: []string{"specializedSubField"}},
		}},
		{`task.items[2].name == 'x' OR NOT skills[0] IN worker.langs`, []Key{
			{Root: RootTask, Path: []string{"items", "[2]", "name"}},
			{Root: "", Path: []string{"skills", "[0]"}},
			{Root: RootWorker, Path: []string{"langs"}},
		}},
		{`a == 1 AND a == 2 AND task.a == 3 AND b`, []Key{ // once each
			{Root: "", Path: []string{"a"}},
			{Root: RootTask, Path: []string{"a"}},
			{Root: "", Path: []string{"b"}},
		}},
		{`task == 1 AND task[0] == 1 AND queue.name == 'q'`, []Key{ // not root prefixes
			{Root: "", Path: []string{"task"}},
			{Root: "", Path: []string{"task", "[0]"}},
			{Root: "", Path: []string{"queue", "name"}},
		}},
		{`1 == 1`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e := MustCompile(tt.src)
			require.Equal(t, tt.want, e.Keys())
		})
	}
}

func TestKeyString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "task.items[2].name", Key{Root: RootTask, Path: []string{"items", "[2]", "name"}}.String())
	require.Equal(t, "skills[0]", Key{Path: []string{"skills", "[0]"}}.String())
	require.Equal(t, "a.b", Key{Path: []string{"a", "b"}}.String())
	// Every key reads back as itself.
	for _, k := range MustCompile(`task.items[2].name == 1 AND skills[0][1] == 2 AND worker.x.y == 3`).Keys() {
		e := MustCompile(k.String() + " == null")
		require.Equal(t, []Key{k}, e.Keys())
	}
}

func TestEqualities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src  string
		want []Equality
	}{
		{`type == 'Sales'`, []Equality{{Path: []string{"type"}, Value: "Sales"}}},
		{`'Sales' = type`, []Equality{{Path: []string{"type"}, Value: "Sales"}}},
		{`worker.team == 'red' AND level >= 3 AND worker.senior = true AND tier == 2`, []Equality{
			{Root: RootWorker, Path: []string{"team"}, Value: "red"},
			{Root: RootWorker, Path: []string{"senior"}, Value: true},
			{Path: []string{"tier"}, Value: float64(2)},
		}},
		{`(a == 'x' AND (b == 'y' AND c.d[1] == 'z')) AND e != 'w'`, []Equality{ // nested ANDs
			{Path: []string{"a"}, Value: "x"},
			{Path: []string{"b"}, Value: "y"},
			{Path: []string{"c", "d", "[1]"}, Value: "z"},
		}},
		{`worker.available AND NOT worker.busy`, []Equality{ // a bare key is key == true
			{Root: RootWorker, Path: []string{"available"}, Value: true},
		}},
		{`a == 'x' OR b == 'y'`, nil}, // top is OR
		{`NOT a == 'x'`, nil},         // top is NOT
		{`a == 'x' AND (b == 'y' OR c == 'z')`, []Equality{{Path: []string{"a"}, Value: "x"}}},
		{`a == null AND b == [1] AND c == d AND 1 == 1 AND true`, nil}, // not key == scalar literal
		{`a IN ['x'] AND a HAS 'x' AND a CONTAINS 'x'`, nil},
		{`task.subSection = worker.specializedSubField`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			require.Equal(t, tt.want, MustCompile(tt.src).Equalities())
		})
	}
}

func TestEqualitiesHoldWheneverTrue(t *testing.T) {
	t.Parallel()
	// Each Equality must hold in any env where the expression is true.
	e := MustCompile(`worker.team == 'red' AND (level > 2 OR vip) AND worker.region = 'eu'`)
	env := Env{Roots: map[string]any{RootWorker: map[string]any{"team": "red", "level": float64(3), "region": "eu"}}, Default: RootWorker}
	require.True(t, e.Eval(env))
	require.NotEmpty(t, e.Equalities())
	for _, q := range e.Equalities() {
		var lit strings.Builder
		literalString(&lit, toValue(q.Value))
		cond := Key{Root: q.Root, Path: q.Path}.String() + " == " + lit.String()
		require.True(t, MustCompile(cond).Eval(env), cond)
	}
}

func TestKeysAndEqualitiesAreCopies(t *testing.T) {
	t.Parallel()
	e := MustCompile(`worker.team == 'red'`)
	k := e.Keys()
	k[0].Path[0] = "changed"
	q := e.Equalities()
	q[0].Path[0] = "changed"
	q[0].Value = "blue"
	require.Equal(t, []string{"team"}, e.Keys()[0].Path)
	require.Equal(t, Equality{Root: RootWorker, Path: []string{"team"}, Value: "red"}, e.Equalities()[0])
}
