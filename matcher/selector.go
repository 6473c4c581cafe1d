package matcher

import (
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/events"
)

// Matches reports whether labels (plus the implicit "id" label, workerID) satisfy
// selector s. A missing label satisfies no operator. equal and notEqual compare
// strings, numbers and booleans; the ordering operators compare numbers, or strings
// lexically; values of different kinds never match (notEqual holds).
//
// Labels are JSON, so a selector may meet an array or an object:
//   - the key may be dotted ("skills.finance"): the flat label of exactly that key
//     when there is one, else the value nested at that path (see labelAt);
//   - on an array label, equal and the ordering operators hold when one of its
//     elements satisfies them (skills equal "support" matches ["support", "sales"]),
//     and notEqual when none of its elements is equal to the value (so notEqual is
//     always the negation of equal on a present label);
//   - an object label is a different kind from the selector's value: only notEqual
//     holds. Select a nested value with a dotted key instead.
func Matches(s events.WorkerSelector, workerID string, labels events.Labels) bool {
	var v any
	if s.Key == "id" {
		v = workerID
	} else {
		var ok bool
		if v, ok = labels[s.Key]; !ok { // the scalar fast path: one map lookup
			if strings.IndexByte(s.Key, '.') < 0 {
				return false
			}
			if v, ok = nestedLabel(labels, s.Key); !ok {
				return false
			}
		} else if v == nil {
			return false
		}
	}
	// An array label is tested element by element by the loop below; a scalar is the
	// loop's one pass (no extra call on the hot path).
	var list []any
	switch x := v.(type) {
	case []any:
		if s.Operator == events.OpNotEqual { // no element is equal
			for _, e := range x {
				if c, ok := compare(e, s.Value); ok && c == 0 {
					return false
				}
			}
			return true
		}
		if len(x) == 0 {
			return false
		}
		list, v = x, x[0]
	case map[string]any:
		return s.Operator == events.OpNotEqual
	}
	for i := 1; ; i++ {
		var m bool
		c, comparable := compare(v, s.Value)
		if !comparable {
			m = s.Operator == events.OpNotEqual && kindOf(v) != kindOf(s.Value)
		} else {
			switch s.Operator {
			case events.OpEqual:
				m = c == 0
			case events.OpNotEqual:
				m = c != 0
			case events.OpLessThan:
				m = c < 0 && kindOf(v) != kindBool
			case events.OpLessThanOrEqual:
				m = c <= 0 && kindOf(v) != kindBool
			case events.OpGreaterThan:
				m = c > 0 && kindOf(v) != kindBool
			case events.OpGreaterThanOrEqual:
				m = c >= 0 && kindOf(v) != kindBool
			}
		}
		if m || i >= len(list) {
			return m
		}
		v = list[i]
	}
}

type kind int

const (
	kindOther kind = iota
	kindString
	kindNumber
	kindBool
)

func kindOf(v any) kind {
	switch v.(type) {
	case string:
		return kindString
	case float64, float32, int, int64, int32, uint, uint64, uint32:
		return kindNumber
	case bool:
		return kindBool
	}
	return kindOther
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case float32:
		return float64(n)
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case int32:
		return float64(n)
	case uint:
		return float64(n)
	case uint64:
		return float64(n)
	case uint32:
		return float64(n)
	}
	return 0
}

// compare returns -1, 0 or 1, and whether a and b are of one comparable kind.
func compare(a, b any) (int, bool) {
	ka, kb := kindOf(a), kindOf(b)
	if ka != kb || ka == kindOther {
		return 0, false
	}
	switch ka {
	case kindString:
		x, y := a.(string), b.(string)
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case kindNumber:
		x, y := toFloat(a), toFloat(b)
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case kindBool:
		if a.(bool) == b.(bool) {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

// validateSelector says what is wrong with a selector.
func validateSelector(i int, s events.WorkerSelector) error {
	field := fmt.Sprintf("requestedWorkerSelectors/%d", i)
	if s.Key == "" {
		return events.Errorf(events.CodeInvalidData, field+"/key", "%s: key is required", field)
	}
	ok := false
	for _, op := range events.Operators() {
		ok = ok || s.Operator == op
	}
	if !ok {
		return events.Errorf(events.CodeInvalidData, field+"/labelOperator",
			"%s: labelOperator %q is not one of %v", field, s.Operator, events.Operators())
	}
	if k := kindOf(s.Value); k == kindOther {
		return events.Errorf(events.CodeInvalidData, field+"/value", "%s: value must be a string, number or boolean", field)
	}
	if s.ExpiresAfterSeconds < 0 || s.ExpiresAfterSeconds > events.MaxDurationSeconds {
		return events.Errorf(events.CodeInvalidData, field+"/expiresAfterSeconds",
			"%s: expiresAfterSeconds must be between 0 and %d (got %g)", field, events.MaxDurationSeconds, s.ExpiresAfterSeconds)
	}
	if s.ExpiresAt != nil {
		return events.Errorf(events.CodeInvalidData, field+"/expiresAt", "%s: expiresAt is set by the router; send expiresAfterSeconds", field)
	}
	return nil
}
