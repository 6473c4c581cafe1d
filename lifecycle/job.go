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
)

// JobStatuses lists every job status.
func JobStatuses() []JobStatus {
	return []JobStatus{JobQueued, JobAssigned, JobCompleted, JobClosed, JobCancelled}
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
)

// JobActions lists every job action.
func JobActions() []JobAction { return []JobAction{JobAssign, JobComplete, JobClose, JobCancel} }

// Next returns the status after action a, or a *TransitionError (unwrapping to
// events.ErrInvalidTransition) when a is not allowed from s.
//
//	queued    --assign-->   assigned
//	queued    --cancel-->   cancelled
//	assigned  --complete--> completed
//	assigned  --cancel-->   cancelled
//	completed --close-->    closed
func (s JobStatus) Next(a JobAction) (JobStatus, error) {
	switch s {
	case JobQueued:
		switch a {
		case JobAssign:
			return JobAssigned, nil
		case JobCancel:
			return JobCancelled, nil
		}
	case JobAssigned:
		switch a {
		case JobComplete:
			return JobCompleted, nil
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
