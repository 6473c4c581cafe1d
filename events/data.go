package events

import (
	"encoding/json"
	"time"
)

// Selector operators (Azure Job Router's labelOperator values).
const (
	OpEqual              = "equal"
	OpNotEqual           = "notEqual"
	OpLessThan           = "lessThan"
	OpLessThanOrEqual    = "lessThanOrEqual"
	OpGreaterThan        = "greaterThan"
	OpGreaterThanOrEqual = "greaterThanOrEqual"
)

// Operators lists the worker-selector operators.
func Operators() []string {
	return []string{OpEqual, OpNotEqual, OpLessThan, OpLessThanOrEqual, OpGreaterThan, OpGreaterThanOrEqual}
}

// Labels are routing attributes: string keys to primitive values (string, number, bool).
type Labels map[string]any

// WorkerSelector is a condition a worker's labels must satisfy. Every worker also has
// the implicit label "id" (its worker id).
type WorkerSelector struct {
	Key      string `json:"key"`
	Operator string `json:"labelOperator"`
	Value    any    `json:"value"`
	// ExpiresAfterSeconds drops the selector that long after the job was created; the
	// job is then matched with the selectors that remain (0: never).
	ExpiresAfterSeconds float64 `json:"expiresAfterSeconds,omitempty"`
	// Expedite moves the job to the front of its queue while the selector is active.
	Expedite bool `json:"expedite,omitempty"`
	// ExpiresAt is when the selector is dropped (set by the router on the job).
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// ChannelConfig is a worker's capacity on one channel.
type ChannelConfig struct {
	ChannelID string `json:"channelId"`
	// CapacityCostPerJob is taken from the worker's totalCapacity by each job (or
	// outstanding offer) on this channel.
	CapacityCostPerJob int `json:"capacityCostPerJob"`
	// MaxNumberOfJobs caps the jobs on this channel at once; 0 means no cap beyond capacity.
	MaxNumberOfJobs int `json:"maxNumberOfJobs,omitempty"`
}

// --- inbound payloads ---

// JobCreated is the data of io.patchbay.job.created.
type JobCreated struct {
	// JobID names the job; when empty the CloudEvent id is used. Publishing the same
	// event (same CloudEvent id) twice creates one job.
	JobID string `json:"jobId,omitempty"`
	// QueueID is the job's queue; or WorkflowID names a workflow that picks the queue
	// (exactly one of the two).
	QueueID    string `json:"queueId,omitempty"`
	WorkflowID string `json:"workflowId,omitempty"`
	// ClassificationPolicyID names a classification policy that picks the queue, the
	// priority and extra worker selectors from the job's labels (instead of queueId
	// or workflowId).
	ClassificationPolicyID string           `json:"classificationPolicyId,omitempty"`
	ChannelID              string           `json:"channelId"`
	ChannelReference       string           `json:"channelReference,omitempty"`
	Priority               int              `json:"priority,omitempty"` // -100..100, higher first
	Labels                 Labels           `json:"labels,omitempty"`
	Tags                   map[string]any   `json:"tags,omitempty"`
	WorkerSelectors        []WorkerSelector `json:"requestedWorkerSelectors,omitempty"`
	Notes                  string           `json:"notes,omitempty"`
	// TimeToLiveSeconds cancels the job (disposition TTLExpired) if it is still queued
	// that long after it was created (0: never).
	TimeToLiveSeconds float64 `json:"timeToLiveSeconds,omitempty"`
	// MatchingMode says whether the job is queued and matched at once (the default),
	// scheduled for later, or suspended.
	MatchingMode *MatchingMode `json:"matchingMode,omitempty"`
}

// Matching modes (MatchingMode.Kind).
const (
	// MatchQueueAndMatch queues the job and matches it (the default).
	MatchQueueAndMatch = "queueAndMatch"
	// MatchScheduleAndSuspend keeps the job out of its queue until scheduleAt, when it
	// becomes waitingForActivation (an update with queueAndMatch then queues it).
	MatchScheduleAndSuspend = "scheduleAndSuspend"
	// MatchSuspend keeps the job out of its queue until an update with queueAndMatch.
	MatchSuspend = "suspend"
)

// MatchingModes lists the matching mode kinds.
func MatchingModes() []string {
	return []string{MatchQueueAndMatch, MatchScheduleAndSuspend, MatchSuspend}
}

// MatchingMode is how a job is matched: on job.created and job.update.
type MatchingMode struct {
	Kind string `json:"kind"`
	// ScheduleAt is when a scheduleAndSuspend job becomes waitingForActivation (only
	// with that kind; not in the past).
	ScheduleAt *time.Time `json:"scheduleAt,omitempty"`
}

// JobUpdate is the data of io.patchbay.job.update.
type JobUpdate struct {
	JobID string `json:"jobId"`
	// MatchingMode queueAndMatch resumes a suspended or waitingForActivation job;
	// suspend suspends a queued job (its offers are revoked).
	MatchingMode *MatchingMode `json:"matchingMode"`
}

// JobUnassign is the data of io.patchbay.job.unassign.
type JobUnassign struct {
	JobID        string `json:"jobId"`
	AssignmentID string `json:"assignmentId"`
	// SuspendMatching suspends the job instead of putting it back in its queue.
	SuspendMatching bool `json:"suspendMatching,omitempty"`
}

// MaxUnassignments is how many times a job can be unassigned.
const MaxUnassignments = 3

// DispositionTTLExpired is the disposition code of a job cancelled because its time
// to live ran out while it was queued.
const DispositionTTLExpired = "TTLExpired"

// WorkerRegister is the data of io.patchbay.worker.register and io.patchbay.worker.update.
// Register replaces the whole worker; update replaces only the fields it carries.
type WorkerRegister struct {
	WorkerID           string          `json:"workerId"`
	Labels             Labels          `json:"labels,omitempty"`
	Tags               map[string]any  `json:"tags,omitempty"`
	Queues             []string        `json:"queues,omitempty"`
	TotalCapacity      *int            `json:"totalCapacity,omitempty"`
	Channels           []ChannelConfig `json:"channels,omitempty"`
	AvailableForOffers *bool           `json:"availableForOffers,omitempty"`
	// MaxConcurrentOffers caps the offers outstanding to the worker at once (0: no cap
	// beyond its capacity).
	MaxConcurrentOffers *int `json:"maxConcurrentOffers,omitempty"`
	// HeartbeatSeconds, when set (1 to MaxHeartbeatSeconds), makes the worker's
	// presence tracked: it publishes a heartbeat on PresenceSubject at least that
	// often, and is marked lost after PresenceTimeout without one. 0 stops tracking.
	HeartbeatSeconds *int `json:"heartbeatSeconds,omitempty"`
	// Activity puts the worker in an activity (a built-in one, or one defined by a
	// policy of kind activity), which sets AvailableForOffers to the activity's flag.
	// Without it, AvailableForOffers moves the worker to ActivityAvailable (true) or
	// ActivityOffline (false), unless, on an update, its activity already has that
	// flag; a register with neither is ActivityAvailable.
	Activity string `json:"activity,omitempty"`
}

// WorkerDeregister is the data of io.patchbay.worker.deregister.
type WorkerDeregister struct {
	WorkerID string `json:"workerId"`
}

// OfferAccept is the data of io.patchbay.offer.accept.
type OfferAccept struct {
	JobID    string `json:"jobId"`
	OfferID  string `json:"offerId"`
	WorkerID string `json:"workerId"`
}

// OfferDecline is the data of io.patchbay.offer.decline.
type OfferDecline struct {
	JobID    string `json:"jobId"`
	OfferID  string `json:"offerId"`
	WorkerID string `json:"workerId"`
	// RetryOfferAt makes the decliner eligible for the job again from that time.
	// Without it the job is never offered to this worker again (until it re-registers).
	RetryOfferAt *time.Time `json:"retryOfferAt,omitempty"`
}

// JobComplete is the data of io.patchbay.job.complete.
type JobComplete struct {
	JobID        string `json:"jobId"`
	AssignmentID string `json:"assignmentId"`
	Note         string `json:"note,omitempty"`
}

// JobClose is the data of io.patchbay.job.close.
type JobClose struct {
	JobID           string `json:"jobId"`
	AssignmentID    string `json:"assignmentId"`
	DispositionCode string `json:"dispositionCode,omitempty"`
	// CloseAt delays the close (and the release of the worker's capacity) to that time.
	CloseAt *time.Time `json:"closeAt,omitempty"`
	Note    string     `json:"note,omitempty"`
}

// JobCancel is the data of io.patchbay.job.cancel.
type JobCancel struct {
	JobID           string `json:"jobId"`
	DispositionCode string `json:"dispositionCode,omitempty"`
	Note            string `json:"note,omitempty"`
}

// --- outbound payloads ---

// Assignment is a job's assignment to a worker.
type Assignment struct {
	AssignmentID string     `json:"assignmentId"`
	WorkerID     string     `json:"workerId"`
	OfferID      string     `json:"offerId"`
	AssignedAt   time.Time  `json:"assignedAt"`
	CompletedAt  *time.Time `json:"completedAt,omitempty"`
	ClosedAt     *time.Time `json:"closedAt,omitempty"`
	// CompletionNote and CloseNote are the notes sent with complete and close.
	CompletionNote string `json:"completionNote,omitempty"`
	CloseNote      string `json:"closeNote,omitempty"`
}

// Job is a job's public snapshot: the data of every io.patchbay.job.* outbound event.
type Job struct {
	JobID            string           `json:"jobId"`
	QueueID          string           `json:"queueId"`
	ChannelID        string           `json:"channelId"`
	ChannelReference string           `json:"channelReference,omitempty"`
	Priority         int              `json:"priority"`
	Labels           Labels           `json:"labels,omitempty"`
	Tags             map[string]any   `json:"tags,omitempty"`
	WorkerSelectors  []WorkerSelector `json:"requestedWorkerSelectors,omitempty"`
	Notes            string           `json:"notes,omitempty"`
	Status           string           `json:"status"`
	CreatedAt        time.Time        `json:"createdAt"`
	EnqueuedAt       *time.Time       `json:"enqueuedAt,omitempty"`
	Assignment       *Assignment      `json:"assignment,omitempty"`
	DispositionCode  string           `json:"dispositionCode,omitempty"`
	// ScheduledCloseAt is set on a completed job whose close was requested for later.
	ScheduledCloseAt *time.Time `json:"scheduledCloseAt,omitempty"`
	CancelNote       string     `json:"cancelNote,omitempty"`
	// Reason says why, on io.patchbay.job.rejected.
	Reason *Error `json:"reason,omitempty"`
	// Workflow is where a job routed by a workflow stands in it.
	Workflow *WorkflowPosition `json:"workflow,omitempty"`
	// ExpiresAt is when the job is cancelled if it is still queued (its time to live).
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Exception names the rule that fired, on io.patchbay.job.exceptionTriggered.
	Exception *ExceptionFired `json:"exception,omitempty"`
	// ClassificationPolicyID is the classification policy that classified the job.
	ClassificationPolicyID string `json:"classificationPolicyId,omitempty"`
	// MatchingMode is the job's matching mode when it is not queueAndMatch (as created
	// or last updated).
	MatchingMode *MatchingMode `json:"matchingMode,omitempty"`
	// UnassignmentCount is how many times the job was unassigned (at most
	// MaxUnassignments).
	UnassignmentCount int `json:"unassignmentCount,omitempty"`
}

// ExceptionFired says which exception rule fired for a job, and why.
type ExceptionFired struct {
	PolicyID string `json:"exceptionPolicyId"`
	RuleID   string `json:"ruleId"`
	// Trigger is what fired it: queueLength or waitTime.
	Trigger string `json:"trigger"`
}

// WorkflowPosition is a job's place in its workflow: the filter that matched it and
// the target it is at.
type WorkflowPosition struct {
	WorkflowID string `json:"workflowId"`
	// Filter is the name of the filter that matched, or "default".
	Filter string `json:"filter"`
	// FilterIndex is the filter's index (-1 for the default filter).
	FilterIndex int `json:"filterIndex"`
	// Target is the index of the target the job is at.
	Target int `json:"target"`
	// TargetExpiresAt is when the job moves on to the next target (the target's
	// timeout, counted from the job's creation).
	TargetExpiresAt *time.Time `json:"targetExpiresAt,omitempty"`
}

// Offer is an offer's public snapshot: the data of every io.patchbay.offer.* event.
type Offer struct {
	OfferID      string    `json:"offerId"`
	JobID        string    `json:"jobId"`
	WorkerID     string    `json:"workerId"`
	QueueID      string    `json:"queueId"`
	ChannelID    string    `json:"channelId"`
	CapacityCost int       `json:"capacityCost"`
	Status       string    `json:"status"`
	IssuedAt     time.Time `json:"issuedAt"`
	ExpiresAt    time.Time `json:"expiresAt"`
	// Job is the offered job as it was when the offer was issued (on issued events).
	Job *Job `json:"job,omitempty"`
	// RetryOfferAt echoes the decline's retry time (on declined events).
	RetryOfferAt *time.Time `json:"retryOfferAt,omitempty"`
	// AssignmentID is set on accepted events.
	AssignmentID string `json:"assignmentId,omitempty"`
	// Reason says why, on revoked events: one of the Revoked* constants.
	Reason string `json:"reason,omitempty"`
}

// Revocation reasons (Offer.Reason).
const (
	RevokedJobAssigned        = "job_assigned"
	RevokedJobCancelled       = "job_cancelled"
	RevokedWorkerDeregistered = "worker_deregistered"
	RevokedWorkerDisconnected = "worker_disconnected"
	RevokedWorkerLeftQueue    = "worker_left_queue"
	RevokedTargetTimeout      = "target_timeout"
	RevokedJobReclassified    = "job_reclassified"
	RevokedJobSuspended       = "job_suspended"
)

// RevokeReasons lists the revocation reasons.
func RevokeReasons() []string {
	return []string{RevokedJobAssigned, RevokedJobCancelled, RevokedWorkerDeregistered, RevokedWorkerDisconnected, RevokedWorkerLeftQueue, RevokedTargetTimeout, RevokedJobReclassified, RevokedJobSuspended}
}

// Worker states (Worker.State).
const (
	WorkerActive   = "active"   // available for offers
	WorkerDraining = "draining" // not available, still holds assigned jobs
	WorkerInactive = "inactive" // not available, holds nothing
)

// WorkerStates lists the worker states.
func WorkerStates() []string { return []string{WorkerActive, WorkerDraining, WorkerInactive} }

// JobStatusRejected is the status on io.patchbay.job.rejected: the job was never
// created. (The lifecycle statuses of created jobs are in package lifecycle.)
const JobStatusRejected = "rejected"

// JobStatusClassificationFailed is the status on io.patchbay.job.classificationFailed
// for a job that was never created.
const JobStatusClassificationFailed = "classificationFailed"

// Worker is a worker's public snapshot: the data of every io.patchbay.worker.* event.
type Worker struct {
	WorkerID           string          `json:"workerId"`
	Labels             Labels          `json:"labels,omitempty"`
	Tags               map[string]any  `json:"tags,omitempty"`
	Queues             []string        `json:"queues"`
	TotalCapacity      int             `json:"totalCapacity"`
	Channels           []ChannelConfig `json:"channels"`
	AvailableForOffers bool            `json:"availableForOffers"`
	// MaxConcurrentOffers caps the offers outstanding to the worker (0: no cap).
	MaxConcurrentOffers int `json:"maxConcurrentOffers,omitempty"`
	// State is active (available for offers), draining (deregistered with work still
	// assigned) or inactive.
	State string `json:"state"`
	// UsedCapacity is the capacity taken by outstanding offers and held jobs.
	UsedCapacity int `json:"usedCapacity"`
	// LoadRatio is UsedCapacity / TotalCapacity.
	LoadRatio      float64    `json:"loadRatio"`
	OfferIDs       []string   `json:"offerIds,omitempty"`
	AssignedJobIDs []string   `json:"assignedJobIds,omitempty"`
	RegisteredAt   time.Time  `json:"registeredAt"`
	LastAssignedAt *time.Time `json:"lastAssignedAt,omitempty"`
	// HeartbeatSeconds is how often the worker promised a heartbeat (0: its presence
	// is not tracked).
	HeartbeatSeconds int `json:"heartbeatSeconds,omitempty"`
	// Presence is online or lost for a tracked worker, empty otherwise. A lost worker
	// is offered nothing until its next heartbeat.
	Presence string `json:"presence,omitempty"`
	// PresenceChangedAt is when Presence last changed.
	PresenceChangedAt *time.Time `json:"presenceChangedAt,omitempty"`
	// Activity is the worker's activity (TaskRouter's): AvailableForOffers is always
	// its flag.
	Activity string `json:"activity"`
}

// Built-in worker activities. More are defined as policies of kind KindActivity;
// the built-in ones cannot be redefined or deleted.
const (
	// ActivityAvailable takes offers: a registered worker's default.
	ActivityAvailable = "available"
	// ActivityOffline does not: a deregistered worker's.
	ActivityOffline = "offline"
	// ActivityBreak does not.
	ActivityBreak = "break"
)

// BuiltinActivities lists the built-in activities.
func BuiltinActivities() []string {
	return []string{ActivityAvailable, ActivityOffline, ActivityBreak}
}

// BuiltinActivityAvailable reports whether id is a built-in activity, and whether it
// takes offers.
func BuiltinActivityAvailable(id string) (available, ok bool) {
	switch id {
	case ActivityAvailable:
		return true, true
	case ActivityOffline, ActivityBreak:
		return false, true
	}
	return false, false
}

// Presence values of a tracked worker.
const (
	PresenceOnline = "online"
	PresenceLost   = "lost"
)

// CommandResult is the data of io.patchbay.command.succeeded: what the command did.
type CommandResult struct {
	CommandID    string `json:"commandId"`
	CommandType  Type   `json:"commandType"`
	JobID        string `json:"jobId,omitempty"`
	WorkerID     string `json:"workerId,omitempty"`
	OfferID      string `json:"offerId,omitempty"`
	AssignmentID string `json:"assignmentId,omitempty"`
	// Status is the job's (or worker's) status after the command.
	Status string `json:"status,omitempty"`
	// PolicyKind, PolicyID and Revision are set by policy commands: the policy's
	// revision after the command.
	PolicyKind PolicyKind `json:"policyKind,omitempty"`
	PolicyID   string     `json:"policyId,omitempty"`
	Revision   uint64     `json:"revision,omitempty"`
	// Duplicate is true when the command had already been applied (same CloudEvent id
	// or same job id); nothing changed.
	Duplicate bool `json:"duplicate,omitempty"`
	// Policies is set by io.patchbay.policy.apply: what it did (or, with DryRun,
	// would do) to each policy it names or prunes, puts first in their order, then
	// deletes.
	Policies []PolicyChange `json:"policies,omitempty"`
	// DryRun is true for a policy.apply that was only validated: nothing changed.
	DryRun bool `json:"dryRun,omitempty"`
}

// CommandFailure is the data of io.patchbay.command.failed.
type CommandFailure struct {
	CommandID   string `json:"commandId,omitempty"`
	CommandType string `json:"commandType,omitempty"`
	Subject     string `json:"subject,omitempty"`
	Error       *Error `json:"error"`
}

// --- policies ---

// PolicyKind names a kind of routing policy.
type PolicyKind string

const (
	// KindQueue is a queue's policy: its distribution policy and order.
	KindQueue PolicyKind = "queue"
	// KindDistributionPolicy says how a queue's jobs are offered.
	KindDistributionPolicy PolicyKind = "distributionPolicy"
	// KindWorkflow routes jobs through filters and targets (TaskRouter workflows).
	KindWorkflow PolicyKind = "workflow"
	// KindExceptionPolicy handles jobs of a queue that grows too long or waits too long.
	KindExceptionPolicy PolicyKind = "exceptionPolicy"
	// KindClassificationPolicy picks a job's queue, priority and worker selectors.
	KindClassificationPolicy PolicyKind = "classificationPolicy"
	// KindActivity defines a worker activity besides the built-in ones (its id is
	// the activity's name in worker commands).
	KindActivity PolicyKind = "activity"
)

// PolicyKinds lists the policy kinds.
func PolicyKinds() []PolicyKind {
	return []PolicyKind{KindQueue, KindDistributionPolicy, KindWorkflow, KindExceptionPolicy, KindClassificationPolicy, KindActivity}
}

// PolicyPut is the data of io.patchbay.policy.put: create or replace a policy.
type PolicyPut struct {
	Kind PolicyKind `json:"kind"`
	ID   string     `json:"id"`
	// Revision, when set, must be the policy's current revision (0: it must not exist
	// yet); the put is refused with revision_mismatch otherwise.
	Revision *uint64 `json:"revision,omitempty"`
	// Spec is the policy: a QueueSpec or a DistributionPolicySpec, by Kind.
	Spec json.RawMessage `json:"spec"`
}

// PolicyDelete is the data of io.patchbay.policy.delete.
type PolicyDelete struct {
	Kind PolicyKind `json:"kind"`
	ID   string     `json:"id"`
	// Revision, when set, must be the policy's current revision.
	Revision *uint64 `json:"revision,omitempty"`
}

// PolicyApply is the data of io.patchbay.policy.apply: a set of policy changes
// validated as a whole against the router's state and applied all together, or not
// at all (a refusal lists every problem in Error.Problems). At most
// MaxPolicyApplyItems puts and deletes, pruned policies included.
type PolicyApply struct {
	// Puts create or replace policies; a put whose spec equals the stored one
	// changes nothing. A policy may appear once among the puts and deletes.
	Puts []PolicyPut `json:"puts,omitempty"`
	// Deletes remove policies (each must exist).
	Deletes []PolicyDelete `json:"deletes,omitempty"`
	// Prune also deletes every stored policy that Puts does not name (the built-in
	// activities are not policies and stay).
	Prune bool `json:"prune,omitempty"`
	// DryRun validates the set the same way and answers what would change, changing
	// nothing.
	DryRun bool `json:"dryRun,omitempty"`
}

// What a policy.apply did to one policy (PolicyChange.Action).
const (
	PolicyCreated   = "created"
	PolicyUpdated   = "updated"
	PolicyUnchanged = "unchanged"
	PolicyDeleted   = "deleted"
)

// PolicyChange is what a policy.apply did (or would do) to one policy: its action and
// its revision after it.
type PolicyChange struct {
	Kind     PolicyKind `json:"kind"`
	ID       string     `json:"id"`
	Action   string     `json:"action"`
	Revision uint64     `json:"revision"`
}

// Policy is a stored policy: the data of io.patchbay.policy.updated and .deleted.
type Policy struct {
	Kind      PolicyKind      `json:"kind"`
	ID        string          `json:"id"`
	Revision  uint64          `json:"revision"`
	Spec      json.RawMessage `json:"spec"`
	UpdatedAt time.Time       `json:"updatedAt"`
	// Deleted marks a deleted policy (on io.patchbay.policy.deleted, and the record
	// kept so that a policy created again continues its revisions).
	Deleted bool `json:"deleted,omitempty"`
}

// Queue orders.
const (
	OrderFIFO = "fifo" // first in, first out within a priority (default)
	OrderLIFO = "lifo" // last in, first out within a priority
)

// QueueSpec is a queue's policy.
type QueueSpec struct {
	Name string `json:"name,omitempty"`
	// DistributionPolicyID names the distribution policy (defaults when empty or
	// not defined yet).
	DistributionPolicyID string `json:"distributionPolicyId,omitempty"`
	// Order within a priority: fifo (default) or lifo.
	Order string `json:"order,omitempty"`
	// ExceptionPolicyID names the exception policy of the queue.
	ExceptionPolicyID string `json:"exceptionPolicyId,omitempty"`
	Labels            Labels `json:"labels,omitempty"`
}

// ActivitySpec defines a worker activity (TaskRouter activity): a display name, and
// whether workers in it take offers.
type ActivitySpec struct {
	Name string `json:"name,omitempty"`
	// Available says whether workers in the activity take offers (required). It can
	// change only while no worker is in the activity.
	Available bool `json:"available"`
}

// Distribution modes.
const (
	ModeLongestIdle = "longestIdle" // lowest load ratio, then longest idle (default)
	ModeRoundRobin  = "roundRobin"  // the next worker after the one offered last
	ModeBestWorker  = "bestWorker"  // the highest score, ties to the longest idle
)

// DistributionPolicySpec says how a queue's jobs are offered.
type DistributionPolicySpec struct {
	Name string `json:"name,omitempty"`
	// OfferExpiresAfterSeconds is how long an offer stays open (the router's
	// --offer-expiry when 0).
	OfferExpiresAfterSeconds float64          `json:"offerExpiresAfterSeconds,omitempty"`
	Mode                     DistributionMode `json:"mode"`
	// ExpiredOfferMakesWorkerUnavailable: when an offer of these queues expires, its
	// worker is made unavailable for offers until it makes itself available again.
	ExpiredOfferMakesWorkerUnavailable bool `json:"expiredOfferMakesWorkerUnavailable,omitempty"`
}

// DistributionMode picks the workers a job is offered to.
type DistributionMode struct {
	Kind string `json:"kind"`
	// MinConcurrentOffers: a job is first offered when at least this many workers can
	// take it (default 1). MaxConcurrentOffers: it is offered to at most this many at
	// once (default 1); the first accept wins and the other offers are revoked. Min
	// must not exceed max (1 when unset).
	MinConcurrentOffers int `json:"minConcurrentOffers,omitempty"`
	MaxConcurrentOffers int `json:"maxConcurrentOffers,omitempty"`
	// BypassSelectors ignores the jobs' worker selectors.
	BypassSelectors bool `json:"bypassSelectors,omitempty"`
	// ScoringRule scores workers in bestWorker mode: a worker's score is the sum of
	// the weights of the expressions that hold for the job and the worker (bare keys
	// are the worker's labels, worker.activity its activity, task.<key> the job's).
	// Without it the score is the number of the job's labels the worker has with the
	// same value.
	ScoringRule []ScoringTerm `json:"scoringRule,omitempty"`
}

// ScoringTerm is one weighted condition of a scoring rule.
type ScoringTerm struct {
	Expression string  `json:"expression"`
	Weight     float64 `json:"weight"`
}

// --- queries ---

// QueryJob is the data of io.patchbay.query.job.
type QueryJob struct {
	JobID string `json:"jobId"`
}

// QueryQueue is the data of io.patchbay.query.queue.
type QueryQueue struct {
	QueueID string `json:"queueId"`
}

// QueryWorker is the data of io.patchbay.query.worker.
type QueryWorker struct {
	WorkerID string `json:"workerId"`
}

// JobInfo answers io.patchbay.query.job: the job, and where it stands in its queue.
type JobInfo struct {
	Job Job `json:"job"`
	// Position is the job's place in its queue's dispatch order, from 1 (0 when the
	// job is not queued).
	Position int `json:"position,omitempty"`
	// QueueLength is the number of jobs queued with it.
	QueueLength int `json:"queueLength,omitempty"`
	// EstimatedWaitSeconds estimates how long the job still waits to be assigned, from
	// the queue's recent assignment rate (absent when the queue has no recent
	// assignments to go by).
	EstimatedWaitSeconds *float64 `json:"estimatedWaitSeconds,omitempty"`
}

// QueueInfo answers io.patchbay.query.queue: the queue's statistics.
type QueueInfo struct {
	QueueID string `json:"queueId"`
	// Length is the number of queued jobs (offered or not).
	Length int `json:"length"`
	// LongestWaitSeconds is how long the oldest queued job has waited.
	LongestWaitSeconds float64 `json:"longestWaitSeconds"`
	// EstimatedWait is, per priority of the queued jobs, how long a new job of that
	// priority would wait, from the queue's recent assignment rate.
	EstimatedWait []PriorityWait `json:"estimatedWait,omitempty"`
	// AvailableWorkers are the workers of the queue available for offers; IdleWorkers
	// those of them with room for one more job.
	AvailableWorkers int `json:"availableWorkers"`
	IdleWorkers      int `json:"idleWorkers"`
	// AssignmentsPerMinute is the recent assignment rate the estimates use.
	AssignmentsPerMinute float64 `json:"assignmentsPerMinute"`
	// WorkersByActivity is, per activity, how many of the queue's workers are in it:
	// every worker the router knows whose queues include this one (deregistered ones
	// are offline until they are forgotten). Activities no worker of the queue is in
	// are absent; so is the field when the queue has no workers.
	WorkersByActivity map[string]int `json:"workersByActivity,omitempty"`
}

// PriorityWait is the estimated wait of a job of one priority.
type PriorityWait struct {
	Priority int `json:"priority"`
	// Ahead is the number of queued jobs a new job of this priority would wait behind.
	Ahead int `json:"ahead"`
	// EstimatedWaitSeconds is absent when the queue has no recent assignments.
	EstimatedWaitSeconds *float64 `json:"estimatedWaitSeconds,omitempty"`
}

// WorkerInfo answers io.patchbay.query.worker: a worker, its outstanding offers and
// the jobs it holds, so that a worker that lost its connection or restarted can pick
// up its work again.
type WorkerInfo struct {
	Worker Worker `json:"worker"`
	// Offers are the worker's outstanding offers (status issued), oldest first (by
	// issuedAt, then offer id), each with its job as it is now, as io.patchbay.offer.issued
	// carries it.
	Offers []Offer `json:"offers"`
	// Jobs are the jobs the worker holds (assigned or completed, not yet closed), each
	// with its assignment, in the order they were assigned (by assignedAt, then job
	// id).
	Jobs []Job `json:"jobs"`
	// Truncated is true when Jobs and Offers were cut short so that the answer fits in
	// one NATS message (the router connection's max payload): they then hold the
	// oldest that fit, the jobs first (they hold capacity until the worker closes
	// them; an offer ends by itself). Ask again once some have ended.
	Truncated bool `json:"truncated,omitempty"`
}

// --- workflows ---

// WorkflowSpec routes a job (TaskRouter workflow): the filters are evaluated in order
// against the job's labels; the first that matches sends the job through its targets,
// in order. A job no filter matches goes to DefaultFilter's queue, or is rejected.
type WorkflowSpec struct {
	Name          string           `json:"name,omitempty"`
	Filters       []WorkflowFilter `json:"filters"`
	DefaultFilter *WorkflowTarget  `json:"defaultFilter,omitempty"`
}

// WorkflowFilter is one filter of a workflow.
type WorkflowFilter struct {
	Name string `json:"name"`
	// Expression is evaluated against the job: bare keys and task.<key> are its
	// labels, e.g. "type == 'Sales' AND language IN ['en','fr']".
	Expression string           `json:"expression"`
	Targets    []WorkflowTarget `json:"targets"`
}

// WorkflowTarget is one step of a filter: a queue, with optional conditions.
type WorkflowTarget struct {
	Queue string `json:"queue"`
	// Expression relates the job and a worker: only workers for which it holds are
	// eligible, e.g. "task.subSection = worker.specializedSubField" (bare keys are the
	// worker's labels; worker.activity is its activity).
	Expression string `json:"expression,omitempty"`
	// OrderBy orders the eligible workers: "worker.<attr> ASC|DESC, ...".
	OrderBy string `json:"orderBy,omitempty"`
	// Priority overrides the job's priority while it is at this target.
	Priority *int `json:"priority,omitempty"`
	// TimeoutSeconds moves the job to the next target once the job is that old
	// (measured from its creation); 0: it stays.
	TimeoutSeconds float64 `json:"timeoutSeconds,omitempty"`
	// SkipIf skips the target when it holds, evaluated against the target queue's
	// workers: workers.available (available for offers) and workers.idle (with room),
	// e.g. "workers.available == 0".
	SkipIf string `json:"skipIf,omitempty"`
	// KnownWorker names a job label holding a worker id (e.g. "task.preferredAgent"):
	// the job is offered only to that worker at this target, and the target is
	// skipped when the label is missing.
	KnownWorker string `json:"knownWorker,omitempty"`
}

// --- exception policies ---

// Exception triggers and actions.
const (
	TriggerQueueLength = "queueLength" // the queue, counting the joining job, holds more than threshold jobs
	TriggerWaitTime    = "waitTime"    // the job has waited thresholdSeconds

	ActionCancel           = "cancel"           // cancel the job (dispositionCode, note)
	ActionManualReclassify = "manualReclassify" // move it: queueId, priority, workerSelectors
	ActionReclassify       = "reclassify"       // classify it again (needs classification policies)
)

// ExceptionPolicySpec handles jobs of the queues naming it (Azure Job Router exception
// policy). Each rule fires at most once per job.
type ExceptionPolicySpec struct {
	Name  string          `json:"name,omitempty"`
	Rules []ExceptionRule `json:"rules"`
}

// ExceptionRule is a trigger and the actions it takes.
type ExceptionRule struct {
	ID      string            `json:"id"`
	Trigger ExceptionTrigger  `json:"trigger"`
	Actions []ExceptionAction `json:"actions"`
}

// ExceptionTrigger fires a rule: queueLength (for a job joining a queue that, counting
// that job, holds more than Threshold jobs: with 2, the third waiting job) or waitTime
// (when a job has waited ThresholdSeconds).
type ExceptionTrigger struct {
	Kind             string  `json:"kind"`
	Threshold        int     `json:"threshold,omitempty"`
	ThresholdSeconds float64 `json:"thresholdSeconds,omitempty"`
}

// ExceptionAction is what a fired rule does to the job.
type ExceptionAction struct {
	Kind            string `json:"kind"`
	DispositionCode string `json:"dispositionCode,omitempty"`
	Note            string `json:"note,omitempty"`
	// QueueID, Priority and WorkerSelectors are for manualReclassify (the selectors
	// replace the job's when given). ClassificationPolicyID is for reclassify: the
	// policy to classify the job with again, after LabelsToUpsert are merged into the
	// job's labels.
	ClassificationPolicyID string           `json:"classificationPolicyId,omitempty"`
	LabelsToUpsert         Labels           `json:"labelsToUpsert,omitempty"`
	QueueID                string           `json:"queueId,omitempty"`
	Priority               *int             `json:"priority,omitempty"`
	WorkerSelectors        []WorkerSelector `json:"workerSelectors,omitempty"`
}

// --- classification policies ---

// Classification attachment kinds.
const (
	AttachStatic      = "static"             // always applies
	AttachConditional = "conditional"        // applies when condition holds on the job
	AttachPassThrough = "passThrough"        // takes the value of one of the job's labels
	AttachWeighted    = "weightedAllocation" // picks one allocation by weight
)

// ClassificationPolicySpec picks a job's queue, priority and extra worker selectors
// from its labels (Azure Job Router classification policy).
type ClassificationPolicySpec struct {
	Name string `json:"name,omitempty"`
	// QueueSelectors are tried in order; the first that yields a queue wins, else
	// FallbackQueueID; with neither the classification fails.
	QueueSelectors  []QueueSelectorAttachment `json:"queueSelectorAttachments,omitempty"`
	FallbackQueueID string                    `json:"fallbackQueueId,omitempty"`
	// PrioritizationRules are tried in order; the first that applies sets the
	// priority (else the job keeps its own).
	PrioritizationRules []PrioritizationRule `json:"prioritizationRules,omitempty"`
	// WorkerSelectors attach extra selectors to the job: every attachment that
	// applies adds its selectors.
	WorkerSelectors []WorkerSelectorAttachment `json:"workerSelectorAttachments,omitempty"`
}

// QueueSelectorAttachment yields a queue: static (QueueID), conditional (QueueID when
// Condition holds), passThrough (the value of the job's label Key), or
// weightedAllocation (one of Allocations, drawn by weight from the job id).
type QueueSelectorAttachment struct {
	Kind        string            `json:"kind"`
	QueueID     string            `json:"queueId,omitempty"`
	Condition   string            `json:"condition,omitempty"`
	Key         string            `json:"key,omitempty"`
	Allocations []QueueAllocation `json:"allocations,omitempty"`
}

// QueueAllocation is one weighted choice of queue.
type QueueAllocation struct {
	Weight  float64 `json:"weight"`
	QueueID string  `json:"queueId"`
}

// PrioritizationRule sets the priority: static (always) or conditional.
type PrioritizationRule struct {
	Kind      string `json:"kind"`
	Condition string `json:"condition,omitempty"`
	Priority  int    `json:"priority"`
}

// WorkerSelectorAttachment adds selectors: static (Selectors), conditional (Selectors
// when Condition holds), passThrough (Key LabelOperator the job's value of Key), or
// weightedAllocation (the Selectors of one of Allocations, drawn by weight).
type WorkerSelectorAttachment struct {
	Kind          string                     `json:"kind"`
	Condition     string                     `json:"condition,omitempty"`
	Selectors     []WorkerSelector           `json:"selectors,omitempty"`
	Key           string                     `json:"key,omitempty"`
	LabelOperator string                     `json:"labelOperator,omitempty"`
	Allocations   []WorkerSelectorAllocation `json:"allocations,omitempty"`
}

// WorkerSelectorAllocation is one weighted choice of selectors.
type WorkerSelectorAllocation struct {
	Weight    float64          `json:"weight"`
	Selectors []WorkerSelector `json:"selectors"`
}

// --- list queries ---

// QueryJobs is the data of io.patchbay.query.jobs: the jobs the router holds (live,
// and ended within the retention), oldest created first (ties by job id), filtered by
// status, queue and assigned worker, a page at a time.
type QueryJobs struct {
	Status   string `json:"status,omitempty"`
	QueueID  string `json:"queueId,omitempty"`
	WorkerID string `json:"workerId,omitempty"`
	Limit    int    `json:"limit,omitempty"`
	After    string `json:"after,omitempty"`
}

// QueryWorkers is the data of io.patchbay.query.workers: the workers the router
// knows, by worker id, filtered by queue and activity.
type QueryWorkers struct {
	QueueID  string `json:"queueId,omitempty"`
	Activity string `json:"activity,omitempty"`
	Limit    int    `json:"limit,omitempty"`
	After    string `json:"after,omitempty"`
}

// QueryQueues is the data of io.patchbay.query.queues: the queues the router knows
// (with a policy, a job or a worker), by queue id.
type QueryQueues struct {
	Limit int    `json:"limit,omitempty"`
	After string `json:"after,omitempty"`
}

// QueryPolicies is the data of io.patchbay.query.policies: the stored policies, by
// kind then id, optionally of one kind.
type QueryPolicies struct {
	Kind  PolicyKind `json:"kind,omitempty"`
	Limit int        `json:"limit,omitempty"`
	After string     `json:"after,omitempty"`
}

// QueryPolicy is the data of io.patchbay.query.policy: one stored policy.
type QueryPolicy struct {
	Kind PolicyKind `json:"kind"`
	ID   string     `json:"id"`
}

// JobList answers io.patchbay.query.jobs. Next, when set, is the cursor of the next
// page (send it as "after"); it is absent on the last page.
type JobList struct {
	Jobs []JobInfo `json:"jobs"`
	Next string    `json:"next,omitempty"`
}

// WorkerSummary is a worker in a worker list: its snapshot without the lists of
// offer and job ids (the worker query gives them), the number of each, and its load
// per channel.
type WorkerSummary struct {
	Worker Worker `json:"worker"`
	// OutstandingOffers counts the worker's outstanding offers, AssignedJobs the jobs
	// it holds (assigned or completed, not yet closed).
	OutstandingOffers int `json:"outstandingOffers"`
	AssignedJobs      int `json:"assignedJobs"`
	// Channels is the worker's load on each of its channels, in the order it declared
	// them.
	Channels []ChannelLoad `json:"channels"`
}

// ChannelLoad is a worker's load on one channel.
type ChannelLoad struct {
	ChannelID string `json:"channelId"`
	// Offers and Jobs count the outstanding offers and held jobs on the channel;
	// UsedCapacity is what they cost.
	Offers       int `json:"offers"`
	Jobs         int `json:"jobs"`
	UsedCapacity int `json:"usedCapacity"`
}

// WorkerList answers io.patchbay.query.workers.
type WorkerList struct {
	Workers []WorkerSummary `json:"workers"`
	Next    string          `json:"next,omitempty"`
}

// QueueList answers io.patchbay.query.queues: each queue as io.patchbay.query.queue
// describes it.
type QueueList struct {
	Queues []QueueInfo `json:"queues"`
	Next   string      `json:"next,omitempty"`
}

// PolicyInfo is a stored policy, as the policy queries answer it.
type PolicyInfo struct {
	Kind      PolicyKind      `json:"kind"`
	ID        string          `json:"id"`
	Revision  uint64          `json:"revision"`
	Spec      json.RawMessage `json:"spec"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// PolicyList answers io.patchbay.query.policies.
type PolicyList struct {
	Policies []PolicyInfo `json:"policies"`
	Next     string       `json:"next,omitempty"`
}

// --- explain ---

// QueryExplain is the data of io.patchbay.query.explain: why a job is, or is not,
// offered to the workers of its queue.
type QueryExplain struct {
	JobID string `json:"jobId"`
	// Limit is how many workers to describe (DefaultExplainWorkers when 0, at most
	// MaxExplainWorkers), the first by worker id.
	Limit int `json:"limit,omitempty"`
}

// Explanation answers io.patchbay.query.explain. Every reason is computed by the
// matcher's own eligibility rule, as the job and the workers are now.
type Explanation struct {
	JobID     string `json:"jobId"`
	Status    string `json:"status"`
	QueueID   string `json:"queueId"`
	ChannelID string `json:"channelId"`
	// Summary says in one sentence where the job stands.
	Summary string `json:"summary"`
	// Distribution is how the job's queue offers it (absent unless the job is
	// queued, assigned or completed).
	Distribution *DistributionExplained `json:"distribution,omitempty"`
	// Chosen are the workers the job is offered to (a queued job with outstanding
	// offers) or assigned to, and what chose them.
	Chosen []ChosenWorker `json:"chosen,omitempty"`
	// Workers are the workers of the job's queue (and any worker an id selector of
	// the job names), the first Limit by id, each with its reason.
	Workers []WorkerExplained `json:"workers"`
	// MoreWorkers counts the workers left out of Workers.
	MoreWorkers int `json:"moreWorkers,omitempty"`
	// Truncated is true when Workers was cut short to fit in one message (the rest
	// are counted in MoreWorkers).
	Truncated bool `json:"truncated,omitempty"`
}

// DistributionExplained is a queue's effective distribution, as matching reads it.
type DistributionExplained struct {
	Mode                string `json:"mode"`
	MinConcurrentOffers int    `json:"minConcurrentOffers"`
	MaxConcurrentOffers int    `json:"maxConcurrentOffers"`
	BypassSelectors     bool   `json:"bypassSelectors,omitempty"`
	// OffersOut counts the job's outstanding offers.
	OffersOut int `json:"offersOut"`
	// OrderBy is the order_by of the job's workflow target, which replaces the mode's
	// order when every candidate has integer values for it.
	OrderBy string `json:"orderBy,omitempty"`
}

// ChosenWorker is a worker the job is offered or assigned to, with the values the
// distribution compared, as they are now.
type ChosenWorker struct {
	WorkerID     string `json:"workerId"`
	OfferID      string `json:"offerId,omitempty"`
	AssignmentID string `json:"assignmentId,omitempty"`
	// Score is the worker's best-worker score for the job (bestWorker mode).
	Score *float64 `json:"score,omitempty"`
	// OrderBy are the worker's values for the target's order_by clauses.
	OrderBy []OrderValue `json:"orderBy,omitempty"`
	// LoadRatio and IdleSince order workers in longestIdle mode (and break ties).
	LoadRatio float64   `json:"loadRatio"`
	IdleSince time.Time `json:"idleSince"`
	// ExpiryRank is 1, 2, ... when the worker let an offer for the job expire (it
	// then comes after the workers that did not), absent otherwise.
	ExpiryRank int `json:"expiryRank,omitempty"`
	// Message says why it was chosen.
	Message string `json:"message"`
}

// OrderValue is a worker's value for one order_by clause.
type OrderValue struct {
	Clause string `json:"clause"`
	// Value is absent when the worker lacks the attribute or it is not an integer.
	Value *int64 `json:"value,omitempty"`
}

// Explain reason codes: why a worker is not offered a job (or that it would be).
const (
	ReasonUnavailable         = "unavailable"         // its activity takes no offers
	ReasonLost                = "lost"                // its presence is lost
	ReasonNotInQueue          = "notInQueue"          // it does not serve the job's queue
	ReasonMaxConcurrentOffers = "maxConcurrentOffers" // it has its maxConcurrentOffers outstanding
	ReasonNoChannel           = "noChannel"           // it does not serve the job's channel
	ReasonNoCapacity          = "noCapacity"          // the job's cost does not fit in its capacity
	ReasonChannelFull         = "channelFull"         // the channel holds its maxNumberOfJobs
	ReasonSelector            = "selector"            // a worker selector of the job fails
	ReasonDeclined            = "declined"            // it declined the job
	ReasonOffered             = "offered"             // it holds an offer for the job
	ReasonKnownWorker         = "knownWorker"         // the workflow target names another worker
	ReasonTarget              = "target"              // the workflow target expression is false
	ReasonJobOffersFull       = "jobOffersFull"       // the job has its maxConcurrentOffers out
	ReasonMinOffers           = "minConcurrentOffers" // fewer eligible workers than minConcurrentOffers
	ReasonWouldBeOffered      = "wouldBeOffered"      // nothing stops it
	ReasonAssigned            = "assigned"            // the job is assigned to it
	ReasonEligible            = "eligible"            // eligible, but the job is not queued
)

// ExplainReasons lists the explain reason codes.
func ExplainReasons() []string {
	return []string{
		ReasonUnavailable, ReasonLost, ReasonNotInQueue, ReasonMaxConcurrentOffers, ReasonNoChannel,
		ReasonNoCapacity, ReasonChannelFull, ReasonSelector, ReasonDeclined, ReasonOffered,
		ReasonKnownWorker, ReasonTarget, ReasonJobOffersFull, ReasonMinOffers, ReasonWouldBeOffered,
		ReasonAssigned, ReasonEligible,
	}
}

// WorkerExplained is one worker's reason.
type WorkerExplained struct {
	WorkerID string `json:"workerId"`
	// Reason is one of ExplainReasons; Message says it in words.
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// Activity is the worker's activity (reason unavailable).
	Activity string `json:"activity,omitempty"`
	// Selector is the failing selector and the worker's value (reason selector).
	Selector *SelectorMiss `json:"selector,omitempty"`
	// Capacity is what did not fit (maxConcurrentOffers, noCapacity, channelFull).
	Capacity *CapacityMiss `json:"capacity,omitempty"`
	// DeclinedUntil is when a decline lets the job be offered to it again (reason
	// declined; absent: not in this registration).
	DeclinedUntil *time.Time `json:"declinedUntil,omitempty"`
	// OutrankedBy is a job the worker's capacity is offered to instead: it came first
	// in dispatch order (noCapacity, channelFull, maxConcurrentOffers).
	OutrankedBy string `json:"outrankedBy,omitempty"`
}

// SelectorMiss is a worker selector a worker fails.
type SelectorMiss struct {
	Key      string `json:"key"`
	Operator string `json:"labelOperator"`
	Wanted   any    `json:"value"`
	// Actual is the worker's value (absent: it has no such label).
	Actual any `json:"actual,omitempty"`
}

// CapacityMiss is the capacity check a worker fails: Used of Limit (offers out of
// the worker's cap, capacity used of total, or jobs on the channel of its max), and
// the job's Cost on its channel.
type CapacityMiss struct {
	ChannelID string `json:"channelId,omitempty"`
	Cost      int    `json:"cost,omitempty"`
	Used      int    `json:"used"`
	Limit     int    `json:"limit"`
}
