package matcher

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// orderT0 is the base time of the order_by tests; nothing reads the wall clock.
var orderT0 = time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)

// orderWorker builds a worker that registered at orderT0 and was last assigned idle
// minutes after it (idle < 0: never assigned). Its load ratio is 1 (no capacity) unless
// the test sets one.
func orderWorker(id string, labels events.Labels, idle int) *Worker {
	w := &Worker{Worker: events.Worker{WorkerID: id, Labels: labels, RegisteredAt: orderT0}}
	if idle >= 0 {
		at := orderT0.Add(time.Duration(idle) * time.Minute)
		w.LastAssignedAt = &at
	}
	return w
}

func orderIDs(ws []*Worker) []string {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.WorkerID
	}
	return ids
}

func mustOrderBy(t *testing.T, s string) OrderBy {
	t.Helper()
	o, err := ParseOrderBy(s)
	require.NoError(t, err)
	return o
}

// sortedIDs sorts ws with o in the given order and in the reverse order, requires both
// to give the same result, and returns the ids.
func sortedIDs(t *testing.T, o OrderBy, ws ...*Worker) []string {
	t.Helper()
	fwd := append([]*Worker{}, ws...)
	SortWorkers(o, fwd)
	rev := make([]*Worker, len(ws))
	for i, w := range ws {
		rev[len(ws)-1-i] = w
	}
	SortWorkers(o, rev)
	require.Equal(t, orderIDs(fwd), orderIDs(rev), "the result depends on the input order")
	return orderIDs(fwd)
}

func TestParseOrderBy(t *testing.T) {
	asc := func(p ...string) OrderClause { return OrderClause{Path: p} }
	desc := func(p ...string) OrderClause { return OrderClause{Path: p, Desc: true} }
	tests := []struct {
		name    string
		in      string
		want    OrderBy
		wantErr error
		wantMsg string
	}{
		{name: "empty", in: "", want: OrderBy{}},
		{name: "blank", in: " \t\n", want: OrderBy{}},
		{name: "one ASC", in: "worker.finance ASC", want: OrderBy{[]OrderClause{asc("finance")}}},
		{name: "one DESC", in: "worker.finance DESC", want: OrderBy{[]OrderClause{desc("finance")}}},
		{name: "seed example", in: "worker.finance ASC, worker.support ASC", want: OrderBy{[]OrderClause{asc("finance"), asc("support")}}},
		{name: "lower case direction", in: "worker.finance asc, worker.support desc", want: OrderBy{[]OrderClause{asc("finance"), desc("support")}}},
		{name: "mixed case direction", in: "worker.finance Asc,worker.support dEsC", want: OrderBy{[]OrderClause{asc("finance"), desc("support")}}},
		{name: "whitespace variants", in: "  worker.finance\tDESC ,worker.support   ASC  ,\n worker.level\nasc ", want: OrderBy{[]OrderClause{desc("finance"), asc("support"), asc("level")}}},
		{name: "no direction is ASC", in: "worker.finance", want: OrderBy{[]OrderClause{asc("finance")}}},
		{name: "no direction then DESC", in: "worker.a, worker.b DESC", want: OrderBy{[]OrderClause{asc("a"), desc("b")}}},
		{name: "nested", in: "worker.skills.finance DESC", want: OrderBy{[]OrderClause{desc("skills", "finance")}}},
		{name: "deeply nested", in: "worker.a.b.c ASC", want: OrderBy{[]OrderClause{asc("a", "b", "c")}}},
		{name: "same attribute twice", in: "worker.a ASC, worker.a DESC", want: OrderBy{[]OrderClause{asc("a"), desc("a")}}},

		{name: "bad direction", in: "worker.x SIDEWAYS", wantErr: events.ErrInvalidData,
			wantMsg: `orderBy: clause 1 "worker.x SIDEWAYS": direction must be ASC or DESC`},
		{name: "bad direction in clause 2", in: "worker.a ASC, worker.x SIDEWAYS", wantErr: events.ErrInvalidData,
			wantMsg: `orderBy: clause 2 "worker.x SIDEWAYS": direction must be ASC or DESC`},
		{name: "spelt out direction", in: "worker.a ASCENDING", wantErr: events.ErrInvalidData,
			wantMsg: `orderBy: clause 1 "worker.a ASCENDING": direction must be ASC or DESC`},
		{name: "no worker prefix", in: "finance ASC", wantErr: events.ErrInvalidData,
			wantMsg: `orderBy: clause 1 "finance ASC": attribute must start with "worker."`},
		{name: "task prefix", in: "worker.a ASC, task.priority DESC", wantErr: events.ErrInvalidData,
			wantMsg: `orderBy: clause 2 "task.priority DESC": attribute must start with "worker."`},
		{name: "prefix is case-sensitive", in: "Worker.finance ASC", wantErr: events.ErrInvalidData,
			wantMsg: `clause 1 "Worker.finance ASC": attribute must start with "worker."`},
		{name: "worker alone", in: "worker ASC", wantErr: events.ErrInvalidData, wantMsg: `clause 1 "worker ASC": attribute must start with "worker."`},
		{name: "no attribute", in: "worker. ASC", wantErr: events.ErrInvalidData, wantMsg: `clause 1 "worker. ASC": attribute path "" has an empty part`},
		{name: "empty path part", in: "worker.a..b ASC", wantErr: events.ErrInvalidData, wantMsg: `clause 1 "worker.a..b ASC": attribute path "a..b" has an empty part`},
		{name: "trailing dot", in: "worker.a. DESC", wantErr: events.ErrInvalidData, wantMsg: `attribute path "a." has an empty part`},
		{name: "space inside the path", in: "worker. a ASC", wantErr: events.ErrInvalidData, wantMsg: `clause 1 "worker. a ASC": want worker.<attribute> followed by ASC or DESC, got 3 words`},
		{name: "two directions", in: "worker.a ASC DESC", wantErr: events.ErrInvalidData, wantMsg: `clause 1 "worker.a ASC DESC": want worker.<attribute> followed by ASC or DESC, got 3 words`},
		{name: "direction only", in: "ASC", wantErr: events.ErrInvalidData, wantMsg: `clause 1 "ASC": attribute must start with "worker."`},
		{name: "trailing comma", in: "worker.a ASC,", wantErr: events.ErrInvalidData, wantMsg: `orderBy: clause 2 "": empty clause`},
		{name: "leading comma", in: ", worker.a ASC", wantErr: events.ErrInvalidData, wantMsg: `orderBy: clause 1 "": empty clause`},
		{name: "double comma", in: "worker.a ASC,  ,worker.b ASC", wantErr: events.ErrInvalidData, wantMsg: `orderBy: clause 2 "": empty clause`},
		{name: "missing comma", in: "worker.a ASC worker.b ASC", wantErr: events.ErrInvalidData, wantMsg: `got 4 words`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOrderBy(tt.in)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.Error(t, err)
			require.True(t, errors.Is(err, tt.wantErr), "errors.Is(%v, %v)", err, tt.wantErr)
			var e *events.Error
			require.True(t, errors.As(err, &e))
			require.Equal(t, events.CodeInvalidData, e.Code)
			require.Equal(t, "orderBy", e.Field)
			require.Contains(t, err.Error(), tt.wantMsg)
			require.Equal(t, OrderBy{}, got)
		})
	}
}

func TestOrderByString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"worker.finance", "worker.finance ASC"},
		{"worker.finance asc, worker.support desc", "worker.finance ASC, worker.support DESC"},
		{" worker.skills.finance\tDESC,worker.a ", "worker.skills.finance DESC, worker.a ASC"},
	}
	for _, tt := range tests {
		o := mustOrderBy(t, tt.in)
		require.Equal(t, tt.want, o.String())
		require.Equal(t, o, mustOrderBy(t, o.String()), "round trip of %q", tt.in)
	}
}

// TestOrderBySeedExamples is ROUTING.md seed behaviour 7, exactly.
func TestOrderBySeedExamples(t *testing.T) {
	t.Run("tie on finance, Bob wins on support", func(t *testing.T) {
		o := mustOrderBy(t, "worker.finance ASC, worker.support ASC")
		// Alice has waited longer, so the tie-break alone would pick her.
		alice := orderWorker("alice", events.Labels{"finance": 10.0, "support": 8.0}, 0)
		bob := orderWorker("bob", events.Labels{"finance": 10.0, "support": 5.0}, 30)
		require.Equal(t, []string{"bob", "alice"}, sortedIDs(t, o, alice, bob))
		require.True(t, o.Less(bob, alice))
		require.False(t, o.Less(alice, bob))
	})
	t.Run("Bob lacks support and goes last", func(t *testing.T) {
		o := mustOrderBy(t, "worker.finance ASC, worker.support ASC")
		// Bob has waited longer, so the tie-break alone would pick him.
		alice := orderWorker("alice", events.Labels{"finance": 10.0, "support": 8.0}, 30)
		bob := orderWorker("bob", events.Labels{"finance": 10.0}, 0)
		require.Equal(t, []string{"alice", "bob"}, sortedIDs(t, o, alice, bob))
	})
	t.Run("DESC: tie on finance, Alice wins on support", func(t *testing.T) {
		o := mustOrderBy(t, "worker.finance DESC, worker.support DESC")
		alice := orderWorker("alice", events.Labels{"finance": 10.0, "support": 8.0}, 30)
		bob := orderWorker("bob", events.Labels{"finance": 10.0, "support": 5.0}, 0)
		require.Equal(t, []string{"alice", "bob"}, sortedIDs(t, o, alice, bob))
	})
	t.Run("ASC then DESC: Alice wins on support", func(t *testing.T) {
		o := mustOrderBy(t, "worker.finance ASC, worker.support DESC")
		alice := orderWorker("alice", events.Labels{"finance": 10.0, "support": 8.0}, 30)
		bob := orderWorker("bob", events.Labels{"finance": 10.0, "support": 5.0}, 0)
		require.Equal(t, []string{"alice", "bob"}, sortedIDs(t, o, alice, bob))
	})
	t.Run("DESC: Bob lacks support and still goes last", func(t *testing.T) {
		o := mustOrderBy(t, "worker.finance DESC, worker.support DESC")
		alice := orderWorker("alice", events.Labels{"finance": 10.0, "support": 8.0}, 30)
		bob := orderWorker("bob", events.Labels{"finance": 10.0}, 0)
		require.Equal(t, []string{"alice", "bob"}, sortedIDs(t, o, alice, bob))
	})
	t.Run("the first clause orders before the second", func(t *testing.T) {
		o := mustOrderBy(t, "worker.finance ASC, worker.support ASC")
		alice := orderWorker("alice", events.Labels{"finance": 9.0, "support": 8.0}, 30)
		bob := orderWorker("bob", events.Labels{"finance": 10.0, "support": 5.0}, 0)
		require.Equal(t, []string{"alice", "bob"}, sortedIDs(t, o, alice, bob))
	})
}

func TestOrderByMissingAttributeSortsLast(t *testing.T) {
	// m1 and m2 lack "level"; m1 has waited longest of all.
	ws := []*Worker{
		orderWorker("m1", events.Labels{"other": 1.0}, 0),
		orderWorker("w5", events.Labels{"level": 5.0}, 40),
		orderWorker("m2", nil, 10),
		orderWorker("w1", events.Labels{"level": 1.0}, 50),
		orderWorker("n1", events.Labels{"level": nil}, 5), // null counts as missing
		orderWorker("w3", events.Labels{"level": 3.0}, 20),
	}
	require.Equal(t, []string{"w1", "w3", "w5", "m1", "n1", "m2"}, sortedIDs(t, mustOrderBy(t, "worker.level ASC"), ws...))
	require.Equal(t, []string{"w5", "w3", "w1", "m1", "n1", "m2"}, sortedIDs(t, mustOrderBy(t, "worker.level DESC"), ws...))

	t.Run("missing on a later clause", func(t *testing.T) {
		ws := []*Worker{
			orderWorker("a", events.Labels{"x": 1.0}, 0),
			orderWorker("b", events.Labels{"x": 1.0, "y": -7.0}, 10),
			orderWorker("c", events.Labels{"y": 100.0}, 0),
		}
		require.Equal(t, []string{"b", "a", "c"}, sortedIDs(t, mustOrderBy(t, "worker.x ASC, worker.y DESC"), ws...))
		require.Equal(t, []string{"b", "a", "c"}, sortedIDs(t, mustOrderBy(t, "worker.x DESC, worker.y ASC"), ws...))
	})
}

func TestOrderByNonIntegerIsIgnored(t *testing.T) {
	// The default order (before) puts the least loaded first: d0 (0/2), d1 (1/2), d2
	// (2/2). Under the order_by, by "level" ASC, it would be d2, d1, d0.
	mk := func(id string, used int, level any) *Worker {
		w := orderWorker(id, events.Labels{"level": level}, 0)
		w.TotalCapacity = 2
		for i := range used {
			w.Loads = append(w.Loads, Load{JobID: fmt.Sprintf("%s-j%d", id, i), ChannelID: "voice", Cost: 1})
		}
		return w
	}
	o := mustOrderBy(t, "worker.level ASC")
	base := []*Worker{mk("d0", 0, 3.0), mk("d1", 1, 2.0), mk("d2", 2, 1.0)}
	require.True(t, o.Applicable(base))
	require.Equal(t, []string{"d2", "d1", "d0"}, sortedIDs(t, o, base...))

	bad := map[string]any{
		"string":              "1",
		"bool":                true,
		"fraction":            1.5,
		"small fraction":      2.0000001,
		"map":                 map[string]any{"n": 1.0},
		"slice":               []any{1.0},
		"NaN":                 math.NaN(),
		"infinity":            math.Inf(1),
		"beyond int64":        1e19,
		"uint64 beyond int64": uint64(math.MaxUint64),
		"fractional number":   json.Number("1.25"),
	}
	for name, v := range bad {
		t.Run(name, func(t *testing.T) {
			ws := append([]*Worker{}, base...)
			ws = append(ws, mk("d3", 2, v))
			require.False(t, o.Applicable(ws))
			// The whole order_by is dropped, for every worker of the set.
			require.Equal(t, []string{"d0", "d1", "d2", "d3"}, sortedIDs(t, o, ws...))
			// With two clauses, a bad value in the second clause drops the first too.
			o2 := mustOrderBy(t, "worker.rank DESC, worker.level ASC")
			require.False(t, o2.Applicable(ws))
			require.Equal(t, []string{"d0", "d1", "d2", "d3"}, sortedIDs(t, o2, ws...))
		})
	}
	t.Run("a bad value of an attribute no clause names is harmless", func(t *testing.T) {
		ws := append([]*Worker{}, base...)
		ws[0] = mk("d0", 0, 3.0)
		ws[0].Labels["other"] = "x"
		require.True(t, o.Applicable(ws))
		require.Equal(t, []string{"d2", "d1", "d0"}, sortedIDs(t, o, ws...))
	})
	t.Run("a bad value outside the set is harmless", func(t *testing.T) {
		require.False(t, o.Applicable([]*Worker{mk("x", 0, "1")}))
		require.True(t, o.Applicable(base))
	})
}

func TestOrderByIntegerForms(t *testing.T) {
	o := mustOrderBy(t, "worker.level DESC")
	forms := map[string]any{
		"float64":              4.0,
		"int":                  4,
		"int64":                int64(4),
		"int32":                int32(4),
		"uint8":                uint8(4),
		"float32":              float32(4),
		"json.Number":          json.Number("4"),
		"json.Number exponent": json.Number("4e0"),
	}
	for name, v := range forms {
		t.Run(name, func(t *testing.T) {
			ws := []*Worker{
				orderWorker("three", events.Labels{"level": 3.0}, 0),
				orderWorker("five", events.Labels{"level": int64(5)}, 0),
				orderWorker("four", events.Labels{"level": v}, 10),
				orderWorker("four-b", events.Labels{"level": 4}, 0),
			}
			require.True(t, o.Applicable(ws))
			require.Equal(t, []string{"five", "four-b", "four", "three"}, sortedIDs(t, o, ws...))
		})
	}
	t.Run("int64 extremes", func(t *testing.T) {
		ws := []*Worker{
			orderWorker("max", events.Labels{"level": int64(math.MaxInt64)}, 0),
			orderWorker("min", events.Labels{"level": int64(math.MinInt64)}, 0),
			orderWorker("minf", events.Labels{"level": float64(math.MinInt64)}, 10),
			orderWorker("big", events.Labels{"level": float64(1 << 62)}, 0),
		}
		require.True(t, o.Applicable(ws))
		require.Equal(t, []string{"max", "big", "min", "minf"}, sortedIDs(t, o, ws...))
	})
}

func TestOrderByNestedAndFlatKeys(t *testing.T) {
	o := mustOrderBy(t, "worker.skills.finance ASC")
	t.Run("nested", func(t *testing.T) {
		ws := []*Worker{
			orderWorker("n3", events.Labels{"skills": map[string]any{"finance": 3.0}}, 0),
			orderWorker("n1", events.Labels{"skills": map[string]any{"finance": 1.0, "support": 9.0}}, 0),
			orderWorker("n2", events.Labels{"skills": events.Labels{"finance": 2.0}}, 0),
		}
		require.True(t, o.Applicable(ws))
		require.Equal(t, []string{"n1", "n2", "n3"}, sortedIDs(t, o, ws...))
	})
	t.Run("flat dotted key", func(t *testing.T) {
		ws := []*Worker{
			orderWorker("f3", events.Labels{"skills.finance": 3.0}, 0),
			orderWorker("n2", events.Labels{"skills": map[string]any{"finance": 2.0}}, 0),
			orderWorker("f1", events.Labels{"skills.finance": 1.0}, 0),
		}
		require.Equal(t, []string{"f1", "n2", "f3"}, sortedIDs(t, o, ws...))
	})
	t.Run("the flat key is checked first", func(t *testing.T) {
		both := orderWorker("both", events.Labels{"skills.finance": 5.0, "skills": map[string]any{"finance": 1.0}}, 0)
		two := orderWorker("two", events.Labels{"skills.finance": 2.0}, 0)
		require.Equal(t, []string{"two", "both"}, sortedIDs(t, o, both, two))
		// A bad flat value is bad even when the nested one is an integer...
		badFlat := orderWorker("bad", events.Labels{"skills.finance": "x", "skills": map[string]any{"finance": 1.0}}, 0)
		require.False(t, o.Applicable([]*Worker{two, badFlat}))
		// ...and a bad nested value does not matter when there is a flat one.
		badNested := orderWorker("ok", events.Labels{"skills.finance": 1.0, "skills": map[string]any{"finance": "x"}}, 0)
		require.True(t, o.Applicable([]*Worker{two, badNested}))
		require.Equal(t, []string{"ok", "two"}, sortedIDs(t, o, two, badNested))
	})
	t.Run("missing at any depth", func(t *testing.T) {
		ws := []*Worker{
			orderWorker("no-skills", events.Labels{"finance": 1.0}, 0),
			orderWorker("no-finance", events.Labels{"skills": map[string]any{"support": 1.0}}, 1),
			orderWorker("skills-not-a-map", events.Labels{"skills": 7.0}, 2),
			orderWorker("skills-null", events.Labels{"skills": nil}, 3),
			orderWorker("has", events.Labels{"skills": map[string]any{"finance": 100.0}}, 4),
		}
		require.True(t, o.Applicable(ws))
		require.Equal(t, []string{"has", "no-skills", "no-finance", "skills-not-a-map", "skills-null"}, sortedIDs(t, o, ws...))
	})
	t.Run("a map where an integer should be is not an integer", func(t *testing.T) {
		short := mustOrderBy(t, "worker.skills ASC")
		require.False(t, short.Applicable([]*Worker{orderWorker("x", events.Labels{"skills": map[string]any{"finance": 1.0}}, 0)}))
	})
	t.Run("three levels", func(t *testing.T) {
		deep := mustOrderBy(t, "worker.a.b.c DESC")
		ws := []*Worker{
			orderWorker("nested", events.Labels{"a": map[string]any{"b": map[string]any{"c": 1.0}}}, 0),
			orderWorker("flat", events.Labels{"a.b.c": 2.0}, 0),
			orderWorker("half-flat", events.Labels{"a": map[string]any{"b.c": 3.0}}, 0), // not looked up
		}
		require.Equal(t, []string{"flat", "nested", "half-flat"}, sortedIDs(t, deep, ws...))
	})
}

func TestOrderByTieBreak(t *testing.T) {
	o := mustOrderBy(t, "worker.level ASC")
	labels := events.Labels{"level": 1.0}
	reg := func(id string, registered time.Duration, lastAssigned *time.Duration) *Worker {
		w := &Worker{Worker: events.Worker{WorkerID: id, Labels: labels, RegisteredAt: orderT0.Add(registered)}}
		if lastAssigned != nil {
			at := orderT0.Add(*lastAssigned)
			w.LastAssignedAt = &at
		}
		return w
	}
	d := func(m int) *time.Duration { x := time.Duration(m) * time.Minute; return &x }

	ws := []*Worker{
		reg("assigned-at-20", 0, d(20)),
		reg("registered-at-10", 10*time.Minute, nil),
		reg("assigned-at-5", -time.Hour, d(5)), // registered earliest, but assigned since
		reg("b-registered-at-30", 30*time.Minute, nil),
		reg("a-assigned-at-30", 0, d(30)),
	}
	require.Equal(t, []string{"assigned-at-5", "registered-at-10", "assigned-at-20", "a-assigned-at-30", "b-registered-at-30"},
		sortedIDs(t, o, ws...))

	t.Run("load ratio plays no part", func(t *testing.T) {
		busy := reg("busy", 0, d(1))
		busy.TotalCapacity = 1
		busy.Loads = []Load{{JobID: "j", ChannelID: "voice", Cost: 1}}
		idle := reg("idle", 0, d(2))
		idle.TotalCapacity = 10
		require.Equal(t, []string{"idle", "busy"}, sortedIDs(t, OrderBy{}, busy, idle)) // before()
		require.Equal(t, []string{"busy", "idle"}, sortedIDs(t, o, busy, idle))
		require.True(t, o.Less(busy, idle))
	})
	t.Run("Less is irreflexive", func(t *testing.T) {
		for _, w := range ws {
			require.False(t, o.Less(w, w))
		}
	})
}

func TestOrderByZeroValueUsesDefaultOrder(t *testing.T) {
	var o OrderBy
	require.Empty(t, o.String())
	require.True(t, o.Applicable(nil))
	ws := []*Worker{
		orderWorker("c", events.Labels{"level": 1.0}, 0),
		orderWorker("a", nil, 5),
		orderWorker("b", nil, 5),
	}
	ws[0].TotalCapacity = 1
	ws[0].Loads = []Load{{JobID: "j", ChannelID: "voice", Cost: 1}}
	ws[1].TotalCapacity = 2
	ws[2].TotalCapacity = 2
	want := append([]*Worker{}, ws...)
	sort.Slice(want, func(i, j int) bool { return before(want[i], want[j]) })
	require.Equal(t, orderIDs(want), sortedIDs(t, o, ws...))
	SortWorkers(mustOrderBy(t, "worker.level ASC"), nil) // no panic on an empty set
}

// The property test below checks SortWorkers against a reference written from the
// spec text (ROUTING.md seed behaviour 7 and the OrderBy doc), sharing no code with
// orderby.go.

// refAttr is a worker's value for one clause, as the reference reads it.
type refAttr struct {
	present bool // an integer is there
	bad     bool // something that is not an integer is there
	n       int64
}

func refLookup(labels events.Labels, path []string) refAttr {
	flat := ""
	for i, p := range path {
		if i > 0 {
			flat += "."
		}
		flat += p
	}
	v, ok := labels[flat]
	if !ok {
		var cur any = map[string]any(labels)
		ok = true
		for _, p := range path {
			m, isMap := cur.(map[string]any)
			if !isMap {
				ok = false
				break
			}
			if cur, ok = m[p]; !ok {
				break
			}
		}
		v = cur
	}
	if !ok || v == nil {
		return refAttr{}
	}
	switch x := v.(type) {
	case float64:
		if x == math.Floor(x) && math.Abs(x) < 1<<53 {
			return refAttr{present: true, n: int64(x)}
		}
	case int:
		return refAttr{present: true, n: int64(x)}
	case int64:
		return refAttr{present: true, n: x}
	}
	return refAttr{bad: true}
}

func refIdle(w *Worker) time.Time {
	if w.LastAssignedAt != nil {
		return *w.LastAssignedAt
	}
	return w.RegisteredAt
}

func refLoad(w *Worker) float64 {
	if w.TotalCapacity <= 0 {
		return 1
	}
	used := 0
	for _, l := range w.Loads {
		used += l.Cost
	}
	return float64(used) / float64(w.TotalCapacity)
}

// refSort orders ws as the spec says, and reports whether the order_by applied.
func refSort(clauses []OrderClause, ws []*Worker) ([]string, bool) {
	out := append([]*Worker{}, ws...)
	attrs := map[string][]refAttr{}
	applies := len(clauses) > 0
	for _, w := range out {
		for _, c := range clauses {
			a := refLookup(w.Labels, c.Path)
			if a.bad {
				applies = false
			}
			attrs[w.WorkerID] = append(attrs[w.WorkerID], a)
		}
	}
	if !applies {
		// Default: lowest load ratio, then longest idle, then worker id.
		sort.SliceStable(out, func(i, j int) bool {
			a, b := out[i], out[j]
			if la, lb := refLoad(a), refLoad(b); la != lb {
				return la < lb
			}
			if ia, ib := refIdle(a), refIdle(b); !ia.Equal(ib) {
				return ia.Before(ib)
			}
			return a.WorkerID < b.WorkerID
		})
		return orderIDs(out), false
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		for k, c := range clauses {
			x, y := attrs[a.WorkerID][k], attrs[b.WorkerID][k]
			if x.present != y.present {
				return x.present // whoever has the attribute goes first, ASC or DESC
			}
			if !x.present || x.n == y.n {
				continue // both lack it, or a tie: the next clause decides
			}
			if c.Desc {
				return x.n > y.n
			}
			return x.n < y.n
		}
		if ia, ib := refIdle(a), refIdle(b); !ia.Equal(ib) {
			return ia.Before(ib) // longest since the last assignment first
		}
		return a.WorkerID < b.WorkerID
	})
	return orderIDs(out), true
}

func TestOrderByMatchesReferenceOnRandomWorkers(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	paths := [][]string{{"a"}, {"b"}, {"s", "c"}}
	badValues := []any{"2", true, 2.5, map[string]any{"x": 1.0}, -0.5}

	// value returns a random label value and whether to set it at all.
	value := func(badRate float64) (any, bool) {
		r := rng.Float64()
		switch {
		case r < badRate:
			return badValues[rng.Intn(len(badValues))], true
		case r < badRate+0.2:
			return nil, false // missing
		case r < badRate+0.25:
			return nil, true // null
		}
		n := rng.Intn(7) - 3
		switch rng.Intn(3) {
		case 0:
			return n, true
		case 1:
			return int64(n), true
		}
		return float64(n), true
	}

	const iterations = 5000
	applied, ignored := 0, 0
	for it := range iterations {
		badRate := []float64{0, 0, 0.02, 0.1}[rng.Intn(4)]
		n := rng.Intn(9)
		ws := make([]*Worker, n)
		for i := range ws {
			labels := events.Labels{}
			for _, k := range []string{"a", "b"} {
				if v, ok := value(badRate); ok {
					labels[k] = v
				}
			}
			// s.c: flat, nested, both, a non-map "s", or nowhere.
			switch rng.Intn(5) {
			case 0:
				if v, ok := value(badRate); ok {
					labels["s.c"] = v
				}
			case 1:
				nested := map[string]any{}
				if v, ok := value(badRate); ok {
					nested["c"] = v
				}
				labels["s"] = nested
			case 2:
				v1, _ := value(badRate)
				v2, _ := value(badRate)
				labels["s.c"] = v1
				labels["s"] = map[string]any{"c": v2}
			case 3:
				labels["s"] = "not a map"
			}
			w := &Worker{Worker: events.Worker{
				WorkerID:      fmt.Sprintf("w%d", i),
				Labels:        labels,
				RegisteredAt:  orderT0.Add(time.Duration(rng.Intn(4)) * time.Minute),
				TotalCapacity: rng.Intn(4),
			}}
			if rng.Intn(2) == 0 {
				at := orderT0.Add(time.Duration(rng.Intn(6)) * time.Minute)
				w.LastAssignedAt = &at
			}
			for range rng.Intn(3) {
				w.Loads = append(w.Loads, Load{JobID: "j", ChannelID: "voice", Cost: 1})
			}
			ws[i] = w
		}
		rng.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })

		// 1-3 clauses, built as text and parsed, so the parser is on the path too.
		text := ""
		for k := range 1 + rng.Intn(3) {
			if k > 0 {
				text += ", "
			}
			text += "worker."
			for i, p := range paths[rng.Intn(len(paths))] {
				if i > 0 {
					text += "."
				}
				text += p
			}
			text += []string{" ASC", " DESC", " asc", " desc", ""}[rng.Intn(5)]
		}
		o := mustOrderBy(t, text)

		want, applies := refSort(o.Clauses, ws)
		got := append([]*Worker{}, ws...)
		SortWorkers(o, got)
		require.Equal(t, want, orderIDs(got), "iteration %d, order_by %q, workers %s", it, text, orderDump(ws))
		require.Equal(t, applies, o.Applicable(ws), "iteration %d, order_by %q, workers %s", it, text, orderDump(ws))
		if applies {
			applied++
			for i := 0; i+1 < len(got); i++ {
				require.True(t, o.Less(got[i], got[i+1]), "iteration %d: Less disagrees with SortWorkers", it)
				require.False(t, o.Less(got[i+1], got[i]), "iteration %d: Less disagrees with SortWorkers", it)
			}
		} else {
			ignored++
		}
	}
	// Both branches were exercised in earnest.
	require.Greater(t, applied, iterations/4)
	require.Greater(t, ignored, iterations/20)
}

func orderDump(ws []*Worker) string {
	s := ""
	for _, w := range ws {
		s += fmt.Sprintf("\n  %s labels=%v idle=%s load=%d/%d", w.WorkerID, w.Labels, refIdle(w).Format("15:04"), len(w.Loads), w.TotalCapacity)
	}
	return s
}

func FuzzParseOrderBy(f *testing.F) {
	for _, s := range []string{
		"", "worker.finance ASC, worker.support ASC", "worker.a", "worker.a.b.c desc",
		"worker.x SIDEWAYS", "task.a ASC", "worker.a ASC,", ",", "worker..a", " \t worker.a\nDESC ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOrderBy(s)
		if err != nil {
			require.ErrorIs(t, err, events.ErrInvalidData)
			require.Equal(t, "orderBy", events.AsError(err).Field)
			return
		}
		again, err := ParseOrderBy(o.String())
		require.NoError(t, err)
		require.Equal(t, o, again)
	})
}
