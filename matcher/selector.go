package matcher

import (
	"fmt"

	"github.com/patchbay/patchbay/events"
)

// Matches reports whether labels (plus the implicit "id" label, workerID) satisfy
// selector s. A missing label satisfies no operator. equal and notEqual compare
// strings, numbers and booleans; the ordering operators compare numbers, or strings
// lexically; values of different kinds never match.
func Matches(s events.WorkerSelector, workerID string, labels events.Labels) bool {
	var v any
	if s.Key == "id" {
		v = workerID
	} else {
		var ok bool
		if v, ok = labels[s.Key]; !ok || v == nil {
			return false
		}
	}
	c, comparable := compare(v, s.Value)
	if !comparable {
		return s.Operator == events.OpNotEqual && kindOf(v) != kindOf(s.Value)
	}
	switch s.Operator {
	case events.OpEqual:
		return c == 0
	case events.OpNotEqual:
		return c != 0
	case events.OpLessThan:
		return c < 0 && kindOf(v) != kindBool
	case events.OpLessThanOrEqual:
		return c <= 0 && kindOf(v) != kindBool
	case events.OpGreaterThan:
		return c > 0 && kindOf(v) != kindBool
	case events.OpGreaterThanOrEqual:
		return c >= 0 && kindOf(v) != kindBool
	}
	return false
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

// validateLabels says which label is not a primitive value.
func validateLabels(field string, l events.Labels) error {
	for k, v := range l {
		if k == "" {
			return events.Errorf(events.CodeInvalidData, field, "%s: a label key must not be empty", field)
		}
		if kindOf(v) == kindOther {
			return events.Errorf(events.CodeInvalidData, field+"/"+k, "%s/%s: a label value must be a string, number or boolean", field, k)
		}
	}
	return nil
}
