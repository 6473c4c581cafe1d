package events

import (
	"regexp"
	"strings"
	"time"
)

// Streams and buckets. Every NATS name patchbay uses is declared here.
const (
	// StreamIn holds inbound commands (subjects SubjectInAll).
	StreamIn = "PATCHBAY_IN"
	// StreamEvents holds every outbound event (subjects SubjectEventsAll).
	StreamEvents = "PATCHBAY_EVENTS"
	// StreamDead holds the commands the router set aside because their effects could
	// not be stored (subjects SubjectDeadAll), for an operator to inspect.
	StreamDead = "PATCHBAY_DEAD"
	// ConsumerMatcher is the durable consumer of StreamIn that feeds the matcher.
	ConsumerMatcher = "matcher"

	BucketJobs    = "PATCHBAY_JOBS"
	BucketWorkers = "PATCHBAY_WORKERS"
	BucketOffers  = "PATCHBAY_OFFERS"
	// BucketQueues holds the queues' own state: the round-robin cursors
	// ("_cursor.<queueId>") and the last enqueue sequence. A queued job's place is in
	// its record in BucketJobs (queue, priority, expedite, enqueue sequence).
	BucketQueues = "PATCHBAY_QUEUES"
	// BucketPolicies holds the routing policies, one key per policy: "<kind>.<id>".
	BucketPolicies = "PATCHBAY_POLICIES"
	// BucketRouter holds the router's own bookkeeping (the write-ahead record).
	BucketRouter = "PATCHBAY_ROUTER"

	// QueueGroup is the NATS queue group of the request front end.
	QueueGroup = "patchbay"
)

// Subject prefixes and wildcards.
const (
	SubjectInPrefix     = "patchbay.in."
	SubjectReqPrefix    = "patchbay.req."
	SubjectEventsPrefix = "patchbay.events."

	SubjectInAll     = "patchbay.in.>"
	SubjectReqAll    = "patchbay.req.>"
	SubjectEventsAll = "patchbay.events.>"
	// SubjectDeadPrefix starts the subjects of set-aside commands: "patchbay.dead.<name>"
	// for a command that came in on "patchbay.in.<name>".
	SubjectDeadPrefix = "patchbay.dead."
	SubjectDeadAll    = "patchbay.dead.>"

	// SubjectQueryPrefix starts the query subjects: "patchbay.query.job",
	// "patchbay.query.queue", "patchbay.query.worker", "patchbay.query.jobs", ...
	// (QuerySubject).
	SubjectQueryPrefix = "patchbay.query."
	SubjectQueryAll    = "patchbay.query.>"

	// SubjectPresencePrefix starts the heartbeat subjects: a worker whose presence is
	// tracked publishes on "patchbay.presence.<workerId>" (core NATS, not stored).
	SubjectPresencePrefix = "patchbay.presence."
	SubjectPresenceAll    = "patchbay.presence.*"

	// SubjectCommandFailed carries TypeCommandFailed events for refused inbound messages.
	SubjectCommandFailed = "patchbay.events.command.failed"

	// HeaderReplyTo on a StreamIn message names where the router sends its answer.
	// The request front end sets it; a client publishing straight to the stream may too.
	HeaderReplyTo = "Patchbay-Reply-To"
	// HeaderMsgID is JetStream's de-duplication header.
	HeaderMsgID = "Nats-Msg-Id"
)

// InSubject is where an inbound command of type t is published for durable,
// fire-and-forget delivery: "patchbay.in.job.created".
func InSubject(t Type) string { return SubjectInPrefix + t.Name() }

// ReqSubject is where a command of type t is sent as a NATS request to get the router's
// definitive answer: "patchbay.req.offer.accept".
func ReqSubject(t Type) string { return SubjectReqPrefix + t.Name() }

// QuerySubject is where a query of type t is sent: "patchbay.query.job".
func QuerySubject(t Type) string { return SubjectQueryPrefix + verb(t) }

// TypeOfSubject maps an inbound or request subject back to its command type.
func TypeOfSubject(subject string) (Type, bool) {
	t, _, ok := ParseCommandSubject(subject)
	return t, ok
}

// ParseCommandSubject maps an inbound or request subject back to its command type,
// and to the worker it names: a worker's commands (WorkerCommands) may be sent on
// "<prefix><name>.<workerId>", and the router then refuses one that acts for another
// worker. The broker's permissions can so tell workers apart (design.md, Security).
func ParseCommandSubject(subject string) (t Type, workerID string, ok bool) {
	var name string
	switch {
	case strings.HasPrefix(subject, SubjectInPrefix):
		name = subject[len(SubjectInPrefix):]
	case strings.HasPrefix(subject, SubjectReqPrefix):
		name = subject[len(SubjectReqPrefix):]
	default:
		return "", "", false
	}
	if t = Type(TypePrefix + name); t.IsInbound() {
		return t, "", true
	}
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return "", "", false
	}
	t, workerID = Type(TypePrefix+name[:i]), name[i+1:]
	if !t.IsWorkerCommand() || !ValidID(workerID) {
		return "", "", false
	}
	return t, workerID, true
}

// WorkerCommands are the commands a worker sends for itself, which may name it in
// their subject.
func WorkerCommands() []Type {
	return []Type{TypeWorkerRegister, TypeWorkerUpdate, TypeWorkerDeregister,
		TypeOfferAccept, TypeOfferDecline, TypeJobComplete, TypeJobClose}
}

// IsWorkerCommand reports whether t is one of WorkerCommands.
func (t Type) IsWorkerCommand() bool {
	for _, w := range WorkerCommands() {
		if t == w {
			return true
		}
	}
	return false
}

// WorkerInSubject is where worker workerID publishes its command of type t on the
// inbound stream: "patchbay.in.offer.accept.<workerId>".
func WorkerInSubject(t Type, workerID string) string { return InSubject(t) + "." + workerID }

// WorkerReqSubject is where worker workerID sends its command of type t as a request:
// "patchbay.req.offer.accept.<workerId>".
func WorkerReqSubject(t Type, workerID string) string { return ReqSubject(t) + "." + workerID }

// JobSubject is where job events are published:
// "patchbay.events.job.<queueId>.<jobId>.<verb>". Rejected jobs without a usable
// queue use the queue token "_".
func JobSubject(queueID, jobID string, t Type) string {
	if queueID == "" || !ValidID(queueID) {
		queueID = "_"
	}
	return SubjectEventsPrefix + "job." + queueID + "." + jobToken(jobID) + "." + verb(t)
}

// OfferSubject is where offer events are published:
// "patchbay.events.offer.<workerId>.<jobId>.<verb>". A worker subscribes to
// OfferWorkerAll(workerID) to receive its offers; JobAll(jobID) selects them with the
// job's own events.
func OfferSubject(workerID, jobID string, t Type) string {
	return SubjectEventsPrefix + "offer." + workerID + "." + jobToken(jobID) + "." + verb(t)
}

// OfferTypeAll matches the offer events of one type for one worker, of any job
// (workerID "*": of every worker).
func OfferTypeAll(workerID string, t Type) string {
	return SubjectEventsPrefix + "offer." + workerID + ".*." + verb(t)
}

// JobAll matches every event about one job, its offers included: its history.
func JobAll(jobID string) string { return SubjectEventsPrefix + "*.*." + jobToken(jobID) + ".*" }

// OfferWorkerAll matches every offer event for one worker.
func OfferWorkerAll(workerID string) string { return SubjectEventsPrefix + "offer." + workerID + ".>" }

// WorkerSubject is where worker events are published:
// "patchbay.events.worker.<workerId>.<verb>".
func WorkerSubject(workerID string, t Type) string {
	return SubjectEventsPrefix + "worker." + workerID + "." + verb(t)
}

// PresenceSubject is where a tracked worker publishes its heartbeats.
func PresenceSubject(workerID string) string { return SubjectPresencePrefix + workerID }

// PresenceTimeout is how long a tracked worker may go without a heartbeat before it
// is marked lost: three heartbeats and a second (10 s for a 3 s heartbeat).
func PresenceTimeout(heartbeatSeconds int) time.Duration {
	return time.Duration(3*heartbeatSeconds+1) * time.Second
}

// WorkerAll matches every event about one worker.
func WorkerAll(workerID string) string { return SubjectEventsPrefix + "worker." + workerID + ".>" }

// JobQueueType matches the job events of one type in one queue, e.g. every
// io.patchbay.job.closed of queue "support".
func JobQueueType(queueID string, t Type) string {
	return SubjectEventsPrefix + "job." + queueID + ".*." + verb(t)
}

// PolicySubject is where policy events are published:
// "patchbay.events.policy.<kind>.<id>.<verb>".
func PolicySubject(kind PolicyKind, id string, t Type) string {
	return SubjectEventsPrefix + "policy." + string(kind) + "." + id + "." + verb(t)
}

// JobQueueAll matches every job event of one queue.
func JobQueueAll(queueID string) string { return SubjectEventsPrefix + "job." + queueID + ".>" }

// JobQueueTypeAll matches one type of job event for every job of a queue.
func JobQueueTypeAll(queueID string, t Type) string {
	return SubjectEventsPrefix + "job." + queueID + ".*." + verb(t)
}

// verb is the last segment of the type: "io.patchbay.offer.issued" -> "issued".
func verb(t Type) string {
	s := string(t)
	return s[strings.LastIndexByte(s, '.')+1:]
}

func jobToken(id string) string {
	if ValidID(id) {
		return id
	}
	return "_"
}

// IDPattern is the pattern every job, worker, queue and channel id matches.
const IDPattern = `^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`

var idPattern = regexp.MustCompile(IDPattern)

// ValidID reports whether s can be used as a job, worker, queue or channel id: 1 to 128
// characters of letters, digits, '-' and '_', starting with a letter or digit (ids
// become NATS subject tokens and KV keys).
func ValidID(s string) bool { return idPattern.MatchString(s) }

// CheckID returns a FieldError when s is not a valid id.
func CheckID(field, s string) error {
	if s == "" {
		return Errorf(CodeInvalidData, field, "%s is required", field)
	}
	if !ValidID(s) {
		return Errorf(CodeInvalidData, field, "%s %q must be 1-128 letters, digits, '-' or '_', starting with a letter or digit", field, s)
	}
	return nil
}
