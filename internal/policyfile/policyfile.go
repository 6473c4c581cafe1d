// Package policyfile reads a file of routing policies (YAML or JSON) into one
// io.patchbay.policy.apply command, and watches it for changes. The file lists each
// kind under its own key, each policy with its id and its spec's fields inline:
//
//	distributionPolicies:
//	  - id: fast
//	    offerExpiresAfterSeconds: 10
//	    mode: {kind: roundRobin, maxConcurrentOffers: 2}
//	queues:
//	  - id: support
//	    distributionPolicyId: fast
//	    order: lifo
//
// A workflow may be given as a TaskRouter workflow configuration instead, under
// taskRouter (the JSON object, or the string TaskRouter's API returns), with its
// queues mapped by the top-level taskRouterQueues (TaskRouter queue SID or name ->
// patchbay queue id):
//
//	taskRouterQueues:
//	  WQ0123456789abcdef0123456789abcdef: sales
//	workflows:
//	  - id: inbound
//	    taskRouter: {task_routing: {filters: [...], default_filter: {queue: sales}}}
//
// A file whose top level is a TaskRouter workflow configuration itself
// ({"task_routing": ...}) is read as one workflow named by Options.WorkflowID. The
// specs are validated by the router, as a whole, when the apply is applied; the file
// is refused here only for what makes it unreadable, with every such problem named.
package policyfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"go.yaml.in/yaml/v3"

	"github.com/patchbay/patchbay/events"
)

// sections maps the file's top-level keys to policy kinds.
var sections = map[string]events.PolicyKind{
	"queues":                 events.KindQueue,
	"distributionPolicies":   events.KindDistributionPolicy,
	"workflows":              events.KindWorkflow,
	"exceptionPolicies":      events.KindExceptionPolicy,
	"classificationPolicies": events.KindClassificationPolicy,
	"activities":             events.KindActivity,
}

// order is the order of the sections in the apply (and in its reply).
var order = []string{"activities", "distributionPolicies", "classificationPolicies", "exceptionPolicies", "queues", "workflows"}

// QueueMapSection is the top-level key mapping TaskRouter queue SIDs or names to
// patchbay queue ids.
const QueueMapSection = "taskRouterQueues"

// taskRouterKey is the key of a workflow given as a TaskRouter configuration.
const taskRouterKey = "taskRouter"

// Sections lists the top-level keys a policy file may have.
func Sections() []string {
	out := make([]string, 0, len(sections)+1)
	for k := range sections {
		out = append(out, k)
	}
	out = append(out, QueueMapSection)
	sort.Strings(out)
	return out
}

// Options change how a file is read.
type Options struct {
	// QueueMap maps TaskRouter queue SIDs or names to patchbay queue ids, besides
	// the file's own taskRouterQueues (an entry in both must agree).
	QueueMap map[string]string
	// WorkflowID is the id of the workflow a file holds when it is a bare TaskRouter
	// workflow configuration (required then).
	WorkflowID string
}

// File is a policy file read: its policies, and where each is in the file.
type File struct {
	Name string
	Puts []events.PolicyPut
	// Where is, for each put, its place in the file ("queues[0]").
	Where []string
	// fromTaskRouter marks the puts translated from a TaskRouter configuration.
	fromTaskRouter []bool
}

// Apply is the file as one policy.apply command.
func (f *File) Apply(prune, dryRun bool) events.PolicyApply {
	return events.PolicyApply{Puts: f.Puts, Prune: prune, DryRun: dryRun}
}

// Locate says where in the file a problem of the apply's field lies: "puts/3/spec/order"
// becomes "queues[0] (queue support): spec/order", and a field of a workflow
// translated from TaskRouter is given as its TaskRouter JSON path. Other fields are
// returned as they are.
func (f *File) Locate(field string) string {
	rest, ok := strings.CutPrefix(field, "puts/")
	if !ok {
		return field
	}
	idx, sub, _ := strings.Cut(rest, "/")
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || i >= len(f.Puts) {
		return field
	}
	p := f.Puts[i]
	where := fmt.Sprintf("%s (%s %s)", f.Where[i], p.Kind, p.ID)
	if f.fromTaskRouter[i] {
		if tr := taskRouterPath(sub); tr != "" {
			return where + ": " + tr
		}
	}
	if sub == "" {
		return where
	}
	return where + ": " + sub
}

// Parse reads the policies in data (YAML or JSON; name is used in errors). It
// returns every problem that makes the file unreadable, each with its place.
func Parse(name string, data []byte, opts Options) (*File, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not YAML or JSON: %w", name, err)
	}
	f := &File{Name: name}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, name+": "+fmt.Sprintf(format, args...)) }

	if IsTaskRouterWorkflow(doc) {
		if err := events.CheckID("--workflow-id", opts.WorkflowID); err != nil {
			return nil, fmt.Errorf("%s is a TaskRouter workflow configuration: name the workflow with --workflow-id: %w", name, err)
		}
		spec, probs := TranslateTaskRouter(name+": ", doc, opts.QueueMap, "")
		if len(probs) > 0 {
			return nil, errors.New(strings.Join(probs, "\n"))
		}
		f.add(events.KindWorkflow, opts.WorkflowID, mustJSON(spec), "the TaskRouter workflow", true)
		return f, nil
	}

	queues, err := queueMap(doc[QueueMapSection], opts.QueueMap)
	if err != nil {
		fail("%s: %v", QueueMapSection, err)
	}
	for key := range doc {
		if _, ok := sections[key]; !ok && key != QueueMapSection {
			fail("unknown section %q (want %v)", key, Sections())
		}
	}
	for _, key := range order {
		list, ok := doc[key]
		if !ok {
			continue
		}
		items, ok := list.([]any)
		if !ok {
			fail("%s must be a list", key)
			continue
		}
		seen := map[string]bool{}
		for i, it := range items {
			where := fmt.Sprintf("%s[%d]", key, i)
			m, ok := it.(map[string]any)
			if !ok {
				fail("%s must be a mapping with an id", where)
				continue
			}
			id, _ := m["id"].(string)
			if err := events.CheckID("id", id); err != nil {
				fail("%s: %v", where, err)
				continue
			}
			if seen[id] {
				fail("%s: id %q is listed twice", where, id)
				continue
			}
			seen[id] = true
			spec := map[string]any{}
			for k, v := range m {
				if k != "id" {
					spec[k] = v
				}
			}
			if tr, ok := spec[taskRouterKey]; ok && key == "workflows" {
				raw, probs := taskRouterSpec(name+": "+where+"."+taskRouterKey, spec, tr, queues)
				problems = append(problems, probs...)
				if raw != nil {
					f.add(events.KindWorkflow, id, raw, where, true)
				}
				continue
			}
			raw, err := json.Marshal(spec)
			if err != nil {
				fail("%s: %v", where, err)
				continue
			}
			f.add(sections[key], id, raw, where, false)
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return f, nil
}

func (f *File) add(kind events.PolicyKind, id string, spec json.RawMessage, where string, fromTaskRouter bool) {
	f.Puts = append(f.Puts, events.PolicyPut{Kind: kind, ID: id, Spec: spec})
	f.Where = append(f.Where, where)
	f.fromTaskRouter = append(f.fromTaskRouter, fromTaskRouter)
}

// taskRouterSpec translates a workflow item given as a TaskRouter configuration; the
// item may have a name besides.
func taskRouterSpec(root string, item map[string]any, tr any, queues map[string]string) (json.RawMessage, []string) {
	name, _ := item["name"].(string)
	var probs []string
	for k := range item {
		if k != taskRouterKey && k != "name" {
			probs = append(probs, fmt.Sprintf("%s: %s: a workflow given as taskRouter has an id, a name and taskRouter only", strings.TrimSuffix(root, "."+taskRouterKey), k))
		}
	}
	spec, trProbs := TranslateTaskRouter(root+": ", tr, queues, name)
	probs = append(probs, trProbs...)
	if len(probs) > 0 {
		return nil, probs
	}
	return mustJSON(spec), nil
}

// queueMap merges the file's taskRouterQueues with the map given by the caller.
func queueMap(section any, given map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var problems []string
	if section != nil {
		m, ok := section.(map[string]any)
		if !ok {
			return given, errors.New("must be a mapping from TaskRouter queue SIDs or names to patchbay queue ids")
		}
		for k, v := range m {
			id, _ := v.(string)
			if !events.ValidID(id) {
				problems = append(problems, fmt.Sprintf("%s: %v is not a patchbay queue id", k, v))
				continue
			}
			out[k] = id
		}
	}
	for k, id := range given {
		if have, ok := out[k]; ok && have != id {
			problems = append(problems, fmt.Sprintf("%s maps to %q here and to %q in the queue map given", k, have, id))
		}
		out[k] = id
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return out, errors.New(strings.Join(problems, "; "))
	}
	return out, nil
}

// ReadQueueMap reads a queue map file (YAML or JSON): TaskRouter queue SIDs or names
// to patchbay queue ids.
func ReadQueueMap(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]string
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: not a mapping from TaskRouter queues to patchbay queue ids: %w", path, err)
	}
	for k, id := range m {
		if !events.ValidID(id) {
			return nil, fmt.Errorf("%s: %s: %q is not a patchbay queue id", path, k, id)
		}
	}
	return m, nil
}

// Read parses the file at path.
func Read(path string, opts Options) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, opts)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("policyfile: encode: %v", err))
	}
	return b
}

// Watch calls apply with the file's policies now and after every change of the file
// (writes, and editors' rename-and-replace), until ctx ends. A file that does not
// parse is reported to onError and skipped until it changes again.
func Watch(ctx context.Context, path string, opts Options, apply func(*File), onError func(error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		_ = w.Close()
		return err
	}
	// Watch the directory: an editor that replaces the file would end a watch on it.
	if err := w.Add(filepath.Dir(abs)); err != nil {
		_ = w.Close()
		return fmt.Errorf("watch %s: %w", path, err)
	}
	load := func() {
		f, err := Read(abs, opts)
		if err != nil {
			onError(err)
			return
		}
		f.Name = path
		apply(f)
	}
	load()
	go func() {
		defer w.Close()
		var debounce <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					debounce = time.After(100 * time.Millisecond) // let the writer finish
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				onError(err)
			case <-debounce:
				debounce = nil
				load()
			}
		}
	}()
	return nil
}
