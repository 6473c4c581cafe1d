package matcher

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func TestMatches(t *testing.T) {
	labels := events.Labels{
		"level":  float64(5), // as decoded from JSON
		"years":  3,          // as built in Go
		"ratio":  float32(0.5),
		"lang":   "fr",
		"tier":   "gold",
		"vip":    true,
		"remote": false,
		"empty":  "",
		"nil":    nil,
		"id":     "not-the-worker-id",
	}
	const (
		eq = events.OpEqual
		ne = events.OpNotEqual
		lt = events.OpLessThan
		le = events.OpLessThanOrEqual
		gt = events.OpGreaterThan
		ge = events.OpGreaterThanOrEqual
	)
	tests := []struct {
		key  string
		op   string
		val  any
		want bool
	}{
		// numbers, every operator, below / equal / above
		{"level", eq, float64(5), true},
		{"level", eq, 5, true},
		{"level", eq, int64(5), true},
		{"level", eq, 4.999, false},
		{"level", ne, float64(5), false},
		{"level", ne, float64(6), true},
		{"level", lt, float64(6), true},
		{"level", lt, float64(5), false},
		{"level", lt, float64(4), false},
		{"level", le, float64(5), true},
		{"level", le, float64(6), true},
		{"level", le, float64(4), false},
		{"level", gt, float64(4), true},
		{"level", gt, float64(5), false},
		{"level", gt, float64(6), false},
		{"level", ge, float64(5), true},
		{"level", ge, float64(4), true},
		{"level", ge, float64(6), false},
		{"level", gt, -1, true},
		{"years", eq, float64(3), true},
		{"years", lt, 3.5, true},
		{"years", ge, uint(3), true},
		{"ratio", eq, 0.5, true},
		{"ratio", lt, 0.75, true},
		// strings: equality and lexical order
		{"lang", eq, "fr", true},
		{"lang", eq, "FR", false},
		{"lang", ne, "fr", false},
		{"lang", ne, "en", true},
		{"lang", lt, "ga", true},
		{"lang", lt, "fr", false},
		{"lang", le, "fr", true},
		{"lang", gt, "en", true},
		{"lang", gt, "fr", false},
		{"lang", ge, "fr", true},
		{"lang", ge, "zz", false},
		{"tier", gt, "bronze", true},
		{"empty", eq, "", true},
		{"empty", lt, "a", true},
		// booleans: equal / notEqual only
		{"vip", eq, true, true},
		{"vip", eq, false, false},
		{"vip", ne, false, true},
		{"vip", ne, true, false},
		{"remote", eq, false, true},
		{"remote", ne, true, true},
		{"vip", lt, false, false},
		{"vip", le, true, false},
		{"vip", gt, false, false},
		{"vip", ge, true, false},
		{"remote", lt, true, false},
		// kinds differ: never equal, so only notEqual holds
		{"level", eq, "5", false},
		{"level", ne, "5", true},
		{"level", lt, "6", false},
		{"level", ge, "1", false},
		{"lang", eq, 1, false},
		{"lang", gt, 1, false},
		{"vip", eq, 1, false},
		{"vip", eq, "true", false},
		{"vip", ne, "true", true},
		{"level", eq, true, false},
		// a missing (or null) label satisfies no operator, notEqual included
		{"missing", eq, "x", false},
		{"missing", ne, "x", false},
		{"missing", lt, float64(1), false},
		{"missing", le, float64(1), false},
		{"missing", gt, float64(1), false},
		{"missing", ge, float64(1), false},
		{"missing", ne, false, false},
		{"nil", eq, "x", false},
		{"nil", ne, "x", false},
		// the implicit id label is the worker id, whatever the labels say
		{"id", eq, "w-7", true},
		{"id", eq, "not-the-worker-id", false},
		{"id", ne, "w-8", true},
		{"id", ne, "w-7", false},
		{"id", lt, "w-8", true},
		{"id", gt, "w-6", true},
		{"id", eq, float64(7), false},
		// an operator that is not in the catalog matches nothing
		{"level", "like", float64(5), false},
		{"lang", "", "fr", false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s %s %v (%T)", tt.key, tt.op, tt.val, tt.val)
		t.Run(name, func(t *testing.T) {
			got := Matches(events.WorkerSelector{Key: tt.key, Operator: tt.op, Value: tt.val}, "w-7", labels)
			require.Equal(t, tt.want, got)
		})
	}
	// nil labels: only the id label exists
	require.True(t, Matches(events.WorkerSelector{Key: "id", Operator: eq, Value: "w-1"}, "w-1", nil))
	require.False(t, Matches(events.WorkerSelector{Key: "lang", Operator: ne, Value: "fr"}, "w-1", nil))
}

// Every pair of the six operators is consistent on numbers: lessThan is the negation of
// greaterThanOrEqual, and so on.
func TestMatchesOperatorsAreConsistent(t *testing.T) {
	for _, a := range []float64{-2, 0, 1.5, 3} {
		for _, b := range []float64{-2, 0, 1.5, 3} {
			m := func(op string) bool {
				return Matches(events.WorkerSelector{Key: "x", Operator: op, Value: b}, "w", events.Labels{"x": a})
			}
			require.Equal(t, a == b, m(events.OpEqual))
			require.Equal(t, a != b, m(events.OpNotEqual))
			require.Equal(t, a < b, m(events.OpLessThan))
			require.Equal(t, a <= b, m(events.OpLessThanOrEqual))
			require.Equal(t, a > b, m(events.OpGreaterThan))
			require.Equal(t, a >= b, m(events.OpGreaterThanOrEqual))
		}
	}
}

func TestValidateSelector(t *testing.T) {
	tests := []struct {
		sel       events.WorkerSelector
		wantField string
	}{
		{sel("skill", events.OpEqual, "x"), ""},
		{sel("skill", events.OpGreaterThanOrEqual, float64(3)), ""},
		{sel("vip", events.OpNotEqual, true), ""},
		{sel("", events.OpEqual, "x"), "requestedWorkerSelectors/2/key"},
		{sel("k", "equals", "x"), "requestedWorkerSelectors/2/labelOperator"},
		{sel("k", "", "x"), "requestedWorkerSelectors/2/labelOperator"},
		{sel("k", events.OpEqual, nil), "requestedWorkerSelectors/2/value"},
		{sel("k", events.OpEqual, []any{"x"}), "requestedWorkerSelectors/2/value"},
		{sel("k", events.OpEqual, map[string]any{}), "requestedWorkerSelectors/2/value"},
	}
	for _, op := range events.Operators() {
		tests = append(tests, struct {
			sel       events.WorkerSelector
			wantField string
		}{sel("k", op, float64(1)), ""})
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.sel), func(t *testing.T) {
			err := validateSelector(2, tt.sel)
			if tt.wantField == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, events.ErrInvalidData)
			var we *events.Error
			require.ErrorAs(t, err, &we)
			require.Equal(t, tt.wantField, we.Field)
		})
	}
}

func TestValidateLabels(t *testing.T) {
	require.NoError(t, validateLabels("labels", nil))
	require.NoError(t, validateLabels("labels", events.Labels{"a": "x", "b": float64(1), "c": false}))
	require.NoError(t, validateLabels("labels", events.Labels{
		"skills": []any{"support", "sales"},
		"levels": map[string]any{"finance": float64(10), "deep": []any{map[string]any{"x": []any{true}}}},
		"empty":  []any{},
	}))
	for _, tt := range []struct {
		l     events.Labels
		field string
	}{
		{events.Labels{"": "x"}, "labels/"}, // the empty key, as a JSON pointer
		{events.Labels{"a": nil}, "labels/a"},
		{events.Labels{"a": []any{"x", nil}}, "labels/a/1"},
		{events.Labels{"a": map[string]any{"": 1.0}}, "labels/a/"},
		{events.Labels{"a": []string{"x"}}, "labels/a"}, // not as decoded from JSON
		{events.Labels{"a": []any{[]any{[]any{[]any{[]any{1.0}}}}}}, "labels/a/0/0/0/0"},
	} {
		err := validateLabels("labels", tt.l)
		var we *events.Error
		require.ErrorAs(t, err, &we)
		require.Equal(t, events.CodeInvalidData, we.Code)
		require.Equal(t, tt.field, we.Field)
	}
}

// Selectors route a job only to workers that satisfy every one of them.
func TestSelectorsRouteJobs(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("en1", wLabels(events.Labels{"lang": "en", "level": float64(9)})))
	requireOK(t, h.register("fr1", wLabels(events.Labels{"lang": "fr", "level": float64(2)})))
	requireOK(t, h.register("fr2", wLabels(events.Labels{"lang": "fr", "level": float64(7), "vip": true})))
	requireOK(t, h.register("bare"))

	requireOK(t, h.create("fr-senior", "q1", jSelectors(sel("lang", events.OpEqual, "fr"), sel("level", events.OpGreaterThanOrEqual, float64(5)))))
	require.Equal(t, "fr2", h.offeredTo("fr-senior"))
	requireOK(t, h.create("not-en", "q1", jSelectors(sel("lang", events.OpNotEqual, "en"))))
	require.Equal(t, "fr1", h.offeredTo("not-en"), "bare has no lang label, so notEqual does not hold for it")
	requireOK(t, h.create("by-id", "q1", jSelectors(sel("id", events.OpEqual, "bare"))))
	require.Equal(t, "bare", h.offeredTo("by-id"))
	requireOK(t, h.create("nobody", "q1", jSelectors(sel("lang", events.OpEqual, "de"))))
	require.Equal(t, "", h.offeredTo("nobody"))
	// a worker that gains the label later is matched at once
	out := h.register("de1", wLabels(events.Labels{"lang": "de"}))
	require.Equal(t, "nobody", out.issued()[0].JobID)
}
