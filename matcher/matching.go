package matcher

import (
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// validateMatchingMode checks a job.created matching mode (nil: queueAndMatch).
func validateMatchingMode(field string, m *events.MatchingMode, now time.Time) error {
	if m == nil {
		return nil
	}
	switch m.Kind {
	case events.MatchQueueAndMatch, events.MatchSuspend:
		if m.ScheduleAt != nil {
			return events.Errorf(events.CodeInvalidData, field+"/scheduleAt", "scheduleAt goes only with matching mode %s", events.MatchScheduleAndSuspend)
		}
	case events.MatchScheduleAndSuspend:
		if m.ScheduleAt == nil {
			return events.Errorf(events.CodeInvalidData, field+"/scheduleAt", "matching mode %s needs scheduleAt", events.MatchScheduleAndSuspend)
		}
		if m.ScheduleAt.Before(now) {
			return events.Errorf(events.CodeInvalidData, field+"/scheduleAt", "scheduleAt %s is in the past", m.ScheduleAt.UTC().Format(time.RFC3339))
		}
	default:
		return events.Errorf(events.CodeInvalidData, field+"/kind", "matching mode must be one of %v (got %q)", events.MatchingModes(), m.Kind)
	}
	return nil
}

// initialStatus is the status a new job starts in under its matching mode.
func initialStatus(m *events.MatchingMode) lifecycle.JobStatus {
	if m == nil {
		return lifecycle.JobQueued
	}
	switch m.Kind {
	case events.MatchScheduleAndSuspend:
		return lifecycle.JobScheduled
	case events.MatchSuspend:
		return lifecycle.JobSuspended
	}
	return lifecycle.JobQueued
}

// storedMode is the matching mode kept on the job: nil for queueAndMatch.
func storedMode(m *events.MatchingMode) *events.MatchingMode {
	if m == nil || m.Kind == events.MatchQueueAndMatch {
		return nil
	}
	c := *m
	if c.ScheduleAt != nil {
		c.ScheduleAt = timePtr(c.ScheduleAt.UTC())
	}
	return &c
}

// scheduleQueuedTimers schedules the timers a queued job has (as Load does).
func (e *Engine) scheduleQueuedTimers(j *Job) {
	for _, at := range j.selectorExpiries() {
		e.schedule(at, timerSelectorExpiry, j.JobID)
	}
	if j.Workflow != nil && j.Workflow.TargetExpiresAt != nil {
		e.schedule(*j.Workflow.TargetExpiresAt, timerTargetTimeout, j.JobID)
	}
	if j.ExpiresAt != nil {
		e.schedule(*j.ExpiresAt, timerJobTTL, j.JobID)
	}
	for _, d := range j.Declined {
		if d.RetryAt != nil && d.RetryAt.After(e.now) {
			e.schedule(*d.RetryAt, timerRetryOffer, j.JobID)
		}
	}
	if id, p := e.exceptionPolicyOf(j.QueueID); p != nil {
		for _, r := range p.Rules {
			if r.Trigger.Kind == events.TriggerWaitTime && !j.fired(firedKey(id, r.ID)) {
				e.schedule(e.waitDeadline(j, r), timerExceptionWait, j.JobID)
			}
		}
	}
}

// move changes a queued job's place (its queue, priority, selectors, workflow
// position) through change: with revokeReason set its offers are revoked first; it
// leaves its queue and joins again where it now belongs, and its timers are scheduled
// again (a timer scheduled twice fires once: the second finds nothing to do). The
// caller announces the move.
func (e *Engine) move(j *Job, revokeReason string, change func()) {
	if revokeReason != "" {
		e.revokeOffers(j, revokeReason)
	}
	e.dequeue(j)
	change()
	e.enqueue(j)
	e.dirtyJobs[j.JobID] = true
	e.scheduleQueuedTimers(j)
}

// requeue puts a job that was out of its queue (suspended, waiting for activation,
// unassigned) back in it and announces it with job.queued.
func (e *Engine) requeue(j *Job) {
	j.Status = string(lifecycle.JobQueued)
	j.EnqueuedAt = timePtr(e.now)
	e.enqueue(j)
	e.scheduleQueuedTimers(j)
	e.dirtyJobs[j.JobID] = true
}

// activateJob moves a scheduled job whose scheduleAt came to waitingForActivation.
func (e *Engine) activateJob(jobID string) {
	j := e.jobs[jobID]
	if j == nil || j.status() != lifecycle.JobScheduled || j.MatchingMode == nil || j.MatchingMode.ScheduleAt == nil ||
		j.MatchingMode.ScheduleAt.After(e.now) {
		return
	}
	next, err := j.status().Next(lifecycle.JobActivate)
	if err != nil {
		return
	}
	j.Status = string(next)
	e.dirtyJobs[j.JobID] = true
	e.emitJob(j, events.TypeJobWaitingForActivation)
}

// activationLive reports whether an activation timer at at still applies to j.
func activationLive(j *Job, at time.Time) bool {
	return j != nil && j.status() == lifecycle.JobScheduled && j.MatchingMode != nil &&
		j.MatchingMode.ScheduleAt != nil && j.MatchingMode.ScheduleAt.Equal(at)
}

// updateJob applies io.patchbay.job.update: queueAndMatch resumes a suspended or
// waitingForActivation job; suspend suspends a queued one, revoking its offers;
// reclassify classifies a queued job again.
func (e *Engine) updateJob(cmd Command, d *events.JobUpdate) error {
	j, ok := e.jobs[d.JobID]
	if !ok {
		return events.Errorf(events.CodeUnknownJob, "jobId", "no job %q", d.JobID)
	}
	if (d.MatchingMode == nil) == (d.Reclassify == nil) {
		return events.Errorf(events.CodeInvalidData, "matchingMode", "job.update takes a matchingMode or a reclassify, one of the two")
	}
	if e.repeated(j, j.UpdatedBy, cmd.ID) {
		return nil
	}
	if d.Reclassify != nil {
		if err := e.reclassifyOnRequest(j, d.Reclassify); err != nil {
			return err
		}
		j.UpdatedBy = cmd.ID
		e.res.Reply = &events.CommandResult{JobID: j.JobID, Status: j.Status}
		return nil
	}
	switch d.MatchingMode.Kind {
	case events.MatchQueueAndMatch:
		if d.MatchingMode.ScheduleAt != nil {
			return events.Errorf(events.CodeInvalidData, "matchingMode/scheduleAt", "scheduleAt goes only with matching mode %s", events.MatchScheduleAndSuspend)
		}
		if _, err := j.status().Next(lifecycle.JobResume); err != nil {
			return err
		}
		j.MatchingMode = nil
		j.UpdatedBy = cmd.ID
		e.requeue(j)
		e.emitJob(j, events.TypeJobQueued)
	case events.MatchSuspend:
		if d.MatchingMode.ScheduleAt != nil {
			return events.Errorf(events.CodeInvalidData, "matchingMode/scheduleAt", "scheduleAt goes only with matching mode %s", events.MatchScheduleAndSuspend)
		}
		next, err := j.status().Next(lifecycle.JobSuspend)
		if err != nil {
			return err
		}
		e.dequeue(j)
		e.revokeOffers(j, events.RevokedJobSuspended)
		j.Status = string(next)
		j.MatchingMode = &events.MatchingMode{Kind: events.MatchSuspend}
		j.UpdatedBy = cmd.ID
		e.dirtyJobs[j.JobID] = true
		e.emitJob(j, events.TypeJobSuspended)
	default:
		return events.Errorf(events.CodeInvalidData, "matchingMode/kind", "an update's matching mode is %s or %s (got %q)",
			events.MatchQueueAndMatch, events.MatchSuspend, d.MatchingMode.Kind)
	}
	e.res.Reply = &events.CommandResult{JobID: j.JobID, Status: j.Status}
	return nil
}

// unassignJob applies io.patchbay.job.unassign: the assignment is undone, the
// worker's capacity released, and the job goes back to its queue (or to suspended).
func (e *Engine) unassignJob(cmd Command, d *events.JobUnassign) error {
	j, ok := e.jobs[d.JobID]
	if !ok {
		return events.Errorf(events.CodeUnknownJob, "jobId", "no job %q", d.JobID)
	}
	if e.repeated(j, j.UnassignedBy, cmd.ID) {
		return nil
	}
	if _, err := j.status().Next(lifecycle.JobUnassign); err != nil {
		return err
	}
	if j.Assignment.AssignmentID != d.AssignmentID {
		return events.Errorf(events.CodeAssignmentMismatch, "assignmentId",
			"job %q has assignment %q, not %q", j.JobID, j.Assignment.AssignmentID, d.AssignmentID)
	}
	if j.UnassignmentCount >= events.MaxUnassignments {
		return events.Errorf(events.CodeInvalidTransition, "jobId",
			"cannot unassign job %q: it was already unassigned %d times, the most a job can be", j.JobID, j.UnassignmentCount)
	}
	e.release(j)
	j.Assignment = nil
	j.Cost = 0
	j.UnassignmentCount++
	j.UnassignedBy = cmd.ID
	if d.SuspendMatching {
		j.Status = string(lifecycle.JobSuspended)
		j.MatchingMode = &events.MatchingMode{Kind: events.MatchSuspend}
		e.dirtyJobs[j.JobID] = true
		e.emitJob(j, events.TypeJobUnassigned)
		e.emitJob(j, events.TypeJobSuspended)
	} else {
		e.requeue(j)
		e.emitJob(j, events.TypeJobUnassigned)
		e.emitJob(j, events.TypeJobQueued)
	}
	e.res.Reply = &events.CommandResult{JobID: j.JobID, AssignmentID: d.AssignmentID, Status: j.Status}
	return nil
}

// reclassifyOnRequest classifies a queued job again, as an exception policy's
// reclassify action does, but all or nothing: the classification is tried on the
// merged labels first, and a refusal (no policy, no queue found, labels over their
// limits) changes nothing.
func (e *Engine) reclassifyOnRequest(j *Job, r *events.Reclassify) error {
	if j.status() != lifecycle.JobQueued {
		return &lifecycle.TransitionError{Entity: "job", From: j.Status, Action: "reclassify", Err: events.ErrInvalidTransition}
	}
	policyID := r.ClassificationPolicyID
	if policyID == "" {
		policyID = j.ClassificationPolicyID
	}
	if policyID == "" {
		return events.Errorf(events.CodeInvalidData, "reclassify/classificationPolicyId",
			"job %q was not classified by a classification policy: name one in reclassify/classificationPolicyId", j.JobID)
	}
	trial := *j
	if len(r.LabelsToUpsert) > 0 {
		trial.Labels = mergeLabels(j.Labels, r.LabelsToUpsert)
		if err := validateLabels("reclassify/labelsToUpsert", trial.Labels); err != nil {
			return err // the merged labels would exceed a job's limits
		}
	}
	if _, err := e.classify(&trial, policyID); err != nil {
		return err
	}
	e.reclassify(j, events.ExceptionAction{Kind: events.ActionReclassify, ClassificationPolicyID: policyID, LabelsToUpsert: r.LabelsToUpsert})
	return nil
}
