package events

import "strings"

// Type is a CloudEvent type in patchbay's catalog.
type Type string

// TypePrefix starts every patchbay CloudEvent type.
const TypePrefix = "io.patchbay."

// Inbound: published by producers and workers (commands to the router).
const (
	TypeJobCreated  Type = "io.patchbay.job.created"
	TypeJobComplete Type = "io.patchbay.job.complete"
	TypeJobClose    Type = "io.patchbay.job.close"
	TypeJobCancel   Type = "io.patchbay.job.cancel"
	// TypeJobUpdate changes a job's matching mode: queueAndMatch resumes a suspended
	// or waiting-for-activation job, suspend suspends a queued one.
	TypeJobUpdate Type = "io.patchbay.job.update"
	// TypeJobUnassign sends an assigned job back to its queue (or to suspended).
	TypeJobUnassign      Type = "io.patchbay.job.unassign"
	TypeWorkerRegister   Type = "io.patchbay.worker.register"
	TypeWorkerUpdate     Type = "io.patchbay.worker.update"
	TypeWorkerDeregister Type = "io.patchbay.worker.deregister"
	TypeOfferAccept      Type = "io.patchbay.offer.accept"
	TypeOfferDecline     Type = "io.patchbay.offer.decline"
	TypePolicyPut        Type = "io.patchbay.policy.put"
	TypePolicyDelete     Type = "io.patchbay.policy.delete"
	// TypePolicyApply changes a set of policies at once, all or nothing: puts,
	// deletes, and with prune the deletion of every policy the puts do not name (a
	// policy file applied as a whole).
	TypePolicyApply Type = "io.patchbay.policy.apply"
)

// Outbound: published by the router, one per state change.
const (
	TypeJobReceived  Type = "io.patchbay.job.received"
	TypeJobQueued    Type = "io.patchbay.job.queued"
	TypeJobRejected  Type = "io.patchbay.job.rejected"
	TypeJobAssigned  Type = "io.patchbay.job.assigned"
	TypeJobCompleted Type = "io.patchbay.job.completed"
	TypeJobClosed    Type = "io.patchbay.job.closed"
	TypeJobCancelled Type = "io.patchbay.job.cancelled"
	// TypeJobExceptionTriggered: a rule of the queue's exception policy fired for the
	// job (its actions follow as their own events).
	TypeJobExceptionTriggered Type = "io.patchbay.job.exceptionTriggered"
	// TypeJobClassified: a classification policy chose the job's queue, priority and
	// extra worker selectors. TypeJobClassificationFailed: it could not (the job is
	// not created); data.reason says why.
	TypeJobClassified           Type = "io.patchbay.job.classified"
	TypeJobClassificationFailed Type = "io.patchbay.job.classificationFailed"
	// TypeJobScheduled: the job was created with matching mode scheduleAndSuspend and
	// waits for its scheduleAt time. TypeJobWaitingForActivation: that time came; the
	// job waits for an update to resume it. TypeJobSuspended: the job left its queue
	// (created with suspend, suspended by an update, or unassigned with
	// suspendMatching). TypeJobUnassigned: the job's assignment was undone.
	TypeJobScheduled            Type = "io.patchbay.job.scheduled"
	TypeJobWaitingForActivation Type = "io.patchbay.job.waitingForActivation"
	TypeJobSuspended            Type = "io.patchbay.job.suspended"
	TypeJobUnassigned           Type = "io.patchbay.job.unassigned"

	TypeOfferIssued   Type = "io.patchbay.offer.issued"
	TypeOfferAccepted Type = "io.patchbay.offer.accepted"
	TypeOfferDeclined Type = "io.patchbay.offer.declined"
	TypeOfferExpired  Type = "io.patchbay.offer.expired"
	TypeOfferRevoked  Type = "io.patchbay.offer.revoked"

	TypeWorkerRegistered   Type = "io.patchbay.worker.registered"
	TypeWorkerUpdated      Type = "io.patchbay.worker.updated"
	TypeWorkerDeregistered Type = "io.patchbay.worker.deregistered"
	// TypeWorkerDisconnected: a tracked worker missed its heartbeats (presence lost);
	// its offers were revoked. TypeWorkerReconnected: its heartbeat came back.
	TypeWorkerDisconnected Type = "io.patchbay.worker.disconnected"
	TypeWorkerReconnected  Type = "io.patchbay.worker.reconnected"

	TypePolicyUpdated Type = "io.patchbay.policy.updated"
	TypePolicyDeleted Type = "io.patchbay.policy.deleted"

	// TypeCommandSucceeded is the reply to a request that was applied.
	TypeCommandSucceeded Type = "io.patchbay.command.succeeded"
	// TypeCommandFailed is the reply to a refused request, and the event published
	// for any inbound message that was refused (malformed, invalid, not allowed).
	TypeCommandFailed Type = "io.patchbay.command.failed"
)

// Queries: read-only requests answered by the active router (not stored on a stream).
const (
	TypeQueryJob   Type = "io.patchbay.query.job"
	TypeQueryQueue Type = "io.patchbay.query.queue"
	// TypeQueryWorker asks for a worker's outstanding offers and the jobs it holds, so
	// a worker that lost its connection or restarted can find its work again.
	TypeQueryWorker Type = "io.patchbay.query.worker"
	// TypeQueryHistory asks for a job's stored events, its offers included, oldest
	// first: for clients that may not read the events stream themselves.
	TypeQueryHistory Type = "io.patchbay.query.history"
	// TypeQueryJobs, TypeQueryWorkers, TypeQueryQueues and TypeQueryPolicies list
	// what the router holds, a page at a time (a limit, and a cursor: "after" takes
	// the previous answer's "next"). TypeQueryPolicy reads one policy.
	TypeQueryJobs     Type = "io.patchbay.query.jobs"
	TypeQueryWorkers  Type = "io.patchbay.query.workers"
	TypeQueryQueues   Type = "io.patchbay.query.queues"
	TypeQueryPolicies Type = "io.patchbay.query.policies"
	TypeQueryPolicy   Type = "io.patchbay.query.policy"
	// TypeQueryExplain asks why a job is, or is not, offered to each worker of its
	// queue, by the matcher's own eligibility rule.
	TypeQueryExplain Type = "io.patchbay.query.explain"
	// TypeQueryResult is the answer to a query (a refused query is answered with
	// TypeCommandFailed).
	TypeQueryResult Type = "io.patchbay.query.result"
)

// Queries lists the query types.
func Queries() []Type {
	return []Type{
		TypeQueryJob, TypeQueryQueue, TypeQueryWorker,
		TypeQueryJobs, TypeQueryWorkers, TypeQueryQueues, TypeQueryPolicies, TypeQueryPolicy,
		TypeQueryExplain,
		TypeQueryHistory,
	}
}

// Inbound lists the inbound (command) types in catalog order.
func Inbound() []Type {
	return []Type{
		TypeJobCreated, TypeJobComplete, TypeJobClose, TypeJobCancel,
		TypeWorkerRegister, TypeWorkerUpdate, TypeWorkerDeregister,
		TypeOfferAccept, TypeOfferDecline,
		TypePolicyPut, TypePolicyDelete,
		TypeJobUpdate, TypeJobUnassign,
		TypePolicyApply,
	}
}

// Outbound lists the types the router publishes, in catalog order.
func Outbound() []Type {
	return []Type{
		TypeJobReceived, TypeJobQueued, TypeJobRejected, TypeJobAssigned,
		TypeJobCompleted, TypeJobClosed, TypeJobCancelled, TypeJobExceptionTriggered,
		TypeJobClassified, TypeJobClassificationFailed,
		TypeJobScheduled, TypeJobWaitingForActivation, TypeJobSuspended, TypeJobUnassigned,
		TypeOfferIssued, TypeOfferAccepted, TypeOfferDeclined, TypeOfferExpired, TypeOfferRevoked,
		TypeWorkerRegistered, TypeWorkerUpdated, TypeWorkerDeregistered, TypeWorkerDisconnected, TypeWorkerReconnected,
		TypePolicyUpdated, TypePolicyDeleted,
		TypeCommandSucceeded, TypeCommandFailed, TypeQueryResult,
	}
}

// IsInbound reports whether t is a command the router accepts.
func (t Type) IsInbound() bool {
	for _, in := range Inbound() {
		if t == in {
			return true
		}
	}
	return false
}

// Name is the type without the io.patchbay. prefix, e.g. "job.created".
func (t Type) Name() string { return strings.TrimPrefix(string(t), TypePrefix) }

// Payload returns a pointer to a new zero payload for an inbound type (nil otherwise),
// ready for DecodeData.
func Payload(t Type) any {
	switch t {
	case TypeJobCreated:
		return &JobCreated{}
	case TypeJobComplete:
		return &JobComplete{}
	case TypeJobClose:
		return &JobClose{}
	case TypeJobCancel:
		return &JobCancel{}
	case TypeWorkerRegister, TypeWorkerUpdate:
		return &WorkerRegister{}
	case TypeWorkerDeregister:
		return &WorkerDeregister{}
	case TypeOfferAccept:
		return &OfferAccept{}
	case TypeOfferDecline:
		return &OfferDecline{}
	case TypePolicyPut:
		return &PolicyPut{}
	case TypePolicyDelete:
		return &PolicyDelete{}
	case TypePolicyApply:
		return &PolicyApply{}
	case TypeJobUpdate:
		return &JobUpdate{}
	case TypeJobUnassign:
		return &JobUnassign{}
	}
	return nil
}
