package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// checkSize refuses a message larger than MaxMessageBytes, counting the body and
// every header key and value.
func checkSize(header map[string][]string, body []byte) error {
	n := len(body)
	for k, vs := range header {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	if n > MaxMessageBytes {
		return Errorf(CodeInvalidData, "", "message is %d bytes; the limit is %d", n, MaxMessageBytes)
	}
	return nil
}

// checkDepth refuses JSON whose data nests objects and arrays deeper than
// MaxJSONDepth; outer is the number of levels around the data (1 for a structured
// CloudEvent, 0 for the data itself). It scans the bytes once without parsing them, so
// that no parser recurses into hostile input; on malformed JSON it returns nil and
// leaves the complaint to the parser.
func checkDepth(b []byte, outer int) error {
	limit := MaxJSONDepth + outer
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > limit {
				return Errorf(CodeInvalidData, "data", "data nests objects and arrays more than %d levels deep (the limit)", MaxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// CheckLimits checks an inbound payload (a pointer to one of the payload types
// Payload returns) against the limits in limits.go that the JSON Schemas cannot state
// exactly: string lengths in bytes of UTF-8, and the size of nested tag values. It
// also checks the counts and numbers the schemas check, so that a payload built in Go
// meets the same limits. It returns an *Error with CodeInvalidData naming the field
// and the limit, or nil. DecodeData calls it.
func CheckLimits(payload any) error {
	var c limitChecker
	switch d := payload.(type) {
	case *JobCreated:
		c.text("channelReference", d.ChannelReference, "channelReference", MaxReferenceBytes)
		c.text("notes", d.Notes, "notes", MaxNoteBytes)
		c.between("priority", d.Priority, MinPriority, MaxPriority)
		c.seconds("timeToLiveSeconds", d.TimeToLiveSeconds)
		c.labels("labels", d.Labels)
		c.tags("tags", d.Tags)
		c.selectors("requestedWorkerSelectors", d.WorkerSelectors)
	case *JobUpdate:
		if d.Reclassify != nil {
			c.labels("reclassify/labelsToUpsert", d.Reclassify.LabelsToUpsert)
		}
	case *WorkerRegister:
		c.labels("labels", d.Labels)
		c.tags("tags", d.Tags)
		c.count("queues", len(d.Queues), "queues", MaxWorkerQueues)
		c.count("channels", len(d.Channels), "channels", MaxWorkerChannels)
		if d.TotalCapacity != nil {
			c.between("totalCapacity", *d.TotalCapacity, 1, MaxCapacity)
		}
		if d.MaxConcurrentOffers != nil {
			c.between("maxConcurrentOffers", *d.MaxConcurrentOffers, 0, MaxCapacity)
		}
		for i, ch := range d.Channels {
			f := fmt.Sprintf("channels/%d/", i)
			c.between(f+"capacityCostPerJob", ch.CapacityCostPerJob, 1, MaxCapacity)
			c.between(f+"maxNumberOfJobs", ch.MaxNumberOfJobs, 0, MaxCapacity)
		}
	case *JobComplete:
		c.text("note", d.Note, "note", MaxNoteBytes)
	case *JobClose:
		c.text("dispositionCode", d.DispositionCode, "dispositionCode", MaxDispositionCodeBytes)
		c.text("note", d.Note, "note", MaxNoteBytes)
	case *JobCancel:
		c.text("dispositionCode", d.DispositionCode, "dispositionCode", MaxDispositionCodeBytes)
		c.text("note", d.Note, "note", MaxNoteBytes)
	case *PolicyPut:
		c.policy(d)
	case *PolicyApply:
		c.count("puts", len(d.Puts)+len(d.Deletes), "puts and deletes", MaxPolicyApplyItems)
		for i := range d.Puts {
			var pc limitChecker
			pc.policy(&d.Puts[i])
			if pc.err != nil && c.err == nil {
				f := fmt.Sprintf("puts/%d/", i)
				c.err = Errorf(pc.err.Code, f+pc.err.Field, "%s%s", f, pc.err.Message)
			}
		}
	}
	if c.err != nil {
		return c.err
	}
	return nil
}

// limitChecker keeps the first limit a payload breaks.
type limitChecker struct{ err *Error }

// CheckLabels checks labels as a whole against the limits of a job's or worker's
// labels (number, keys, values, nesting, size), naming field: for labels the router
// makes itself, such as a job's labels with a reclassify's labelsToUpsert merged in.
func CheckLabels(field string, l Labels) error {
	var c limitChecker
	c.labels(field, l)
	if c.err == nil {
		return nil
	}
	return c.err
}

func (c *limitChecker) fail(field, format string, args ...any) {
	if c.err == nil {
		c.err = Errorf(CodeInvalidData, field, field+": "+format, args...)
	}
}

// text checks that s, called what, is at most limit bytes.
func (c *limitChecker) text(field, s, what string, limit int) {
	if len(s) > limit {
		c.fail(field, "%s is %d bytes; the limit is %d", what, len(s), limit)
	}
}

func (c *limitChecker) count(field string, n int, what string, limit int) {
	if n > limit {
		c.fail(field, "%d %s; the limit is %d", n, what, limit)
	}
}

func (c *limitChecker) between(field string, n, lo, hi int) {
	if n < lo || n > hi {
		c.fail(field, "%d is out of range; the limits are %d and %d", n, lo, hi)
	}
}

func (c *limitChecker) seconds(field string, s float64) {
	if s < 0 || s > MaxDurationSeconds {
		c.fail(field, "%g seconds is out of range; the limits are 0 and %d", s, MaxDurationSeconds)
	}
}

// labels checks labels: their number, every key and string at any depth, the
// nesting and the entries of every array and object in a value, no null anywhere, and
// their size together (LabelsSize).
func (c *limitChecker) labels(field string, l Labels) {
	c.count(field, len(l), "labels", MaxLabels)
	c.labelEntries(field, l, 0)
	if c.err == nil {
		if n := LabelsSize(l); n > MaxLabelsBytes {
			c.fail(field, "the labels are %d bytes as JSON; the limit is %d", n, MaxLabelsBytes)
		}
	}
}

// labelEntries checks the keys of an object of labels and their values, found inside
// depth arrays and objects.
func (c *limitChecker) labelEntries(field string, m map[string]any, depth int) {
	for _, k := range sortedKeys(m) {
		f := field + "/" + pointerToken(k)
		if k == "" {
			c.fail(f, "a label key must not be empty")
		}
		c.text(f, k, "label key", MaxKeyBytes)
		c.labelValue(f, m[k], depth)
	}
}

// labelValue checks a label value found inside depth arrays and objects.
func (c *limitChecker) labelValue(field string, v any, depth int) {
	deep := func() bool {
		if depth >= MaxLabelDepth {
			c.fail(field, "a label value nests arrays and objects more than %d levels deep (the limit)", MaxLabelDepth)
			return true
		}
		return false
	}
	switch v := v.(type) {
	case nil:
		c.fail(field, "a label value must not be null (leave the key out)")
	case string:
		c.text(field, v, "label value", MaxLabelValueBytes)
	case map[string]any:
		if deep() {
			return
		}
		c.count(field, len(v), "entries", MaxLabelItems)
		c.labelEntries(field, v, depth+1)
	case []any:
		if deep() {
			return
		}
		c.count(field, len(v), "elements", MaxLabelItems)
		for i, x := range v {
			c.labelValue(fmt.Sprintf("%s/%d", field, i), x, depth+1)
		}
	case bool, float64, float32, int, int64, int32, uint, uint64, uint32:
	default: // decoded JSON never holds another type; labels built in Go may
		c.fail(field, "a label value must be a string, number, boolean, array or object (got %T)", v)
	}
}

// LabelsSize is the size of l written as compact JSON, each key and string counted
// in its UTF-8 bytes without escapes, numbers in their shortest form: what
// MaxLabelsBytes bounds.
func LabelsSize(l Labels) int { return jsonSize(map[string]any(l)) }

func jsonSize(v any) int {
	switch x := v.(type) {
	case nil:
		return len("null")
	case string:
		return len(x) + 2
	case bool:
		if x {
			return len("true")
		}
		return len("false")
	case float64:
		return len(strconv.FormatFloat(x, 'g', -1, 64))
	case map[string]any:
		n := 2 + max(len(x)-1, 0) // braces and commas
		for k, e := range x {
			n += len(k) + 3 + jsonSize(e) // quotes and colon
		}
		return n
	case Labels:
		return jsonSize(map[string]any(x))
	case []any:
		n := 2 + max(len(x)-1, 0)
		for _, e := range x {
			n += jsonSize(e)
		}
		return n
	}
	b, err := json.Marshal(v) // another Go type, in a payload built in Go
	if err != nil {
		return 0
	}
	return len(b)
}

func (c *limitChecker) tags(field string, t map[string]any) {
	c.count(field, len(t), "tags", MaxTags)
	c.tagObject(field, t)
}

// tagObject and tagValue walk a tag value: every key and string within their limits,
// every nested object and array with at most MaxTags entries. (Decode already bounded
// the depth.)
func (c *limitChecker) tagObject(field string, m map[string]any) {
	for _, k := range sortedKeys(m) {
		f := field + "/" + pointerToken(k)
		c.text(f, k, "tag key", MaxKeyBytes)
		c.tagValue(f, m[k])
	}
}

func (c *limitChecker) tagValue(field string, v any) {
	switch v := v.(type) {
	case string:
		c.text(field, v, "tag value", MaxTagValueBytes)
	case map[string]any:
		c.count(field, len(v), "entries", MaxTags)
		c.tagObject(field, v)
	case []any:
		c.count(field, len(v), "entries", MaxTags)
		for i, x := range v {
			c.tagValue(fmt.Sprintf("%s/%d", field, i), x)
		}
	}
}

func (c *limitChecker) selectors(field string, ss []WorkerSelector) {
	c.count(field, len(ss), "worker selectors", MaxWorkerSelectors)
	for i, s := range ss {
		f := fmt.Sprintf("%s/%d/", field, i)
		c.text(f+"key", s.Key, "selector key", MaxKeyBytes)
		if v, ok := s.Value.(string); ok {
			c.text(f+"value", v, "selector value", MaxLabelValueBytes)
		}
		c.seconds(f+"expiresAfterSeconds", s.ExpiresAfterSeconds)
	}
}

// policy checks the byte lengths in a policy's spec (the schema has checked the
// counts, and characters). A spec that does not decode is left to the engine, which
// says what is wrong with it.
func (c *limitChecker) policy(p *PolicyPut) {
	switch p.Kind {
	case KindQueue:
		var s QueueSpec
		if json.Unmarshal(p.Spec, &s) == nil {
			c.text("spec/name", s.Name, "name", MaxNameBytes)
			c.labels("spec/labels", s.Labels)
		}
	case KindDistributionPolicy:
		var s DistributionPolicySpec
		if json.Unmarshal(p.Spec, &s) == nil {
			c.text("spec/name", s.Name, "name", MaxNameBytes)
		}
	case KindWorkflow:
		var s WorkflowSpec
		if json.Unmarshal(p.Spec, &s) == nil {
			c.text("spec/name", s.Name, "name", MaxNameBytes)
			for i, f := range s.Filters {
				c.text(fmt.Sprintf("spec/filters/%d/name", i), f.Name, "name", MaxNameBytes)
			}
		}
	case KindExceptionPolicy:
		var s ExceptionPolicySpec
		if json.Unmarshal(p.Spec, &s) == nil {
			c.text("spec/name", s.Name, "name", MaxNameBytes)
			for i, r := range s.Rules {
				for j, a := range r.Actions {
					f := fmt.Sprintf("spec/rules/%d/actions/%d/", i, j)
					c.text(f+"dispositionCode", a.DispositionCode, "dispositionCode", MaxDispositionCodeBytes)
					c.text(f+"note", a.Note, "note", MaxNoteBytes)
					c.labels(f+"labelsToUpsert", a.LabelsToUpsert)
					c.selectors(f+"workerSelectors", a.WorkerSelectors)
				}
			}
		}
	case KindActivity:
		var s ActivitySpec
		if json.Unmarshal(p.Spec, &s) == nil {
			c.text("spec/name", s.Name, "name", MaxNameBytes)
		}
	case KindClassificationPolicy:
		var s ClassificationPolicySpec
		if json.Unmarshal(p.Spec, &s) == nil {
			c.text("spec/name", s.Name, "name", MaxNameBytes)
			for i, a := range s.WorkerSelectors {
				f := fmt.Sprintf("spec/workerSelectorAttachments/%d/", i)
				c.text(f+"key", a.Key, "key", MaxKeyBytes)
				c.selectors(f+"selectors", a.Selectors)
				for j, al := range a.Allocations {
					c.selectors(fmt.Sprintf("%sallocations/%d/selectors", f, j), al.Selectors)
				}
			}
			for i, a := range s.QueueSelectors {
				c.text(fmt.Sprintf("spec/queueSelectorAttachments/%d/key", i), a.Key, "key", MaxKeyBytes)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pointerToken escapes a key as an RFC 6901 pointer token, as the schema errors do.
func pointerToken(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}
