package matcher

import (
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// Job is a job as the engine keeps it (and as it is stored in KV): the public
// snapshot plus routing bookkeeping.
type Job struct {
	events.Job
	// CreatedBy is the CloudEvent id of the job.created event (idempotency).
	CreatedBy string `json:"createdBy"`
	// Seq orders jobs of equal priority: first in, first out.
	Seq uint64 `json:"seq"`
	// OfferIDs are the job's outstanding offers.
	OfferIDs []string `json:"outstandingOfferIds,omitempty"`
	// Declined maps a worker id to its decline of this job.
	Declined map[string]Decline `json:"declined,omitempty"`
	// Cost is the capacity the assigned worker holds for this job.
	Cost int `json:"capacityCost,omitempty"`
	// CompletedBy, ClosedBy and CancelledBy are the CloudEvent ids of the commands
	// that did so: the same command sent again is answered as a duplicate, while a
	// second, different one is refused.
	// ExpiredFor lists the workers that let an offer for this job expire, oldest
	// first: they are offered the job after every other eligible worker.
	ExpiredFor []string `json:"expiredFor,omitempty"`
	// ExceptionsFired lists the exception rules ("<policyId>/<ruleId>") that fired for
	// the job: each fires at most once.
	ExceptionsFired []string `json:"exceptionsFired,omitempty"`
	CompletedBy     string   `json:"completedBy,omitempty"`
	ClosedBy        string   `json:"closedBy,omitempty"`
	CancelledBy     string   `json:"cancelledBy,omitempty"`
	// UpdatedBy and UnassignedBy are the CloudEvent ids of the last job.update and
	// job.unassign that changed the job.
	UpdatedBy    string `json:"updatedBy,omitempty"`
	UnassignedBy string `json:"unassignedBy,omitempty"`
	// EndedAt is when the job became terminal (closed or cancelled); the engine
	// forgets it Retention later. Jobs stored before it existed use endedAt().
	EndedAt *time.Time `json:"endedAt,omitempty"`
}

// repeated answers a command that already did its work on j (same CloudEvent id).
func (e *Engine) repeated(j *Job, by, cmdID string) bool {
	if by == "" || by != cmdID {
		return false
	}
	e.res.Reply = &events.CommandResult{JobID: j.JobID, Status: j.Status, Duplicate: true}
	if j.Assignment != nil {
		e.res.Reply.AssignmentID, e.res.Reply.WorkerID = j.Assignment.AssignmentID, j.Assignment.WorkerID
	}
	return true
}

// Decline records that a worker declined a job during one registration epoch.
type Decline struct {
	Epoch   uint64     `json:"epoch"`
	RetryAt *time.Time `json:"retryAt,omitempty"`
}

func (j *Job) status() lifecycle.JobStatus { return lifecycle.JobStatus(j.Status) }

// expedited reports whether the job has an expedited selector (expired selectors are
// removed from the job when they expire, so every selector it has is active).
func (j *Job) expedited() bool {
	for _, s := range j.WorkerSelectors {
		if s.Expedite {
			return true
		}
	}
	return false
}

// selectorExpiries lists the distinct times at which selectors of the job expire.
func (j *Job) selectorExpiries() []time.Time {
	var out []time.Time
	seen := map[time.Time]bool{}
	for _, s := range j.WorkerSelectors {
		if s.ExpiresAt != nil && !seen[*s.ExpiresAt] {
			seen[*s.ExpiresAt] = true
			out = append(out, *s.ExpiresAt)
		}
	}
	return out
}

// declinedBy reports whether the job may not be offered to w at now because w
// declined it.
func (j *Job) declinedBy(w *Worker, now time.Time) bool {
	d, ok := j.Declined[w.WorkerID]
	if !ok || d.Epoch != w.Epoch {
		return false
	}
	return d.RetryAt == nil || now.Before(*d.RetryAt)
}

// noteExpiry moves w to the end of the job's expiry order.
func (j *Job) noteExpiry(w string) {
	for i, x := range j.ExpiredFor {
		if x == w {
			j.ExpiredFor = append(j.ExpiredFor[:i:i], j.ExpiredFor[i+1:]...)
			break
		}
	}
	j.ExpiredFor = append(j.ExpiredFor, w)
}

// expiryRank orders workers for the job: 0 for a worker that never let an offer for
// it expire, then 1, 2, ... by the age of its expiry, oldest first.
func (j *Job) expiryRank(w string) int {
	for i, x := range j.ExpiredFor {
		if x == w {
			return i + 1
		}
	}
	return 0
}

func (j *Job) snapshot() events.Job {
	s := j.Job
	if s.Assignment != nil {
		a := *s.Assignment
		s.Assignment = &a
	}
	return s
}

func (j *Job) removeOffer(id string) {
	for i, o := range j.OfferIDs {
		if o == id {
			j.OfferIDs = append(j.OfferIDs[:i:i], j.OfferIDs[i+1:]...)
			return
		}
	}
}

func timePtr(t time.Time) *time.Time { return &t }
