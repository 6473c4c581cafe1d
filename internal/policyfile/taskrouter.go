package policyfile

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/events"
)

// A TaskRouter workflow configuration (the JSON that TaskRouter's console and API
// use) is translated into a patchbay workflow field by field:
//
//	task_routing.filters[i]                      spec/filters/i
//	  filter_friendly_name                       name ("filter i" when absent)
//	  expression                                 expression (passed through as is)
//	  targets[k]                                 targets/k
//	    queue                                    queue (see QueueMap)
//	    expression                               expression (as is)
//	    order_by                                 orderBy (as is)
//	    priority                                 priority (an integer, -100..100)
//	    timeout                                  timeoutSeconds (0..604800)
//	    skip_if                                  skipIf (as is)
//	    known_worker_sid                         knownWorker (a task attribute: "task.x")
//	task_routing.default_filter                  spec/defaultFilter (a target)
//
// Anything else is refused with its JSON path and why: patchbay never approximates.

// TaskRouterQueueSID is the form of a TaskRouter task queue SID: such a value must be
// mapped to a patchbay queue id (it would otherwise name a queue nobody serves).
var TaskRouterQueueSID = regexp.MustCompile(`^WQ[0-9a-fA-F]{32}$`)

// taskRouterUnsupported says why a TaskRouter target field has no equivalent.
var taskRouterUnsupported = map[string]string{
	"known_worker_friendly_name": "patchbay routes to a known worker by id only: put the patchbay worker id in a task attribute and name it in known_worker_sid (\"task.<attribute>\")",
}

// trProblems collects the problems of a translation, each at its JSON path.
type trProblems struct {
	root string // prefix of every path, e.g. "p.yaml: workflows[0].taskRouter"
	list []string
}

func (p *trProblems) add(path, format string, args ...any) {
	if path != "" {
		path += ": "
	}
	p.list = append(p.list, p.root+path+fmt.Sprintf(format, args...))
}

// IsTaskRouterWorkflow reports whether a parsed document is a TaskRouter workflow
// configuration: an object whose only key is task_routing.
func IsTaskRouterWorkflow(doc map[string]any) bool {
	_, ok := doc["task_routing"]
	return ok
}

// TranslateTaskRouter turns a TaskRouter workflow configuration (a decoded JSON or
// YAML object, or a string holding the JSON, as TaskRouter's API returns it) into a
// patchbay workflow spec. queues maps TaskRouter queue SIDs or names to patchbay
// queue ids; a queue value not in it is taken as a patchbay queue id if it is one
// (and not a TaskRouter SID). name is the workflow's display name (may be empty).
// The problems name the JSON path of each field that cannot be translated exactly,
// prefixed with root.
func TranslateTaskRouter(root string, doc any, queues map[string]string, name string) (*events.WorkflowSpec, []string) {
	p := &trProblems{root: root}
	if s, ok := doc.(string); ok {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			p.add("", "not a TaskRouter workflow configuration: not JSON: %v", err)
			return nil, p.list
		}
		doc = v
	}
	top, ok := object(p, "", doc)
	if !ok {
		return nil, p.list
	}
	spec := &events.WorkflowSpec{Name: name, Filters: []events.WorkflowFilter{}}
	for _, k := range sortedKeys(top) {
		if k != "task_routing" {
			p.add(k, "not supported: a TaskRouter workflow configuration has only task_routing")
		}
	}
	tr, ok := object(p, "task_routing", top["task_routing"])
	if !ok {
		return nil, p.list
	}
	for _, k := range sortedKeys(tr) {
		if k != "filters" && k != "default_filter" {
			p.add("task_routing."+k, "not supported: task_routing has filters and default_filter only")
		}
	}
	if raw, ok := tr["filters"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			p.add("task_routing.filters", "must be a list of filters")
		}
		for i, f := range list {
			if flt, ok := translateFilter(p, fmt.Sprintf("task_routing.filters[%d]", i), i, f, queues); ok {
				spec.Filters = append(spec.Filters, flt)
			}
		}
	}
	if raw, ok := tr["default_filter"]; ok && raw != nil {
		if t, ok := translateTarget(p, "task_routing.default_filter", raw, queues); ok {
			spec.DefaultFilter = &t
		}
	}
	if len(spec.Filters) == 0 && spec.DefaultFilter == nil && len(p.list) == 0 {
		p.add("task_routing", "has neither filters nor a default_filter: no task could be routed")
	}
	if len(p.list) > 0 {
		return nil, p.list
	}
	return spec, nil
}

func translateFilter(p *trProblems, path string, i int, raw any, queues map[string]string) (events.WorkflowFilter, bool) {
	f := events.WorkflowFilter{Name: fmt.Sprintf("filter %d", i)}
	m, ok := object(p, path, raw)
	if !ok {
		return f, false
	}
	n := len(p.list)
	for _, k := range sortedKeys(m) {
		v := m[k]
		switch k {
		case "filter_friendly_name":
			f.Name, _ = str(p, path+"."+k, v)
		case "expression":
			f.Expression, _ = str(p, path+"."+k, v)
		case "targets":
			list, ok := v.([]any)
			if !ok {
				p.add(path+".targets", "must be a list of targets")
				continue
			}
			for j, t := range list {
				if tt, ok := translateTarget(p, fmt.Sprintf("%s.targets[%d]", path, j), t, queues); ok {
					f.Targets = append(f.Targets, tt)
				}
			}
		default:
			p.add(path+"."+k, "not supported: a filter has filter_friendly_name, expression and targets")
		}
	}
	if _, ok := m["expression"]; !ok {
		p.add(path+".expression", "is required (use \"1==1\" for a filter every task matches)")
	}
	if len(f.Targets) == 0 && len(p.list) == n {
		p.add(path+".targets", "a filter needs at least one target")
	}
	return f, len(p.list) == n
}

func translateTarget(p *trProblems, path string, raw any, queues map[string]string) (events.WorkflowTarget, bool) {
	var t events.WorkflowTarget
	m, ok := object(p, path, raw)
	if !ok {
		return t, false
	}
	n := len(p.list)
	for _, k := range sortedKeys(m) {
		v, at := m[k], path+"."+k
		switch k {
		case "queue":
			if s, ok := str(p, at, v); ok {
				t.Queue = mapQueue(p, at, s, queues)
			}
		case "expression":
			t.Expression, _ = str(p, at, v)
		case "order_by":
			t.OrderBy, _ = str(p, at, v)
		case "skip_if":
			t.SkipIf, _ = str(p, at, v)
		case "priority":
			if n, ok := integer(p, at, v); ok {
				if n < events.MinPriority || n > events.MaxPriority {
					p.add(at, "%d is outside patchbay's priorities (%d to %d, higher first); TaskRouter's larger priorities have no equivalent", n, events.MinPriority, events.MaxPriority)
				} else {
					pr := int(n)
					t.Priority = &pr
				}
			}
		case "timeout":
			if n, ok := number(p, at, v); ok {
				if n < 0 || n > events.MaxDurationSeconds {
					p.add(at, "%g seconds is outside 0 to %d (a week)", n, events.MaxDurationSeconds)
				} else {
					t.TimeoutSeconds = n
				}
			}
		case "known_worker_sid":
			if s, ok := str(p, at, v); ok {
				rest, isAttr := strings.CutPrefix(s, "task.")
				if !isAttr || rest == "" {
					p.add(at, "%q: patchbay takes a task attribute holding the worker id (\"task.<attribute>\"), not a literal worker SID", s)
				} else {
					t.KnownWorker = s
				}
			}
		default:
			if why, ok := taskRouterUnsupported[k]; ok {
				p.add(at, "not supported: %s", why)
			} else {
				p.add(at, "not supported: a target has queue, expression, order_by, priority, timeout, skip_if and known_worker_sid")
			}
		}
	}
	if _, ok := m["queue"]; !ok {
		p.add(path+".queue", "is required")
	}
	return t, len(p.list) == n
}

// mapQueue is the patchbay queue id for a TaskRouter queue value: its entry in the
// queue map, else the value itself when it is a patchbay queue id and not a
// TaskRouter SID.
func mapQueue(p *trProblems, path, v string, queues map[string]string) string {
	if id, ok := queues[v]; ok {
		return id
	}
	switch {
	case TaskRouterQueueSID.MatchString(v):
		p.add(path, "the TaskRouter queue %s is not in the queue map (taskRouterQueues in the policy file, or --queue-map): map it to a patchbay queue id", v)
	case !events.ValidID(v):
		p.add(path, "%q is not a patchbay queue id (1 to 128 letters, digits, '-' or '_') and is not in the queue map (taskRouterQueues, or --queue-map)", v)
	default:
		return v
	}
	return ""
}

func object(p *trProblems, path string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		where := path
		if where == "" {
			where = "the document"
		}
		p.add(path, "%s must be an object", where)
	}
	return m, ok
}

func str(p *trProblems, path string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		p.add(path, "must be a string")
	}
	return s, ok
}

// number reads a JSON or YAML number, or a string holding one (TaskRouter's console
// writes some numbers as strings).
func number(p *trProblems, path string, v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		if !math.IsNaN(n) && !math.IsInf(n, 0) {
			return n, true
		}
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	p.add(path, "must be a number")
	return 0, false
}

func integer(p *trProblems, path string, v any) (int64, bool) {
	f, ok := number(p, path, v)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		p.add(path, "must be an integer (got %g)", f)
		return 0, false
	}
	return int64(f), true
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// taskRouterPath maps a field of a workflow translated from TaskRouter
// ("spec/filters/0/targets/1/expression") back to its TaskRouter JSON path
// ("task_routing.filters[0].targets[1].expression"); "" when it has none.
func taskRouterPath(field string) string {
	names := map[string]string{"name": "filter_friendly_name", "orderBy": "order_by", "skipIf": "skip_if",
		"timeoutSeconds": "timeout", "knownWorker": "known_worker_sid", "expression": "expression",
		"queue": "queue", "priority": "priority"}
	parts := strings.Split(strings.TrimPrefix(field, "spec/"), "/")
	var b strings.Builder
	b.WriteString("task_routing")
	for i := 0; i < len(parts); i++ {
		switch parts[i] {
		case "filters", "targets":
			b.WriteString("." + parts[i])
			if i+1 < len(parts) {
				if _, err := strconv.Atoi(parts[i+1]); err == nil {
					b.WriteString("[" + parts[i+1] + "]")
					i++
				}
			}
		case "defaultFilter":
			b.WriteString(".default_filter")
		default:
			tr, ok := names[parts[i]]
			if !ok {
				return ""
			}
			b.WriteString("." + tr)
		}
	}
	return b.String()
}
