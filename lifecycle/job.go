package lifecycle

import "github.com/patchbay/patchbay/events"

// JobStatus is where a job is in its lifecycle.
type JobStatus string

const (
	// JobQueued: waiting in its queue; offers may be outstanding.
	JobQueued JobStatus = "queued"
	// JobAssigned: a worker accepted an offer; the worker's capacity is held.
	JobAssigned JobStatus = "assigned"
	// JobCompleted: the work is done; the capacity is still held (wrap-up).
	JobCompleted JobStatus = "completed"
	// JobClosed: the worker closed the job; the capacity is released. Terminal.
	JobClosed JobStatus = "closed"
	// JobCancelled: cancelled by request while queued or assigned. Terminal.
	JobCancelled JobStatus = "cancelled"
	// JobScheduled: created with matching mode scheduleAndSuspend; waits for its
	// scheduleAt time outside any queue.
	JobScheduled JobStatus = "scheduled"
	// JobWaitingForActivation: a scheduled job whose scheduleAt time has come; it
	// stays out of its queue until an update resumes it.
	JobWaitingForActivation JobStatus = "waitingForActivation"
	// JobSuspended: out of its queue and not matched until an update resumes it.
	JobSuspended JobStatus = "suspended"
)

// JobStatuses lists every job status.
func JobStatuses() []JobStatus {
	return []JobStatus{
		JobQueued, JobAssigned, JobCompleted, JobClosed, JobCancelled,
		JobScheduled, JobWaitingForActivation, JobSuspended,
	}
}

// Terminal reports whether no transition leaves s.
func (s JobStatus) Terminal() bool { return s == JobClosed || s == JobCancelled }

// HoldsCapacity reports whether a job in status s holds its worker's capacity.
func (s JobStatus) HoldsCapacity() bool { return s == JobAssigned || s == JobCompleted }

// JobAction is something asked of a job.
type JobAction string

const (
	JobAssign   JobAction = "assign"
	JobComplete JobAction = "complete"
	JobClose    JobAction = "close"
	JobCancel   JobAction = "cancel"
	// JobActivate: a scheduled job's scheduleAt time came.
	JobActivate JobAction = "activate"
	// JobResume: an update with matching mode queueAndMatch put the job back in its queue.
	JobResume JobAction = "resume"
	// JobSuspend: an update with matching mode suspend took the job out of its queue.
	JobSuspend JobAction = "suspend"
	// JobUnassign: the assignment was undone; the job goes back to its queue.
	JobUnassign JobAction = "unassign"
)

// JobActions lists every job action.
func JobActions() []JobAction {
	return []JobAction{JobAssign, JobComplete, JobClose, JobCancel, JobActivate, JobResume, JobSuspend, JobUnassign}
}

// Next returns the status after action a, or a *TransitionError (unwrapping to
// events.ErrInvalidTransition) when a is not allowed from s.
//
//	queued               --assign-->   assigned
//	queued               --cancel-->   cancelled
//	queued               --suspend-->  suspended
//	assigned             --complete--> completed
//	assigned             --cancel-->   cancelled
//	assigned             --unassign--> queued
//	completed            --close-->    closed
//	scheduled            --activate--> waitingForActivation
//	scheduled            --cancel-->   cancelled
//	waitingForActivation --resume-->   queued
//	waitingForActivation --cancel-->   cancelled
//	suspended            --resume-->   queued
//	suspended            --cancel-->   cancelled
//
// An unassign with suspendMatching is unassign then suspend.
func (s JobStatus) Next(a JobAction) (JobStatus, error) {
	switch s {
	case JobQueued:
		switch a {
		case JobAssign:
			return JobAssigned, nil
		case JobCancel:
			return JobCancelled, nil
		case JobSuspend:
			return JobSuspended, nil
		}
	case JobAssigned:
		switch a {
		case JobComplete:
			return JobCompleted, nil
		case JobCancel:
			return JobCancelled, nil
		case JobUnassign:
			return JobQueued, nil
		}
	case JobScheduled:
		switch a {
		case JobActivate:
			return JobWaitingForActivation, nil
		case JobCancel:
			return JobCancelled, nil
		}
	case JobWaitingForActivation, JobSuspended:
		switch a {
		case JobResume:
			return JobQueued, nil
		case JobCancel:
			return JobCancelled, nil
		}
	case JobCompleted:
		if a == JobClose {
			return JobClosed, nil
		}
	}
	return s, &TransitionError{Entity: "job", From: string(s), Action: string(a), Err: events.ErrInvalidTransition}
}
