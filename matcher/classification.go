package matcher

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/expr"
)

// classifier is a classification policy compiled once, when it is stored.
type classifier struct {
	spec       *events.ClassificationPolicySpec
	queueConds []*expr.Expr // per queue selector attachment (nil: none)
	prioConds  []*expr.Expr
	wsConds    []*expr.Expr
}

func validAttach(kind string, allowed ...string) bool {
	for _, a := range allowed {
		if kind == a {
			return true
		}
	}
	return false
}

func compileClassification(s *events.ClassificationPolicySpec) (*classifier, error) {
	c := &classifier{spec: s}
	if len(s.QueueSelectors) == 0 && s.FallbackQueueID == "" {
		return nil, events.Errorf(events.CodeInvalidData, "spec/queueSelectorAttachments", "spec: a classification policy needs queueSelectorAttachments or a fallbackQueueId")
	}
	if s.FallbackQueueID != "" {
		if err := events.CheckID("spec/fallbackQueueId", s.FallbackQueueID); err != nil {
			return nil, err
		}
	}
	for i, a := range s.QueueSelectors {
		f := fmt.Sprintf("spec/queueSelectorAttachments/%d", i)
		if !validAttach(a.Kind, events.AttachStatic, events.AttachConditional, events.AttachPassThrough, events.AttachWeighted) {
			return nil, events.Errorf(events.CodeInvalidData, f+"/kind", "%s/kind %q must be static, conditional, passThrough or weightedAllocation", f, a.Kind)
		}
		var cond *expr.Expr
		var err error
		switch a.Kind {
		case events.AttachStatic, events.AttachConditional:
			if err := events.CheckID(f+"/queueId", a.QueueID); err != nil {
				return nil, err
			}
			if cond, err = conditionOf(f, a.Kind, a.Condition); err != nil {
				return nil, err
			}
		case events.AttachPassThrough:
			if err := requireKey(f, a.Key); err != nil {
				return nil, err
			}
		case events.AttachWeighted:
			if len(a.Allocations) == 0 {
				return nil, events.Errorf(events.CodeInvalidData, f+"/allocations", "%s/allocations is required", f)
			}
			for k, al := range a.Allocations {
				if err := checkWeight(f, k, al.Weight); err != nil {
					return nil, err
				}
				if err := events.CheckID(fmt.Sprintf("%s/allocations/%d/queueId", f, k), al.QueueID); err != nil {
					return nil, err
				}
			}
		}
		c.queueConds = append(c.queueConds, cond)
	}
	for i, r := range s.PrioritizationRules {
		f := fmt.Sprintf("spec/prioritizationRules/%d", i)
		if !validAttach(r.Kind, events.AttachStatic, events.AttachConditional) {
			return nil, events.Errorf(events.CodeInvalidData, f+"/kind", "%s/kind %q must be static or conditional", f, r.Kind)
		}
		if r.Priority < -100 || r.Priority > 100 {
			return nil, events.Errorf(events.CodeInvalidData, f+"/priority", "%s/priority must be between -100 and 100 (got %d)", f, r.Priority)
		}
		cond, err := conditionOf(f, r.Kind, r.Condition)
		if err != nil {
			return nil, err
		}
		c.prioConds = append(c.prioConds, cond)
	}
	for i, a := range s.WorkerSelectors {
		f := fmt.Sprintf("spec/workerSelectorAttachments/%d", i)
		if !validAttach(a.Kind, events.AttachStatic, events.AttachConditional, events.AttachPassThrough, events.AttachWeighted) {
			return nil, events.Errorf(events.CodeInvalidData, f+"/kind", "%s/kind %q must be static, conditional, passThrough or weightedAllocation", f, a.Kind)
		}
		var cond *expr.Expr
		var err error
		check := func(field string, ss []events.WorkerSelector) error {
			if len(ss) == 0 {
				return events.Errorf(events.CodeInvalidData, field, "%s is required", field)
			}
			for n, sel := range ss {
				if err := validateSelector(n, sel); err != nil {
					ve := events.AsError(err)
					return &events.Error{Code: ve.Code, Field: field + "/" + strings.TrimPrefix(ve.Field, "requestedWorkerSelectors/"), Message: field + ": " + ve.Message}
				}
			}
			return nil
		}
		switch a.Kind {
		case events.AttachStatic, events.AttachConditional:
			if err := check(f+"/selectors", a.Selectors); err != nil {
				return nil, err
			}
			if cond, err = conditionOf(f, a.Kind, a.Condition); err != nil {
				return nil, err
			}
		case events.AttachPassThrough:
			if err := requireKey(f, a.Key); err != nil {
				return nil, err
			}
			if !validAttach(a.LabelOperator, events.Operators()...) {
				return nil, events.Errorf(events.CodeInvalidData, f+"/labelOperator", "%s/labelOperator %q is not one of %v", f, a.LabelOperator, events.Operators())
			}
		case events.AttachWeighted:
			if len(a.Allocations) == 0 {
				return nil, events.Errorf(events.CodeInvalidData, f+"/allocations", "%s/allocations is required", f)
			}
			for k, al := range a.Allocations {
				if err := checkWeight(f, k, al.Weight); err != nil {
					return nil, err
				}
				if err := check(fmt.Sprintf("%s/allocations/%d/selectors", f, k), al.Selectors); err != nil {
					return nil, err
				}
			}
		}
		c.wsConds = append(c.wsConds, cond)
	}
	return c, nil
}

// conditionOf compiles the condition of a conditional attachment or rule (nil for
// the other kinds).
func conditionOf(field, kind, src string) (*expr.Expr, error) {
	if kind != events.AttachConditional {
		return nil, nil
	}
	return compileExpr(field+"/condition", src, true)
}

func requireKey(field, key string) error {
	if strings.TrimSpace(key) == "" {
		return events.Errorf(events.CodeInvalidData, field+"/key", "%s/key is required", field)
	}
	return nil
}

func checkWeight(field string, k int, w float64) error {
	if w <= 0 {
		return events.Errorf(events.CodeInvalidData, fmt.Sprintf("%s/allocations/%d/weight", field, k), "%s/allocations/%d/weight must be positive (got %g)", field, k, w)
	}
	return nil
}

// draw picks one of n choices by weight, deterministically from the job id and a
// salt (so a replay makes the same choice).
func draw(jobID, salt string, n int, weight func(int) float64) int {
	weights := make([]float64, n)
	total := 0.0
	for i := range weights {
		weights[i] = weight(i)
		total += weights[i]
	}
	h := fnv.New64a()
	h.Write([]byte(jobID + "\x00" + salt))
	u := float64(h.Sum64()%1_000_000_007) / 1_000_000_007 * total
	for i, w := range weights {
		if u < w {
			return i
		}
		u -= w
	}
	return len(weights) - 1
}

// classification is what a classification policy decided for a job.
type classification struct {
	queueID   string
	priority  *int
	selectors []events.WorkerSelector
}

// classify runs a classification policy on a job's labels; the error lists why no
// queue could be chosen.
func (e *Engine) classify(j *Job, policyID string) (classification, error) {
	var out classification
	p := e.livePolicy(events.KindClassificationPolicy, policyID)
	if p == nil {
		return out, events.Errorf(events.CodeUnknownPolicy, "classificationPolicyId", "no classification policy %q", policyID)
	}
	c := p.cls
	env := taskEnv(j)
	var reasons []string
	for i, a := range c.spec.QueueSelectors {
		if out.queueID != "" {
			break
		}
		switch a.Kind {
		case events.AttachStatic:
			out.queueID = a.QueueID
		case events.AttachConditional:
			if c.queueConds[i].Eval(env) {
				out.queueID = a.QueueID
			} else {
				reasons = append(reasons, fmt.Sprintf("queueSelectorAttachments/%d: condition %q does not hold", i, a.Condition))
			}
		case events.AttachPassThrough:
			if v, ok := labelString(j.Labels, a.Key); ok && events.ValidID(v) {
				out.queueID = v
			} else {
				reasons = append(reasons, fmt.Sprintf("queueSelectorAttachments/%d: label %q is missing or not a queue id", i, a.Key))
			}
		case events.AttachWeighted:
			out.queueID = a.Allocations[draw(j.JobID, fmt.Sprintf("q%d", i), len(a.Allocations), func(k int) float64 { return a.Allocations[k].Weight })].QueueID
		}
	}
	if out.queueID == "" {
		out.queueID = c.spec.FallbackQueueID
	}
	if out.queueID == "" {
		return out, events.Errorf(events.CodeInvalidData, "classificationPolicyId",
			"classification policy %q found no queue for the job: %s", policyID, strings.Join(reasons, "; "))
	}
	for i, r := range c.spec.PrioritizationRules {
		if r.Kind == events.AttachStatic || c.prioConds[i].Eval(env) {
			prio := r.Priority
			out.priority = &prio
			break
		}
	}
	for i, a := range c.spec.WorkerSelectors {
		switch a.Kind {
		case events.AttachStatic:
			out.selectors = append(out.selectors, a.Selectors...)
		case events.AttachConditional:
			if c.wsConds[i].Eval(env) {
				out.selectors = append(out.selectors, a.Selectors...)
			}
		case events.AttachPassThrough:
			if v, ok := labelAt(j.Labels, a.Key); ok && kindOf(v) != kindOther { // a scalar: arrays and objects pass nothing
				out.selectors = append(out.selectors, events.WorkerSelector{Key: a.Key, Operator: a.LabelOperator, Value: v})
			}
		case events.AttachWeighted:
			pick := draw(j.JobID, fmt.Sprintf("w%d", i), len(a.Allocations), func(k int) float64 { return a.Allocations[k].Weight })
			out.selectors = append(out.selectors, a.Allocations[pick].Selectors...)
		}
	}
	return out, nil
}

// applyClassification sets a job's queue, priority and extra selectors.
func (e *Engine) applyClassification(j *Job, policyID string, c classification) {
	j.QueueID = c.queueID
	if c.priority != nil {
		j.Priority = *c.priority
	}
	j.WorkerSelectors = append(j.WorkerSelectors, e.withExpiry(c.selectors)...)
	j.ClassificationPolicyID = policyID
}
