package matcher

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/events"
)

// OrderBy is a TaskRouter order_by: an ordered list of clauses over integer worker
// attributes. The first clause orders the workers; each later clause only breaks the
// ties of the clauses before it. The zero value has no clauses and means "no order_by".
//
// The rules (ROUTING.md, seed behaviour 7):
//
//   - A clause reads one attribute of the worker's labels. Its path is looked up first
//     as one flat label whose key is the dotted path ("skills.finance"), then, when
//     there is no such label, as nested maps (labels["skills"]["finance"]).
//   - A worker that lacks the attribute sorts after every worker that has it, for ASC
//     and for DESC alike. A JSON null, and a path that runs through a value that is not
//     a map, count as lacking it.
//   - Values must be integers: a float64 (JSON number) with no fractional part, or a Go
//     integer, in the int64 range. If any candidate of a set being ordered has a value
//     that is not an integer (a string, a bool, a fraction, an array, a map, a number
//     outside the int64 range) for any clause's attribute, the whole order_by is
//     ignored for that set and the default order ([before]: lowest load ratio, longest idle, worker id)
//     applies. See [OrderBy.Applicable] and [SortWorkers].
//   - Workers equal on every clause are ordered by the longest time since their last
//     assignment (or registration, when they never had one), then by worker id. Load
//     ratio plays no part in this tie-break: TaskRouter's rule names only the time since
//     the last assignment.
type OrderBy struct {
	Clauses []OrderClause
}

// OrderClause is one `worker.<path> ASC|DESC` clause.
type OrderClause struct {
	// Path is the attribute path without the "worker." prefix, split on dots:
	// worker.skills.finance is {"skills", "finance"}.
	Path []string
	// Desc orders from the highest value to the lowest.
	Desc bool
}

// orderByField is the Field of parse errors.
const orderByField = "orderBy"

// ParseOrderBy parses an order_by such as "worker.finance ASC, worker.support DESC".
//
// Clauses are separated by commas; each is `worker.<attribute>` followed by a direction,
// ASC or DESC in any letter case, with any whitespace around the words. TaskRouter
// requires the direction; patchbay accepts a clause without one as ASC. The "worker."
// prefix is case-sensitive, like attribute names. An empty (or blank) string is the zero
// OrderBy and no error. Errors are *events.Error with code invalid_data and field
// "orderBy", naming the 1-based clause and its text.
func ParseOrderBy(s string) (OrderBy, error) {
	if strings.TrimSpace(s) == "" {
		return OrderBy{}, nil
	}
	parts := strings.Split(s, ",")
	o := OrderBy{Clauses: make([]OrderClause, 0, len(parts))}
	for i, part := range parts {
		c, err := parseOrderClause(i+1, strings.TrimSpace(part))
		if err != nil {
			return OrderBy{}, err
		}
		o.Clauses = append(o.Clauses, c)
	}
	return o, nil
}

func parseOrderClause(n int, text string) (OrderClause, error) {
	fail := func(format string, args ...any) (OrderClause, error) {
		return OrderClause{}, events.Errorf(events.CodeInvalidData, orderByField,
			"orderBy: clause %d %q: "+format, append([]any{n, text}, args...)...)
	}
	words := strings.Fields(text)
	switch len(words) {
	case 0:
		return fail("empty clause")
	case 1, 2:
	default:
		return fail("want worker.<attribute> followed by ASC or DESC, got %d words", len(words))
	}
	attr, ok := strings.CutPrefix(words[0], "worker.")
	if !ok {
		return fail("attribute must start with \"worker.\"")
	}
	path := strings.Split(attr, ".")
	if slices.Contains(path, "") {
		return fail("attribute path %q has an empty part", attr)
	}
	c := OrderClause{Path: path}
	if len(words) == 2 {
		switch strings.ToUpper(words[1]) {
		case "ASC":
		case "DESC":
			c.Desc = true
		default:
			return fail("direction must be ASC or DESC")
		}
	}
	return c, nil
}

// String is the canonical form of o: "worker.a ASC, worker.b.c DESC"; "" for the zero
// OrderBy. ParseOrderBy(o.String()) gives back o for any o that ParseOrderBy returned.
func (o OrderBy) String() string {
	var b strings.Builder
	for i, c := range o.Clauses {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("worker.")
		b.WriteString(strings.Join(c.Path, "."))
		if c.Desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
	}
	return b.String()
}

// attrState is what a worker has at a clause's path.
type attrState int

const (
	attrInt     attrState = iota // an integer: orders
	attrMissing                  // absent or null: sorts last
	attrBad                      // present but not an integer: the order_by is ignored
)

// orderKey is a worker's value for one clause.
type orderKey struct {
	state attrState
	n     int64
}

// keys reads w's value for every clause of o.
func (o OrderBy) keys(w *Worker) []orderKey {
	ks := make([]orderKey, len(o.Clauses))
	for i, c := range o.Clauses {
		ks[i] = attribute(w.Labels, c.Path)
	}
	return ks
}

// attribute looks path up in labels as selectors and expressions do (labelAt): as one
// flat dotted key first, then through nested objects.
func attribute(labels events.Labels, path []string) orderKey {
	v, _ := labelAt(labels, strings.Join(path, "."))
	return integerKey(v)
}

// integerKey classifies a label value: null is missing, an integer orders, anything
// else is not an integer.
func integerKey(v any) orderKey {
	bad := orderKey{state: attrBad}
	switch x := v.(type) {
	case nil:
		return orderKey{state: attrMissing}
	case float64:
		return floatKey(x)
	case float32:
		return floatKey(float64(x))
	case int:
		return orderKey{n: int64(x)}
	case int8:
		return orderKey{n: int64(x)}
	case int16:
		return orderKey{n: int64(x)}
	case int32:
		return orderKey{n: int64(x)}
	case int64:
		return orderKey{n: x}
	case uint:
		return uintKey(uint64(x))
	case uint8:
		return orderKey{n: int64(x)}
	case uint16:
		return orderKey{n: int64(x)}
	case uint32:
		return orderKey{n: int64(x)}
	case uint64:
		return uintKey(x)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return orderKey{n: n}
		}
		if f, err := x.Float64(); err == nil {
			return floatKey(f)
		}
		return bad
	}
	return bad
}

func floatKey(f float64) orderKey {
	// -2^63 and 2^63 are exact in float64; int64 holds [-2^63, 2^63).
	if f != math.Trunc(f) || f < math.MinInt64 || f >= -math.MinInt64 {
		return orderKey{state: attrBad} // a fraction, NaN, ±Inf or out of range
	}
	return orderKey{n: int64(f)}
}

func uintKey(u uint64) orderKey {
	if u > math.MaxInt64 {
		return orderKey{state: attrBad}
	}
	return orderKey{n: int64(u)}
}

// Applicable reports whether o can order ws: false when some worker of ws has a value
// that is not an integer for some clause's attribute (then the whole order_by is
// ignored for ws). A zero OrderBy is applicable to anything (and orders by idle time).
func (o OrderBy) Applicable(ws []*Worker) bool {
	for _, w := range ws {
		for _, c := range o.Clauses {
			if attribute(w.Labels, c.Path).state == attrBad {
				return false
			}
		}
	}
	return true
}

// Less reports whether a goes before b under o: clause by clause, a worker that has the
// attribute before one that lacks it, then by value (ascending, or descending for
// DESC); workers equal on every clause by the longest time since their last assignment,
// then by worker id. It assumes o is Applicable to a and b; a value that is not an
// integer compares like a missing one, so that Less stays a strict weak order anyway.
func (o OrderBy) Less(a, b *Worker) bool {
	return o.compare(a, o.keys(a), b, o.keys(b)) < 0
}

func (o OrderBy) compare(a *Worker, ka []orderKey, b *Worker, kb []orderKey) int {
	if r := o.compareKeys(ka, kb); r != 0 {
		return r
	}
	if r := a.idleSince().Compare(b.idleSince()); r != 0 {
		return r
	}
	return strings.Compare(a.WorkerID, b.WorkerID)
}

// compareKeys compares two workers' values clause by clause (0: equal on every one).
func (o OrderBy) compareKeys(ka, kb []orderKey) int {
	for i, c := range o.Clauses {
		ha, hb := ka[i].state == attrInt, kb[i].state == attrInt
		switch {
		case ha && !hb:
			return -1
		case !ha && hb:
			return 1
		case !ha && !hb:
			continue
		}
		if r := cmp.Compare(ka[i].n, kb[i].n); r != 0 {
			if c.Desc {
				return -r
			}
			return r
		}
	}
	return 0
}

// SortWorkers sorts ws in place: by o when o has clauses and is Applicable to ws, else
// by the default longest-idle order ([before]).
func SortWorkers(o OrderBy, ws []*Worker) {
	if len(o.Clauses) == 0 || !o.Applicable(ws) {
		sortWorkers(ws)
		return
	}
	type keyed struct {
		w *Worker
		k []orderKey
	}
	ks := make([]keyed, len(ws))
	for i, w := range ws {
		ks[i] = keyed{w, o.keys(w)}
	}
	slices.SortStableFunc(ks, func(x, y keyed) int { return o.compare(x.w, x.k, y.w, y.k) })
	for i := range ks {
		ws[i] = ks[i].w
	}
}
