package matcher

import (
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// createJob validates and queues a new job. An invalid job is answered with a
// job.rejected event as well as the refusal.
func (e *Engine) createJob(cmd Command, d *events.JobCreated) error {
	id := d.JobID
	if id == "" {
		id = cmd.ID
	}
	err := validateJob(id, d)
	if err == nil {
		err = validateMatchingMode("matchingMode", d.MatchingMode, e.now)
	}
	if err != nil {
		e.emit(events.JobSubject(d.QueueID, id, events.TypeJobRejected), events.TypeJobRejected, id, events.Job{
			JobID: id, QueueID: d.QueueID, ChannelID: d.ChannelID, Priority: d.Priority, Labels: d.Labels,
			Status: events.JobStatusRejected, CreatedAt: e.now, Reason: events.AsError(err),
		})
		return err
	}
	if j, ok := e.jobs[id]; ok {
		if j.CreatedBy != cmd.ID {
			return events.Errorf(events.CodeJobExists, "jobId", "job %q already exists (created by event %q)", id, j.CreatedBy)
		}
		e.res.Reply = &events.CommandResult{JobID: id, Status: j.Status, Duplicate: true}
		return nil
	}
	e.seq++
	selectors := e.withExpiry(d.WorkerSelectors)
	status := initialStatus(d.MatchingMode)
	j := &Job{
		Job: events.Job{
			JobID: id, QueueID: d.QueueID, ChannelID: d.ChannelID, ChannelReference: d.ChannelReference,
			Priority: d.Priority, Labels: d.Labels, Tags: d.Tags, WorkerSelectors: selectors,
			Notes: d.Notes, CreatedAt: e.now,
			Status: string(status), MatchingMode: storedMode(d.MatchingMode),
		},
		CreatedBy: cmd.ID,
		Seq:       e.seq,
	}
	if status == lifecycle.JobQueued {
		j.EnqueuedAt = timePtr(e.now)
	}
	if d.TimeToLiveSeconds > 0 {
		j.ExpiresAt = timePtr(e.now.Add(time.Duration(d.TimeToLiveSeconds * float64(time.Second))))
	}
	var classified bool
	if d.ClassificationPolicyID != "" {
		c, err := e.classify(j, d.ClassificationPolicyID)
		if err != nil {
			e.seq--
			e.emit(events.JobSubject("", id, events.TypeJobClassificationFailed), events.TypeJobClassificationFailed, id, events.Job{
				JobID: id, ChannelID: d.ChannelID, Priority: d.Priority, Labels: d.Labels, ClassificationPolicyID: d.ClassificationPolicyID,
				Status: events.JobStatusClassificationFailed, CreatedAt: e.now, Reason: events.AsError(err),
			})
			return err
		}
		e.applyClassification(j, d.ClassificationPolicyID, c)
		classified = true
	}
	if d.WorkflowID != "" {
		if err := e.route(j, d.WorkflowID); err != nil {
			e.seq--
			e.emit(events.JobSubject("", id, events.TypeJobRejected), events.TypeJobRejected, id, events.Job{
				JobID: id, ChannelID: d.ChannelID, Priority: d.Priority, Labels: d.Labels,
				Status: events.JobStatusRejected, CreatedAt: e.now, Reason: events.AsError(err),
			})
			return err
		}
	}
	e.jobs[id] = j
	e.dirtyJobs[id] = true
	e.emitJob(j, events.TypeJobReceived)
	if classified {
		e.emitJob(j, events.TypeJobClassified)
	}
	switch status {
	case lifecycle.JobScheduled:
		e.schedule(*j.MatchingMode.ScheduleAt, timerActivate, j.JobID)
		e.emitJob(j, events.TypeJobScheduled)
	case lifecycle.JobSuspended:
		e.emitJob(j, events.TypeJobSuspended)
	default:
		e.enqueue(j)
		e.emitJob(j, events.TypeJobQueued)
		e.scheduleQueuedTimers(j)
	}
	e.res.Reply = &events.CommandResult{JobID: id, Status: j.Status}
	return nil
}

func validateJob(id string, d *events.JobCreated) error {
	if err := events.CheckID("jobId", id); err != nil {
		return err
	}
	n := 0
	for _, s := range []string{d.QueueID, d.WorkflowID, d.ClassificationPolicyID} {
		if s != "" {
			n++
		}
	}
	switch {
	case n > 1:
		return events.Errorf(events.CodeInvalidData, "queueId", "a job names one of queueId, workflowId and classificationPolicyId, not several")
	case d.ClassificationPolicyID != "":
		if err := events.CheckID("classificationPolicyId", d.ClassificationPolicyID); err != nil {
			return err
		}
	case d.WorkflowID != "":
		if err := events.CheckID("workflowId", d.WorkflowID); err != nil {
			return err
		}
	default:
		if err := events.CheckID("queueId", d.QueueID); err != nil {
			return err
		}
	}
	if err := events.CheckID("channelId", d.ChannelID); err != nil {
		return err
	}
	if d.TimeToLiveSeconds < 0 || d.TimeToLiveSeconds > events.MaxDurationSeconds {
		return events.Errorf(events.CodeInvalidData, "timeToLiveSeconds", "timeToLiveSeconds must be between 0 and %d (got %g)", events.MaxDurationSeconds, d.TimeToLiveSeconds)
	}
	if d.Priority < -100 || d.Priority > 100 {
		return events.Errorf(events.CodeInvalidData, "priority", "priority must be between -100 and 100 (got %d)", d.Priority)
	}
	if err := validateLabels("labels", d.Labels); err != nil {
		return err
	}
	for i, s := range d.WorkerSelectors {
		if err := validateSelector(i, s); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) emitJob(j *Job, t events.Type) {
	e.emit(events.JobSubject(j.QueueID, j.JobID, t), t, j.JobID, j.snapshot())
}

// assignedJob finds a job and checks the assignment id the caller named.
func (e *Engine) assignedJob(jobID, assignmentID string) (*Job, error) {
	j, ok := e.jobs[jobID]
	if !ok {
		return nil, events.Errorf(events.CodeUnknownJob, "jobId", "no job %q", jobID)
	}
	if j.Assignment == nil {
		return nil, &lifecycle.TransitionError{Entity: "job", From: j.Status, Action: "complete or close", Err: events.ErrInvalidTransition}
	}
	if j.Assignment.AssignmentID != assignmentID {
		return nil, events.Errorf(events.CodeAssignmentMismatch, "assignmentId",
			"job %q has assignment %q, not %q", jobID, j.Assignment.AssignmentID, assignmentID)
	}
	return j, nil
}

func (e *Engine) completeJob(cmd Command, d *events.JobComplete) error {
	j, err := e.assignedJob(d.JobID, d.AssignmentID)
	if err != nil {
		return err
	}
	if e.repeated(j, j.CompletedBy, cmd.ID) {
		return nil
	}
	next, err := j.status().Next(lifecycle.JobComplete)
	if err != nil {
		return err
	}
	j.Status = string(next)
	j.CompletedBy = cmd.ID
	j.Assignment.CompletedAt = timePtr(e.now)
	j.Assignment.CompletionNote = d.Note
	e.dirtyJobs[j.JobID] = true
	e.emitJob(j, events.TypeJobCompleted)
	e.res.Reply = &events.CommandResult{JobID: j.JobID, AssignmentID: j.Assignment.AssignmentID, WorkerID: j.Assignment.WorkerID, Status: j.Status}
	return nil
}

// closeJob closes a completed job now, or schedules the close for closeAt.
func (e *Engine) closeJob(cmd Command, d *events.JobClose) error {
	j, err := e.assignedJob(d.JobID, d.AssignmentID)
	if err != nil {
		return err
	}
	if e.repeated(j, j.ClosedBy, cmd.ID) {
		return nil
	}
	if _, err := j.status().Next(lifecycle.JobClose); err != nil {
		return err
	}
	if j.ScheduledCloseAt != nil {
		return &lifecycle.TransitionError{Entity: "job", From: j.Status + " (close already scheduled)", Action: "close", Err: events.ErrInvalidTransition}
	}
	j.DispositionCode = d.DispositionCode
	j.ClosedBy = cmd.ID
	j.Assignment.CloseNote = d.Note
	reply := &events.CommandResult{JobID: j.JobID, AssignmentID: j.Assignment.AssignmentID, WorkerID: j.Assignment.WorkerID}
	if d.CloseAt != nil && d.CloseAt.After(e.now) {
		at := d.CloseAt.UTC()
		j.ScheduledCloseAt = &at
		e.schedule(at, timerCloseAt, j.JobID)
		e.dirtyJobs[j.JobID] = true
	} else {
		e.close(j)
	}
	reply.Status = j.Status
	e.res.Reply = reply
	return nil
}

// close moves a completed job to closed and releases the worker's capacity.
func (e *Engine) close(j *Job) {
	j.Status = string(lifecycle.JobClosed)
	j.ScheduledCloseAt = nil
	j.Assignment.ClosedAt = timePtr(e.now)
	e.dirtyJobs[j.JobID] = true
	e.release(j)
	e.emitJob(j, events.TypeJobClosed)
	e.res.Events[len(e.res.Events)-1].Disposition = j.DispositionCode
}

// withExpiry copies selectors, setting the expiry time of those that expire.
func (e *Engine) withExpiry(in []events.WorkerSelector) []events.WorkerSelector {
	if len(in) == 0 {
		return nil
	}
	out := make([]events.WorkerSelector, len(in))
	for i, s := range in {
		if s.ExpiresAfterSeconds > 0 {
			at := e.now.Add(time.Duration(s.ExpiresAfterSeconds * float64(time.Second)))
			s.ExpiresAt = &at
		}
		out[i] = s
	}
	return out
}

// expireSelectors drops the selectors of a queued job whose time has come: the job
// moves to where it now belongs in its queue (an expedited selector may be gone), is
// announced again with io.patchbay.job.queued carrying its remaining selectors, and
// is matched with them.
func (e *Engine) expireSelectors(jobID string) {
	j := e.jobs[jobID]
	if j == nil || j.status() != lifecycle.JobQueued {
		return
	}
	var keep []events.WorkerSelector
	for _, s := range j.WorkerSelectors {
		if s.ExpiresAt == nil || s.ExpiresAt.After(e.now) {
			keep = append(keep, s)
		}
	}
	if len(keep) == len(j.WorkerSelectors) {
		return
	}
	e.move(j, "", func() { j.WorkerSelectors = keep })
	e.emitJob(j, events.TypeJobQueued)
}

func (e *Engine) closeScheduled(jobID string) {
	j := e.jobs[jobID]
	if j == nil || j.ScheduledCloseAt == nil || j.status() != lifecycle.JobCompleted || j.ScheduledCloseAt.After(e.now) {
		return
	}
	e.close(j)
}

// release gives back the capacity the assigned worker holds for j.
func (e *Engine) release(j *Job) {
	w := e.workers[j.Assignment.WorkerID]
	if w == nil {
		return
	}
	w.removeLoad(j.JobID, "")
	e.refresh(w)
	e.dirtyWrk[w.WorkerID] = true
	e.touchWorker(w)
}

// expireJob cancels a job still queued when its time to live runs out.
func (e *Engine) expireJob(jobID string) {
	j := e.jobs[jobID]
	if j == nil || j.status() != lifecycle.JobQueued || j.ExpiresAt == nil || j.ExpiresAt.After(e.now) {
		return
	}
	_ = e.cancel(j, events.DispositionTTLExpired, "time to live ran out while the job was queued")
}

// cancel moves j to cancelled through the job state machine: a queued job leaves its
// queue and its offers are revoked, an assigned or completed job's capacity is
// released; the job is announced with job.cancelled. It changes nothing when the state
// machine refuses.
func (e *Engine) cancel(j *Job, disposition, note string) error {
	next, err := j.status().Next(lifecycle.JobCancel)
	if err != nil {
		return err
	}
	switch {
	case j.status() == lifecycle.JobQueued:
		e.dequeue(j)
		e.revokeOffers(j, events.RevokedJobCancelled)
	case j.status().HoldsCapacity():
		e.release(j)
	}
	j.Status = string(next)
	j.DispositionCode = disposition
	j.CancelNote = note
	e.dirtyJobs[j.JobID] = true
	e.emitJob(j, events.TypeJobCancelled)
	return nil
}

func (e *Engine) cancelJob(cmd Command, d *events.JobCancel) error {
	j, ok := e.jobs[d.JobID]
	if !ok {
		return events.Errorf(events.CodeUnknownJob, "jobId", "no job %q", d.JobID)
	}
	if e.repeated(j, j.CancelledBy, cmd.ID) {
		return nil
	}
	if err := e.cancel(j, d.DispositionCode, d.Note); err != nil {
		return err
	}
	j.CancelledBy = cmd.ID
	e.res.Reply = &events.CommandResult{JobID: j.JobID, Status: j.Status}
	return nil
}
