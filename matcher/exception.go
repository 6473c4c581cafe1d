package matcher

import (
	"fmt"
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

func validateExceptionSpec(s *events.ExceptionPolicySpec) error {
	if len(s.Rules) == 0 {
		return events.Errorf(events.CodeInvalidData, "spec/rules", "spec/rules: an exception policy needs at least one rule")
	}
	seen := map[string]bool{}
	for i, r := range s.Rules {
		f := fmt.Sprintf("spec/rules/%d", i)
		if err := events.CheckID(f+"/id", r.ID); err != nil {
			return err
		}
		if seen[r.ID] {
			return events.Errorf(events.CodeInvalidData, f+"/id", "%s/id %q is used twice", f, r.ID)
		}
		seen[r.ID] = true
		switch r.Trigger.Kind {
		case events.TriggerQueueLength:
			if r.Trigger.Threshold < 0 {
				return events.Errorf(events.CodeInvalidData, f+"/trigger/threshold", "%s/trigger/threshold must not be negative (got %d)", f, r.Trigger.Threshold)
			}
		case events.TriggerWaitTime:
			if r.Trigger.ThresholdSeconds <= 0 || r.Trigger.ThresholdSeconds > events.MaxDurationSeconds {
				return events.Errorf(events.CodeInvalidData, f+"/trigger/thresholdSeconds", "%s/trigger/thresholdSeconds must be between 0 (excluded) and %d (got %g)", f, events.MaxDurationSeconds, r.Trigger.ThresholdSeconds)
			}
		default:
			return events.Errorf(events.CodeInvalidData, f+"/trigger/kind", "%s/trigger/kind %q must be %s or %s", f, r.Trigger.Kind, events.TriggerQueueLength, events.TriggerWaitTime)
		}
		if len(r.Actions) == 0 {
			return events.Errorf(events.CodeInvalidData, f+"/actions", "%s/actions: a rule needs at least one action", f)
		}
		for k, a := range r.Actions {
			af := fmt.Sprintf("%s/actions/%d", f, k)
			switch a.Kind {
			case events.ActionCancel:
			case events.ActionManualReclassify:
				if a.QueueID == "" && a.Priority == nil && len(a.WorkerSelectors) == 0 {
					return events.Errorf(events.CodeInvalidData, af, "%s: manualReclassify needs a queueId, a priority or workerSelectors", af)
				}
				if a.QueueID != "" {
					if err := events.CheckID(af+"/queueId", a.QueueID); err != nil {
						return err
					}
				}
				if a.Priority != nil && (*a.Priority < -100 || *a.Priority > 100) {
					return events.Errorf(events.CodeInvalidData, af+"/priority", "%s/priority must be between -100 and 100 (got %d)", af, *a.Priority)
				}
				for n, s := range a.WorkerSelectors {
					if err := validateSelector(n, s); err != nil {
						ve := events.AsError(err)
						ve.Field = af + "/" + ve.Field
						return ve
					}
				}
			case events.ActionReclassify:
				if err := events.CheckID(af+"/classificationPolicyId", a.ClassificationPolicyID); err != nil {
					return err
				}
				if err := validateLabels(af+"/labelsToUpsert", a.LabelsToUpsert); err != nil {
					return err
				}
			default:
				return events.Errorf(events.CodeInvalidData, af+"/kind", "%s/kind %q must be %s, %s or %s", af, a.Kind, events.ActionCancel, events.ActionManualReclassify, events.ActionReclassify)
			}
		}
	}
	return nil
}

// exceptionPolicyOf is the exception policy of a queue (nil when it has none).
func (e *Engine) exceptionPolicyOf(queueID string) (string, *events.ExceptionPolicySpec) {
	id := e.queueSpec(queueID).ExceptionPolicyID
	if id == "" {
		return "", nil
	}
	if p := e.livePolicy(events.KindExceptionPolicy, id); p != nil {
		return id, p.exc
	}
	return "", nil
}

func firedKey(policyID, ruleID string) string { return policyID + "/" + ruleID }

func (j *Job) fired(key string) bool {
	for _, k := range j.ExceptionsFired {
		if k == key {
			return true
		}
	}
	return false
}

// checkExceptions applies the job's queue's exception policy: queue-length rules now,
// wait-time rules now if their time has come, else at it (a timer).
func (e *Engine) checkExceptions(j *Job) {
	for j.status() == lifecycle.JobQueued {
		id, p := e.exceptionPolicyOf(j.QueueID)
		if p == nil {
			return
		}
		queue := j.QueueID
		fired := false
		for _, r := range p.Rules {
			if j.fired(firedKey(id, r.ID)) {
				continue
			}
			switch r.Trigger.Kind {
			case events.TriggerQueueLength:
				if len(e.queue(queue).jobs) > r.Trigger.Threshold {
					e.fire(j, id, r)
					fired = true
				}
			case events.TriggerWaitTime:
				if at := e.waitDeadline(j, r); !at.After(e.now) {
					e.fire(j, id, r)
					fired = true
				} else {
					e.schedule(at, timerExceptionWait, j.JobID)
				}
			}
			if fired {
				break // the job may have moved or ended: look again
			}
		}
		if !fired {
			return
		}
	}
}

func (e *Engine) waitDeadline(j *Job, r events.ExceptionRule) time.Time {
	since := j.CreatedAt
	if j.EnqueuedAt != nil {
		since = *j.EnqueuedAt
	}
	return since.Add(time.Duration(r.Trigger.ThresholdSeconds * float64(time.Second)))
}

// fire records that a rule fired for j, announces it and takes its actions.
func (e *Engine) fire(j *Job, policyID string, r events.ExceptionRule) {
	j.ExceptionsFired = append(j.ExceptionsFired, firedKey(policyID, r.ID))
	e.dirtyJobs[j.JobID] = true
	snap := j.snapshot()
	snap.Exception = &events.ExceptionFired{PolicyID: policyID, RuleID: r.ID, Trigger: r.Trigger.Kind}
	e.emit(events.JobSubject(j.QueueID, j.JobID, events.TypeJobExceptionTriggered), events.TypeJobExceptionTriggered, j.JobID, snap)
	for _, a := range r.Actions {
		if j.status() != lifecycle.JobQueued {
			return
		}
		switch a.Kind {
		case events.ActionCancel:
			_ = e.cancel(j, a.DispositionCode, a.Note)
		case events.ActionManualReclassify:
			e.move(j, events.RevokedJobReclassified, func() {
				if a.QueueID != "" && a.QueueID != j.QueueID {
					j.QueueID = a.QueueID
					j.EnqueuedAt = timePtr(e.now)
					j.Workflow = nil // the job leaves its workflow
				}
				if a.Priority != nil {
					j.Priority = *a.Priority
				}
				if a.WorkerSelectors != nil {
					j.WorkerSelectors = e.withExpiry(a.WorkerSelectors)
				}
			})
			e.emitJob(j, events.TypeJobQueued)
		case events.ActionReclassify:
			e.reclassify(j, a)
		}
	}
}

// reclassify classifies a queued job again (after merging labelsToUpsert into its
// labels) and moves it where the classification says; when that fails, or the merged
// labels would exceed a job's limits, the job stays where it is and
// io.patchbay.job.classificationFailed says why.
func (e *Engine) reclassify(j *Job, a events.ExceptionAction) {
	failed := func(err error) {
		snap := j.snapshot()
		snap.Reason = events.AsError(err)
		e.emit(events.JobSubject(j.QueueID, j.JobID, events.TypeJobClassificationFailed), events.TypeJobClassificationFailed, j.JobID, snap)
	}
	if len(a.LabelsToUpsert) > 0 {
		merged := mergeLabels(j.Labels, a.LabelsToUpsert)
		if err := validateLabels("labelsToUpsert", merged); err != nil {
			failed(err) // the merged labels would exceed a job's limits: left as they are
			return
		}
		j.Labels = merged
		e.dirtyJobs[j.JobID] = true
	}
	c, err := e.classify(j, a.ClassificationPolicyID)
	if err != nil {
		failed(err)
		return
	}
	e.move(j, events.RevokedJobReclassified, func() {
		if c.queueID != j.QueueID {
			j.EnqueuedAt = timePtr(e.now)
			j.Workflow = nil
		}
		e.applyClassification(j, a.ClassificationPolicyID, c)
	})
	e.emitJob(j, events.TypeJobClassified)
	e.emitJob(j, events.TypeJobQueued)
}

// exceptionWait fires the wait-time rules of a job whose time has come.
func (e *Engine) exceptionWait(jobID string) {
	if j := e.jobs[jobID]; j != nil && j.status() == lifecycle.JobQueued {
		e.checkJobs[j.JobID] = true
	}
}

// exceptionTimerLive reports whether a wait-time timer at `at` still has a rule to fire.
func (e *Engine) exceptionTimerLive(j *Job, at time.Time) bool {
	if j == nil || j.status() != lifecycle.JobQueued {
		return false
	}
	id, p := e.exceptionPolicyOf(j.QueueID)
	if p == nil {
		return false
	}
	for _, r := range p.Rules {
		if r.Trigger.Kind == events.TriggerWaitTime && !j.fired(firedKey(id, r.ID)) && e.waitDeadline(j, r).Equal(at) {
			return true
		}
	}
	return false
}

// queuesUsingException lists the queues whose policy names an exception policy.
func (e *Engine) queuesUsingException(id string) []string {
	var out []string
	for _, p := range e.policies {
		if !p.Deleted && p.queue != nil && p.queue.ExceptionPolicyID == id {
			out = append(out, p.ID)
		}
	}
	return out
}

// mergeLabels is labels with upsert's keys set over them (a new map).
func mergeLabels(labels, upsert events.Labels) events.Labels {
	out := make(events.Labels, len(labels)+len(upsert))
	for k, v := range labels {
		out[k] = v
	}
	for k, v := range upsert {
		out[k] = v
	}
	return out
}
