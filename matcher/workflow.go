package matcher

import (
	"fmt"
	"strings"
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/expr"
	"github.com/patchbay/patchbay/lifecycle"
)

// workflow is a workflow spec compiled once, when it is stored.
type workflow struct {
	filters []wfFilter
	def     *wfTarget
}

type wfFilter struct {
	name    string
	expr    *expr.Expr
	targets []wfTarget
}

type wfTarget struct {
	spec    events.WorkflowTarget
	expr    *expr.Expr // nil: every worker of the queue
	skipIf  *expr.Expr
	orderBy OrderBy
	known   []string // the job label path holding the known worker's id
}

// compileWorkflow validates a workflow spec and compiles its expressions; an error
// names the field, e.g. spec/filters/0/targets/1/expression, and lists every problem
// of the spec (events.Error.Problems) when there are several.
func compileWorkflow(s *events.WorkflowSpec) (*workflow, error) {
	w := &workflow{}
	if len(s.Filters) == 0 && s.DefaultFilter == nil {
		return nil, events.Errorf(events.CodeInvalidData, "spec/filters", "spec/filters: a workflow needs a filter or a defaultFilter")
	}
	var problems []*events.Error
	fail := func(err error) { problems = append(problems, events.AsError(err)) }
	for i, f := range s.Filters {
		field := fmt.Sprintf("spec/filters/%d", i)
		if strings.TrimSpace(f.Name) == "" {
			fail(events.Errorf(events.CodeInvalidData, field+"/name", "%s/name is required", field))
		}
		e, err := compileExpr(field+"/expression", f.Expression, true)
		if err != nil {
			fail(err)
		}
		if len(f.Targets) == 0 {
			fail(events.Errorf(events.CodeInvalidData, field+"/targets", "%s/targets: a filter needs at least one target", field))
		}
		cf := wfFilter{name: f.Name, expr: e}
		for k, t := range f.Targets {
			ct, err := compileTarget(fmt.Sprintf("%s/targets/%d", field, k), t)
			if err != nil {
				fail(err)
			}
			cf.targets = append(cf.targets, ct)
		}
		w.filters = append(w.filters, cf)
	}
	if s.DefaultFilter != nil {
		ct, err := compileTarget("spec/defaultFilter", *s.DefaultFilter)
		if err != nil {
			fail(err)
		}
		w.def = &ct
	}
	if len(problems) > 0 {
		return nil, joinProblems(problems)
	}
	return w, nil
}

// joinProblems is one error for several problems of one spec: the first's code and
// field, and the first maxApplyProblems problems and their messages (the rest are
// counted), so that a refusal always fits in one message.
func joinProblems(problems []*events.Error) *events.Error {
	if len(problems) == 1 {
		return problems[0]
	}
	listed := problems[:min(len(problems), maxApplyProblems)]
	msgs := make([]string, len(listed))
	for i, p := range listed {
		msgs[i] = p.Message
	}
	msg := strings.Join(msgs, "; ")
	if n := len(problems) - len(listed); n > 0 {
		msg += fmt.Sprintf("; and %d more", n)
	}
	return &events.Error{Code: listed[0].Code, Field: listed[0].Field, Message: msg, Problems: listed}
}

func compileExpr(field, src string, required bool) (*expr.Expr, error) {
	if strings.TrimSpace(src) == "" {
		if required {
			return nil, events.Errorf(events.CodeInvalidData, field, "%s is required", field)
		}
		return nil, nil
	}
	e, err := expr.Compile(src)
	if err != nil {
		return nil, events.Errorf(events.CodeInvalidData, field, "%s: %v", field, err)
	}
	return e, nil
}

func compileTarget(field string, t events.WorkflowTarget) (wfTarget, error) {
	ct := wfTarget{spec: t}
	if err := events.CheckID(field+"/queue", t.Queue); err != nil {
		return ct, err
	}
	var err error
	if ct.expr, err = compileExpr(field+"/expression", t.Expression, false); err != nil {
		return ct, err
	}
	if ct.skipIf, err = compileExpr(field+"/skipIf", t.SkipIf, false); err != nil {
		return ct, err
	}
	if ct.orderBy, err = ParseOrderBy(t.OrderBy); err != nil {
		return ct, events.Errorf(events.CodeInvalidData, field+"/orderBy", "%s/%v", field, err)
	}
	if t.Priority != nil && (*t.Priority < -100 || *t.Priority > 100) {
		return ct, events.Errorf(events.CodeInvalidData, field+"/priority", "%s/priority must be between -100 and 100 (got %d)", field, *t.Priority)
	}
	if t.TimeoutSeconds < 0 || t.TimeoutSeconds > events.MaxDurationSeconds {
		return ct, events.Errorf(events.CodeInvalidData, field+"/timeoutSeconds", "%s/timeoutSeconds must be between 0 and %d (got %g)", field, events.MaxDurationSeconds, t.TimeoutSeconds)
	}
	if t.KnownWorker != "" {
		path := strings.TrimPrefix(t.KnownWorker, "task.")
		for _, p := range strings.Split(path, ".") {
			if p == "" {
				return ct, events.Errorf(events.CodeInvalidData, field+"/knownWorker", "%s/knownWorker %q is not a label path like task.preferredAgent", field, t.KnownWorker)
			}
		}
		ct.known = strings.Split(path, ".")
	}
	return ct, nil
}

// taskEnv is the expression environment of a job (bare keys: its labels).
func taskEnv(j *Job) expr.Env {
	return expr.Env{Roots: map[string]any{expr.RootTask: map[string]any(j.Labels)}, Default: expr.RootTask}
}

// route places a new job of a workflow: the first filter that matches, at its first
// target that is not skipped; the default filter when none matches.
func (e *Engine) route(j *Job, wfID string) error {
	p := e.livePolicy(events.KindWorkflow, wfID)
	if p == nil {
		return events.Errorf(events.CodeUnknownPolicy, "workflowId", "no workflow %q", wfID)
	}
	env := taskEnv(j)
	for i, f := range p.wf.filters {
		if f.expr.Eval(env) {
			j.Workflow = &events.WorkflowPosition{WorkflowID: wfID, Filter: f.name, FilterIndex: i, Target: -1}
			if e.advance(j, f.targets) {
				return nil
			}
			break // every target of the matching filter was skipped: the default applies
		}
	}
	if p.wf.def != nil {
		j.Workflow = &events.WorkflowPosition{WorkflowID: wfID, Filter: "default", FilterIndex: -1, Target: -1}
		if e.advance(j, []wfTarget{*p.wf.def}) {
			return nil
		}
	}
	return events.Errorf(events.CodeInvalidData, "workflowId", "workflow %q has no filter or target for this job (and no default filter that takes it)", wfID)
}

// advance moves j to the next target after its current one that is not skipped
// (skipIf holds, or the known worker is missing); false when there is none. The job's
// queue, priority and target deadline follow the target.
func (e *Engine) advance(j *Job, targets []wfTarget) bool {
	for k := j.Workflow.Target + 1; k < len(targets); k++ {
		t := targets[k]
		if t.known != nil && e.knownWorker(j, t) == "" {
			continue
		}
		if t.skipIf != nil && t.skipIf.Eval(e.queueEnv(t.spec.Queue)) {
			continue
		}
		j.Workflow.Target = k
		j.QueueID = t.spec.Queue
		if t.spec.Priority != nil {
			j.Priority = *t.spec.Priority
		}
		j.Workflow.TargetExpiresAt = nil
		if t.spec.TimeoutSeconds > 0 {
			at := j.CreatedAt.Add(time.Duration(t.spec.TimeoutSeconds * float64(time.Second)))
			j.Workflow.TargetExpiresAt = &at
		}
		return true
	}
	return false
}

// queueEnv is the environment of a target's skipIf: workers.available and
// workers.idle of the queue.
func (e *Engine) queueEnv(queueID string) expr.Env {
	available, idle := 0, 0
	for _, w := range e.workers {
		if w.takesOffers() && w.inQueue(queueID) {
			available++
			if w.hasRoom() {
				idle++
			}
		}
	}
	return expr.Env{Roots: map[string]any{"workers": map[string]any{"available": float64(available), "idle": float64(idle)}}, Default: "workers"}
}

// knownWorker is the worker id a known-worker target names for j ("" when missing).
func (e *Engine) knownWorker(j *Job, t wfTarget) string {
	var v any = map[string]any(j.Labels)
	for _, p := range t.known {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

// target is the workflow target j is at (nil for a job without a workflow, or whose
// workflow was deleted or changed so that the position no longer exists).
func (e *Engine) target(j *Job) *wfTarget {
	if j.Workflow == nil {
		return nil
	}
	p := e.livePolicy(events.KindWorkflow, j.Workflow.WorkflowID)
	if p == nil {
		return nil
	}
	targets := e.targets(p.wf, j.Workflow.FilterIndex)
	if j.Workflow.Target < 0 || j.Workflow.Target >= len(targets) || targets[j.Workflow.Target].spec.Queue != j.QueueID {
		return nil
	}
	return &targets[j.Workflow.Target]
}

func (e *Engine) targets(w *workflow, filter int) []wfTarget {
	if filter < 0 {
		if w.def == nil {
			return nil
		}
		return []wfTarget{*w.def}
	}
	if filter >= len(w.filters) {
		return nil
	}
	return w.filters[filter].targets
}

// targetTimeout moves a queued job whose target timed out to its next target (its
// outstanding offers are revoked); a job at its last target stays there.
func (e *Engine) targetTimeout(jobID string) {
	j := e.jobs[jobID]
	if j == nil || j.status() != lifecycle.JobQueued || j.Workflow == nil || j.Workflow.TargetExpiresAt == nil ||
		j.Workflow.TargetExpiresAt.After(e.now) {
		return
	}
	p := e.livePolicy(events.KindWorkflow, j.Workflow.WorkflowID)
	if p == nil {
		return
	}
	e.move(j, events.RevokedTargetTimeout, func() {
		if !e.advance(j, e.targets(p.wf, j.Workflow.FilterIndex)) {
			j.Workflow.TargetExpiresAt = nil // the last target: the job stays
		}
	})
	e.emitJob(j, events.TypeJobQueued)
}
