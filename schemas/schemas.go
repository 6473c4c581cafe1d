// Package schemas is patchbay's machine-readable wire contract: one JSON Schema
// (draft 2020-12) per CloudEvent data payload, an AsyncAPI 3.0 document naming every
// subject and message, and golden sample events in testdata/.
//
// The schemas are embedded and compiled once, on first use. ValidateData checks an
// event's data against the schema of its type and reports the first problem as an
// *events.Error with code invalid_data, the offending field and a one-line message,
// so the router can refuse a bad command before it reaches the engine:
//
//	if err := schemas.ValidateData(events.Type(e.Type()), e.Data()); err != nil {
//		// reply io.patchbay.command.failed with events.AsError(err)
//	}
//
// The Go payload types in package events and these schemas describe the same JSON;
// the tests keep them in step.
package schemas

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/patchbay/patchbay/events"
)

//go:embed *.schema.json asyncapi.yaml
var files embed.FS

// Files returns the embedded contract files: every *.schema.json and asyncapi.yaml.
func Files() fs.FS { return files }

// baseURL is where the embedded schemas are registered with the compiler; relative
// $refs between them resolve against it. Nothing is ever fetched from it.
const baseURL = "https://schemas.patchbay.invalid/"

// The snapshot schemas shared by outbound types, and the worker update schema.
const (
	jobSchema    = "job.schema.json"
	offerSchema  = "offer.schema.json"
	workerSchema = "worker.schema.json"
	policySchema = "policy.schema.json"
	updateSchema = "worker.register.schema.json#/$defs/update"
	resultSchema = "query.result.schema.json"
)

// SchemaName returns the schema of t's data, relative to Files(): a file name such as
// "job.created.schema.json", or for io.patchbay.worker.update a file name and a JSON
// pointer fragment ("worker.register.schema.json#/$defs/update"). The queries
// (events.Queries) have their own schemas, and io.patchbay.query.result one schema for
// every answer (a JobInfo, a QueueInfo, a WorkerInfo, a list, a PolicyInfo, an
// Explanation or a JobHistory). It returns "" for a type outside the catalog.
func SchemaName(t events.Type) string {
	switch t {
	case events.TypeWorkerUpdate:
		return updateSchema
	case events.TypeJobReceived, events.TypeJobQueued, events.TypeJobRejected, events.TypeJobAssigned,
		events.TypeJobCompleted, events.TypeJobClosed, events.TypeJobCancelled, events.TypeJobExceptionTriggered,
		events.TypeJobClassified, events.TypeJobClassificationFailed,
		events.TypeJobScheduled, events.TypeJobWaitingForActivation, events.TypeJobSuspended, events.TypeJobUnassigned:
		return jobSchema
	case events.TypeOfferIssued, events.TypeOfferAccepted, events.TypeOfferDeclined,
		events.TypeOfferExpired, events.TypeOfferRevoked:
		return offerSchema
	case events.TypeWorkerRegistered, events.TypeWorkerUpdated, events.TypeWorkerDeregistered,
		events.TypeWorkerDisconnected, events.TypeWorkerReconnected:
		return workerSchema
	case events.TypePolicyUpdated, events.TypePolicyDeleted:
		return policySchema
	case events.TypeQueryResult:
		return resultSchema
	case events.TypeQueryJob, events.TypeQueryQueue, events.TypeQueryWorker,
		events.TypeQueryJobs, events.TypeQueryWorkers, events.TypeQueryQueues, events.TypeQueryPolicies, events.TypeQueryPolicy,
		events.TypeQueryExplain, events.TypeQueryHistory,
		events.TypeCommandSucceeded, events.TypeCommandFailed:
		return t.Name() + ".schema.json"
	}
	if t.IsInbound() {
		return t.Name() + ".schema.json"
	}
	return ""
}

// Types lists every type with a schema: the inbound commands, the outbound events
// and the queries, in catalog order.
func Types() []events.Type {
	return slices.Concat(events.Inbound(), events.Outbound(), events.Queries())
}

// catalog holds the compiled schema of every type, built once.
var catalog = sync.OnceValues(compile)

func compile() (map[events.Type]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	names, err := fs.Glob(files, "*.schema.json")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", name, err)
		}
		if err := c.AddResource(baseURL+name, doc); err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", name, err)
		}
	}
	byName := map[string]*jsonschema.Schema{}
	out := map[events.Type]*jsonschema.Schema{}
	for _, t := range Types() {
		name := SchemaName(t)
		if name == "" {
			return nil, fmt.Errorf("schemas: no schema for %s", t)
		}
		if byName[name] == nil {
			s, err := c.Compile(baseURL + name)
			if err != nil {
				return nil, fmt.Errorf("schemas: compile %s: %w", name, err)
			}
			byName[name] = s
		}
		out[t] = byName[name]
	}
	return out, nil
}

// ValidateData checks data, the JSON data of a CloudEvent of type t, against t's
// schema. It returns nil when the data is valid; otherwise an *events.Error with
// CodeInvalidData naming the first failing property (a slash-separated path such as
// "queueId" or "requestedWorkerSelectors/0/labelOperator", or "data" when the data as
// a whole is wrong) and a one-line message, or CodeUnknownType when t is not in the
// catalog. It is safe for concurrent use.
func ValidateData(t events.Type, data []byte) error {
	all, err := catalog()
	if err != nil {
		return events.Errorf(events.CodeInternal, "", "%v", err)
	}
	s := all[t]
	if s == nil {
		return events.Errorf(events.CodeUnknownType, "", "unknown event type %q", t)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return events.Errorf(events.CodeInvalidData, "data", "data: missing (the event has no data)")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return events.Errorf(events.CodeInvalidData, "data", "data: not valid JSON: %v", err)
	}
	err = s.Validate(v)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return events.Errorf(events.CodeInvalidData, "data", "data: %v", err)
	}
	field, msg := describe(first(ve))
	whole := &events.Error{Code: events.CodeInvalidData, Field: field, Message: msg}
	if t == events.TypePolicyApply {
		return applyProblems(all, v, whole)
	}
	return whole
}

// applyProblems is the refusal of a policy.apply that fails its schema: the first
// problem of every put and delete that fails its own schema (a policy.apply refusal
// names every problem), each at its place in the data ("puts/1/spec/mode/kind"), and
// whole, the first problem of the data, when it lies outside them. The engine's own
// checks (revisions, references, policies in use) run once the data passes.
func applyProblems(all map[events.Type]*jsonschema.Schema, v any, whole *events.Error) *events.Error {
	var problems []*events.Error
	m, _ := v.(map[string]any)
	for _, list := range []struct {
		key string
		t   events.Type
	}{{"puts", events.TypePolicyPut}, {"deletes", events.TypePolicyDelete}} {
		items, _ := m[list.key].([]any)
		for i, it := range items {
			err := all[list.t].Validate(it)
			ve, ok := err.(*jsonschema.ValidationError)
			if !ok {
				continue
			}
			field, msg := describe(first(ve))
			at := fmt.Sprintf("%s/%d", list.key, i)
			problems = append(problems, &events.Error{Code: events.CodeInvalidData, Field: at + "/" + field, Message: at + "/" + msg})
		}
	}
	// The data around the items: checked with the lists emptied (their sizes kept).
	if m != nil {
		outer := map[string]any{}
		for k, x := range m {
			if items, ok := x.([]any); ok && (k == "puts" || k == "deletes") {
				x = make([]any, len(items))
				for i := range items {
					x.([]any)[i] = nil
				}
				if len(items) <= events.MaxPolicyApplyItems {
					x = []any{}
				}
			}
			outer[k] = x
		}
		if ve, ok := all[events.TypePolicyApply].Validate(outer).(*jsonschema.ValidationError); ok {
			field, msg := describe(first(ve))
			problems = append([]*events.Error{{Code: events.CodeInvalidData, Field: field, Message: msg}}, problems...)
		}
	} else {
		problems = []*events.Error{whole}
	}
	if len(problems) == 0 {
		problems = []*events.Error{whole}
	}
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Message
	}
	what := "1 problem"
	if len(problems) > 1 {
		what = fmt.Sprintf("%d problems", len(problems))
	}
	return &events.Error{Code: events.CodeInvalidData, Field: problems[0].Field, Problems: problems,
		Message: fmt.Sprintf("policy apply refused, nothing changed (%s): %s", what, strings.Join(msgs, "; "))}
}

// leaf is one concrete problem: where in the data, and what.
type leaf struct {
	path []string
	kind jsonschema.ErrorKind
	// key is true when the problem is the property name at path, not its value.
	key bool
}

// first returns the problem to report among all of ve's leaves: the one at the first
// path in lexical order (array indexes compared as numbers), so the answer does not
// depend on map iteration order. When no branch of a oneOf matched, only the branch
// that fits best (see closest) is looked at: a problem in the other branches is not
// one the sender made.
func first(ve *jsonschema.ValidationError) leaf {
	var leaves []leaf
	var walk func(e *jsonschema.ValidationError, parent []string)
	walk = func(e *jsonschema.ValidationError, parent []string) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, at(e))
			return
		}
		if k, ok := e.ErrorKind.(*kind.OneOf); ok && k.Subschemas == nil {
			walk(closest(e), e.InstanceLocation)
			return
		}
		if k, ok := e.ErrorKind.(*kind.PropertyNames); ok && len(e.Causes) > 0 {
			// The causes are about the key itself. The library does not keep this
			// error's own location (it shares a buffer), so the key is placed under
			// the location of the object's error, the parent.
			l := first(e.Causes[0])
			leaves = append(leaves, leaf{path: append(slices.Clip(parent), k.Property), kind: l.kind, key: true})
			return
		}
		for _, c := range e.Causes {
			walk(c, e.InstanceLocation)
		}
	}
	walk(ve, nil)
	if len(leaves) == 0 {
		return leaf{kind: ve.ErrorKind}
	}
	return slices.MinFunc(leaves, func(a, b leaf) int { return comparePaths(a.path, b.path) })
}

// closest returns the branch of a failed oneOf that fits the data best: the one with
// the fewest problems at the oneOf's own place (a missing or unknown property, a wrong
// type), so that a problem deep inside the data is reported against the branch the
// data was meant for. Ties go to the earlier branch.
func closest(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	var count func(*jsonschema.ValidationError) int
	count = func(c *jsonschema.ValidationError) int {
		if len(c.Causes) == 0 {
			if slices.Equal(c.InstanceLocation, e.InstanceLocation) {
				return 1
			}
			return 0
		}
		n := 0
		for _, x := range c.Causes {
			n += count(x)
		}
		return n
	}
	best, bestN := e.Causes[0], count(e.Causes[0])
	for _, c := range e.Causes[1:] {
		if n := count(c); n < bestN {
			best, bestN = c, n
		}
	}
	return best
}

// at is e's leaf with the path of the property it is about: a missing required
// property or an unknown one is reported at its own path, not its parent's.
func at(e *jsonschema.ValidationError) leaf {
	p := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		p = append(slices.Clip(p), slices.Min(k.Missing))
	case *kind.AdditionalProperties:
		p = append(slices.Clip(p), slices.Min(k.Properties))
	}
	return leaf{path: p, kind: e.ErrorKind}
}

func comparePaths(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] == b[i] {
			continue
		}
		x, errX := strconv.Atoi(a[i])
		y, errY := strconv.Atoi(b[i])
		if errX == nil && errY == nil {
			return cmp.Compare(x, y)
		}
		return strings.Compare(a[i], b[i])
	}
	return len(a) - len(b)
}

// fieldOf joins a data path as an RFC 6901 pointer without the leading slash.
func fieldOf(path []string) string {
	if len(path) == 0 {
		return "data"
	}
	r := strings.NewReplacer("~", "~0", "/", "~1")
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = r.Replace(p)
	}
	return strings.Join(parts, "/")
}

// idPattern is the pattern of defs.schema.json#/$defs/id, explained in words.
const idPattern = `^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`

var printer = message.NewPrinter(language.English)

// describe turns a leaf into (field, one-line message).
func describe(l leaf) (string, string) {
	field := fieldOf(l.path)
	var what string
	switch k := l.kind.(type) {
	case *kind.Required:
		what = "missing required property"
	case *kind.AdditionalProperties:
		what = "unknown property"
	case *kind.FalseSchema:
		// The only false schema is labels' "^$" pattern property: an empty key.
		if n := len(l.path); n > 0 && l.path[n-1] == "" {
			field = fieldOf(l.path[:n-1])
			what = "keys must not be empty"
		} else {
			what = "not allowed"
		}
	case *kind.Type:
		what = fmt.Sprintf("must be %s (got %s)", article(typeList(k.Want)), k.Got)
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		what = fmt.Sprintf("must be one of %s (got %s)", strings.Join(want, ", "), show(k.Got))
	case *kind.Const:
		what = fmt.Sprintf("must be %s (got %s)", show(k.Want), show(k.Got))
	case *kind.Pattern:
		if k.Want == idPattern {
			what = fmt.Sprintf("must be 1-128 letters, digits, '-' or '_', starting with a letter or digit (got %s)", show(k.Got))
		} else {
			what = fmt.Sprintf("must match %s (got %s)", k.Want, show(k.Got))
		}
	case *kind.Format:
		if k.Want == "date-time" {
			what = fmt.Sprintf("must be an RFC 3339 date-time such as 2025-03-14T09:26:53Z (got %s)", show(k.Got))
		} else {
			what = fmt.Sprintf("must be a valid %s (got %s)", k.Want, show(k.Got))
		}
	case *kind.Minimum:
		what = fmt.Sprintf("must be >= %s (got %s)", num(k.Want), num(k.Got))
	case *kind.Maximum:
		what = fmt.Sprintf("must be <= %s (got %s)", num(k.Want), num(k.Got))
	case *kind.ExclusiveMinimum:
		what = fmt.Sprintf("must be > %s (got %s)", num(k.Want), num(k.Got))
	case *kind.ExclusiveMaximum:
		what = fmt.Sprintf("must be < %s (got %s)", num(k.Want), num(k.Got))
	case *kind.MinItems:
		what = fmt.Sprintf("must have at least %d %s (got %d)", k.Want, plural(k.Want, "item"), k.Got)
	case *kind.MaxItems:
		what = fmt.Sprintf("must have at most %d %s (got %d)", k.Want, plural(k.Want, "item"), k.Got)
	case *kind.MinLength:
		what = fmt.Sprintf("must be at least %d %s long (got %d)", k.Want, plural(k.Want, "character"), k.Got)
	case *kind.MaxLength:
		what = fmt.Sprintf("must be at most %d %s long (got %d)", k.Want, plural(k.Want, "character"), k.Got)
	case *kind.MinProperties:
		what = fmt.Sprintf("must have at least %d %s (got %d)", k.Want, plural(k.Want, "property"), k.Got)
	case *kind.MaxProperties:
		what = fmt.Sprintf("must have at most %d %s (got %d)", k.Want, plural(k.Want, "property"), k.Got)
	case *kind.UniqueItems:
		what = fmt.Sprintf("items %d and %d are equal", k.Duplicates[0], k.Duplicates[1])
	default:
		what = l.kind.LocalizedString(printer)
	}
	if l.key {
		what = "the key " + what
	}
	return field, field + ": " + what
}

// typeOrder is the order JSON types are listed in messages.
var typeOrder = []string{"object", "array", "string", "number", "integer", "boolean", "null"}

// typeList says "string, number or boolean".
func typeList(types []string) string {
	ts := slices.Clone(types)
	slices.SortStableFunc(ts, func(a, b string) int {
		return slices.Index(typeOrder, a) - slices.Index(typeOrder, b)
	})
	if len(ts) <= 1 {
		return strings.Join(ts, "")
	}
	return strings.Join(ts[:len(ts)-1], ", ") + " or " + ts[len(ts)-1]
}

func article(s string) string {
	switch {
	case s == "":
		return s
	case strings.ContainsRune("aeiou", rune(s[0])):
		return "an " + s
	}
	return "a " + s
}

func plural(n int, s string) string {
	switch {
	case n == 1:
		return s
	case strings.HasSuffix(s, "y"):
		return s[:len(s)-1] + "ies"
	}
	return s + "s"
}

// show renders a JSON value for a message, shortened to keep it on one line.
func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return s
}

func num(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
