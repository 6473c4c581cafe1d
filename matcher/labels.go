package matcher

import (
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

// validateLabels checks labels against the rules of labels (events.CheckLabels: the
// shape, the kinds of values, the sizes). The edge checked a command's already; this
// guards labels built in Go and those the engine merges.
func validateLabels(field string, l events.Labels) error { return events.CheckLabels(field, l) }
