package matcher

import (
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/events"
)

// Labels are JSON (events.Labels): a value is a string, a number, a boolean, or an
// array ([]any) or object (map[string]any) of values, nested at most
// events.MaxLabelDepth levels. This file holds what the matcher needs to read them:
// the value at a dotted key, shared by worker selectors, passThrough attachments and
// known-worker targets (expressions and order_by resolve keys the same way), and the
// check that labels built in Go have that shape.

// labelAt is the value at a label key: the label of exactly that key when there is
// one (a flat label, which may hold dots: "skills.finance"), else, for a dotted key,
// the value reached through nested objects (labels["skills"]["finance"]). ok is false
// when there is nothing there, or only null.
func labelAt(labels events.Labels, key string) (v any, ok bool) {
	if v, ok := labels[key]; ok { // scalar labels, and flat dotted ones, stop here
		return v, v != nil
	}
	return nestedLabel(labels, key)
}

// nestedLabel is labelAt for a key that is not a label itself: the value nested at
// its dotted path, if any.
func nestedLabel(labels events.Labels, key string) (v any, ok bool) {
	if strings.IndexByte(key, '.') < 0 {
		return nil, false
	}
	var cur any = map[string]any(labels)
	for rest := key; ; {
		name, after, more := strings.Cut(rest, ".")
		var m map[string]any
		switch x := cur.(type) {
		case map[string]any:
			m = x
		case events.Labels:
			m = x
		default:
			return nil, false
		}
		if cur, ok = m[name]; !ok || cur == nil {
			return nil, false
		}
		if !more {
			return cur, true
		}
		rest = after
	}
}

// labelString is the string at a label key (see labelAt).
func labelString(labels events.Labels, key string) (string, bool) {
	v, _ := labelAt(labels, key)
	s, ok := v.(string)
	return s, ok
}

// validateLabels says which label value is not JSON of the shape labels have: a
// string, number or boolean, or an array or object of them nested at most
// MaxLabelDepth levels; null is refused at any depth. (The router's edge has already
// checked the sizes; this guards labels built in Go.)
func validateLabels(field string, l events.Labels) error {
	for k, v := range l {
		if k == "" {
			return events.Errorf(events.CodeInvalidData, field, "%s: a label key must not be empty", field)
		}
		if err := validateLabelValue(field+"/"+k, v, 0); err != nil {
			return err
		}
	}
	return nil
}

func validateLabelValue(field string, v any, depth int) error {
	switch x := v.(type) {
	case []any:
		if depth >= events.MaxLabelDepth {
			return labelDepthError(field)
		}
		for i, e := range x {
			if err := validateLabelValue(fmt.Sprintf("%s/%d", field, i), e, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if depth >= events.MaxLabelDepth {
			return labelDepthError(field)
		}
		for k, e := range x {
			if k == "" {
				return events.Errorf(events.CodeInvalidData, field, "%s: a label key must not be empty", field)
			}
			if err := validateLabelValue(field+"/"+k, e, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if kindOf(v) == kindOther {
		return events.Errorf(events.CodeInvalidData, field,
			"%s: a label value must be a string, number, boolean, array or object (got %T)", field, v)
	}
	return nil
}

func labelDepthError(field string) error {
	return events.Errorf(events.CodeInvalidData, field,
		"%s: a label value nests arrays and objects more than %d levels deep (the limit)", field, events.MaxLabelDepth)
}
