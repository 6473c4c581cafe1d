package matcher

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/nats-io/nuid"
	"github.com/patchbay/patchbay/events"
)

// Defaults.
const (
	// OfferExpiryDefault is how long an offer stays open when the queue sets nothing.
	OfferExpiryDefault = 30 * time.Second
	// RetentionDefault is how long finished jobs and gone workers are kept.
	RetentionDefault = 24 * time.Hour
)

// Config configures an Engine.
type Config struct {
	// OfferExpiry is how long an offer stays open (OfferExpiryDefault when zero).
	OfferExpiry time.Duration
	// QueueOfferExpiry overrides OfferExpiry per queue id.
	QueueOfferExpiry map[string]time.Duration
	// NewID makes ids for offers, assignments and events (nuid when nil).
	NewID func() string
	// Retention is how long a closed or cancelled job, and a deregistered worker that
	// holds nothing, is kept before the engine forgets it (RetentionDefault when zero).
	// A job forgotten is unknown afterwards: a command naming it is refused, and a
	// job.created sent again with its id creates it again.
	Retention time.Duration
}

// Validate says what is wrong with c.
func (c Config) Validate() error {
	if c.OfferExpiry < 0 {
		return fmt.Errorf("offer expiry must not be negative (got %s)", c.OfferExpiry)
	}
	if c.Retention < 0 {
		return fmt.Errorf("retention must not be negative (got %s)", c.Retention)
	}
	for q, d := range c.QueueOfferExpiry {
		if !events.ValidID(q) {
			return fmt.Errorf("queue offer expiry: %q is not a valid queue id", q)
		}
		if d <= 0 {
			return fmt.Errorf("queue offer expiry for %q must be positive (got %s)", q, d)
		}
	}
	return nil
}

// Command is one inbound command: a decoded CloudEvent.
type Command struct {
	ID     string      // CloudEvent id
	Type   events.Type // an inbound type
	Source string      // CloudEvent source
	Data   any         // the payload, as returned by events.Payload(Type)
	// Worker is the worker the command's subject names (events.ParseCommandSubject),
	// empty when it names none: a command sent on a worker's subject may act for that
	// worker only.
	Worker string
}

// Op is one KV write: a put, or a delete when Value is nil.
type Op struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Value  []byte `json:"value,omitempty"`
}

// Outbound is one event to publish: a structured CloudEvent body on Subject.
type Outbound struct {
	Subject string `json:"subject"`
	ID      string `json:"id"`
	Body    []byte `json:"body"`
	// Queue (an offer event's queue) and Disposition (a job.closed event's
	// disposition code) label the router's metrics without reading Body. They are
	// not stored in the write-ahead record: events replayed after a crash are not
	// counted.
	Queue       string `json:"-"`
	Disposition string `json:"-"`
}

// Result is what one command (or one timer tick) did.
type Result struct {
	Ops    []Op                  `json:"ops,omitempty"`
	Events []Outbound            `json:"events,omitempty"`
	Reply  *events.CommandResult `json:"reply,omitempty"`
	// Err is the refusal, when the command was refused (then Ops is empty unless
	// the refusal itself is recorded, as for a rejected job).
	Err *events.Error `json:"err,omitempty"`
}

// Engine holds the routing state. It is not safe for concurrent use: the router
// calls it from one goroutine.
type Engine struct {
	cfg     Config
	newID   func() string
	jobs    map[string]*Job
	workers map[string]*Worker
	offers  map[string]*Offer
	// offersByJob and offersByWorker index every offer in offers: job or worker id ->
	// offer id -> offer.
	offersByJob    map[string]map[string]*Offer
	offersByWorker map[string]map[string]*Offer
	queues         map[string]*Queue
	// policies by "<kind>.<id>"; cursors is each round-robin queue's last offered worker.
	policies map[string]*policy
	cursors  map[string]string
	index    workerIndex
	rates    rates
	timers   timerHeap
	presence presence
	seq      uint64 // last enqueue sequence
	epoch    uint64 // largest registration epoch handed out or loaded
	// seqStored is the sequence last written under SeqKey.
	seqStored uint64

	// per-Apply scratch
	now        time.Time
	res        *Result
	dirtyJobs  map[string]bool
	dirtyWrk   map[string]bool
	dirtyOffer map[string]bool
	// dirtyPolicy and dirtyCursor name changed policies and round-robin cursors (a
	// policy no longer in the map is deleted).
	dirtyPolicy map[string]bool
	dirtyCursor map[string]bool
	// emptied are the queues a job left; finish drops those left empty.
	emptied map[string]bool
	// forgot is set when a job was forgotten: finish records the sequence.
	forgot bool
	// touched queues are matched whole (after a policy change, at resume); touched
	// jobs against their queue's workers; touched workers against their queues' jobs.
	touched     map[string]bool
	touchedJobs map[string]bool
	// checkJobs are the jobs whose queue\'s exception policy is to be applied.
	checkJobs      map[string]bool
	touchedWorkers map[string]bool
}

// New returns an empty engine.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.OfferExpiry == 0 {
		cfg.OfferExpiry = OfferExpiryDefault
	}
	if cfg.Retention == 0 {
		cfg.Retention = RetentionDefault
	}
	e := &Engine{cfg: cfg, newID: cfg.NewID}
	if e.newID == nil {
		e.newID = nuid.Next
	}
	e.reset()
	return e, nil
}

func (e *Engine) reset() {
	e.presence.reset()
	e.jobs = map[string]*Job{}
	e.workers = map[string]*Worker{}
	e.offers = map[string]*Offer{}
	e.offersByJob = map[string]map[string]*Offer{}
	e.offersByWorker = map[string]map[string]*Offer{}
	e.queues = map[string]*Queue{}
	e.policies = map[string]*policy{}
	e.cursors = map[string]string{}
	e.index = newWorkerIndex()
	e.now = time.Time{} // Load schedules every stored timer, past ones too
	e.rates = rates{}
	e.timers = nil
	e.seq = 0
	e.epoch = 0
	e.seqStored = 0
}

// Job returns a copy of a job's public snapshot.
func (e *Engine) Job(id string) (events.Job, bool) {
	j, ok := e.jobs[id]
	if !ok {
		return events.Job{}, false
	}
	return j.snapshot(), true
}

// Worker returns a worker's public snapshot.
func (e *Engine) Worker(id string) (events.Worker, bool) {
	w, ok := e.workers[id]
	if !ok {
		return events.Worker{}, false
	}
	return w.snapshot(), true
}

// Offer returns an offer's public snapshot.
func (e *Engine) Offer(id string) (events.Offer, bool) {
	o, ok := e.offers[id]
	if !ok {
		return events.Offer{}, false
	}
	return o.Offer, true
}

// QueueJobIDs returns the ids of the queued jobs of a queue in dispatch order.
func (e *Engine) QueueJobIDs(queueID string) []string {
	q := e.queues[queueID]
	if q == nil {
		return nil
	}
	ids := make([]string, len(q.jobs))
	for i, j := range q.jobs {
		ids[i] = j.JobID
	}
	return ids
}

func (e *Engine) begin(now time.Time) {
	e.now = now.UTC()
	e.res = &Result{}
	e.dirtyJobs = scratch(e.dirtyJobs)
	e.dirtyWrk = scratch(e.dirtyWrk)
	e.dirtyOffer = scratch(e.dirtyOffer)
	e.dirtyPolicy = scratch(e.dirtyPolicy)
	e.dirtyCursor = scratch(e.dirtyCursor)
	e.emptied = scratch(e.emptied)
	e.forgot = false
	e.touched = scratch(e.touched)
	e.touchedJobs = scratch(e.touchedJobs)
	e.checkJobs = scratch(e.checkJobs)
	e.touchedWorkers = scratch(e.touchedWorkers)
	if e.presence.unarmed {
		e.armAll()
	}
}

// scratchMax is the most entries a per-command scratch map may have held to be
// cleared for the next command rather than made again: clearing a map costs its
// capacity, so one a big command filled is dropped.
const scratchMax = 64

// scratch returns m empty, for the next command.
func scratch(m map[string]bool) map[string]bool {
	if m == nil || len(m) > scratchMax {
		return map[string]bool{}
	}
	clear(m)
	return m
}

// finish matches the touched queues and turns the dirty entities into KV writes.
func (e *Engine) finish() *Result {
	for len(e.checkJobs) > 0 { // exceptions first: a job they move or cancel is not offered
		ids := sortedKeys(e.checkJobs)
		e.checkJobs = scratch(e.checkJobs)
		for _, id := range ids {
			if j := e.jobs[id]; j != nil {
				e.checkExceptions(j)
			}
		}
	}
	e.matchTouched()
	e.pruneQueues()
	res := e.res
	// An entity no longer in its map was forgotten: its key is deleted.
	for _, id := range sortedKeys(e.dirtyJobs) {
		op := Op{Bucket: events.BucketJobs, Key: id}
		if j := e.jobs[id]; j != nil {
			e.noteJobEnd(j)
			op.Value = mustJSON(j)
		}
		res.Ops = append(res.Ops, op)
	}
	for _, id := range sortedKeys(e.dirtyWrk) {
		op := Op{Bucket: events.BucketWorkers, Key: id}
		if w := e.workers[id]; w != nil {
			e.noteWorkerState(w)
			op.Value = mustJSON(w)
		}
		res.Ops = append(res.Ops, op)
	}
	for _, id := range sortedKeys(e.dirtyOffer) {
		op := Op{Bucket: events.BucketOffers, Key: id}
		if o := e.offers[id]; o != nil {
			op.Value = mustJSON(o)
		}
		res.Ops = append(res.Ops, op)
	}
	for _, k := range sortedKeys(e.dirtyPolicy) {
		op := Op{Bucket: events.BucketPolicies, Key: k}
		if p := e.policies[k]; p != nil {
			op.Value = mustJSON(p.Policy)
		}
		res.Ops = append(res.Ops, op)
	}
	for _, q := range sortedKeys(e.dirtyCursor) {
		res.Ops = append(res.Ops, Op{Bucket: events.BucketQueues, Key: CursorKey(q), Value: []byte(e.cursors[q])})
	}
	if e.forgot && e.seq != e.seqStored {
		res.Ops = append(res.Ops, Op{Bucket: events.BucketQueues, Key: SeqKey, Value: []byte(strconv.FormatUint(e.seq, 10))})
		e.seqStored = e.seq
	}
	e.res = nil
	return res
}

// Apply applies one command at time now. A refused command changes nothing and
// returns a Result whose Err says why.
func (e *Engine) Apply(cmd Command, now time.Time) *Result {
	e.begin(now)
	if err := e.checkWorker(cmd); err != nil {
		return e.refuse(cmd, err)
	}
	var err error
	switch d := cmd.Data.(type) {
	case *events.JobCreated:
		err = e.createJob(cmd, d)
	case *events.WorkerRegister:
		if cmd.Type == events.TypeWorkerUpdate {
			err = e.updateWorker(cmd, d)
		} else {
			err = e.registerWorker(cmd, d)
		}
	case *events.WorkerDeregister:
		err = e.deregisterWorker(cmd, d)
	case *events.OfferAccept:
		err = e.acceptOffer(cmd, d)
	case *events.OfferDecline:
		err = e.declineOffer(cmd, d)
	case *events.JobComplete:
		err = e.completeJob(cmd, d)
	case *events.JobClose:
		err = e.closeJob(cmd, d)
	case *events.JobCancel:
		err = e.cancelJob(cmd, d)
	case *events.JobUpdate:
		err = e.updateJob(cmd, d)
	case *events.JobUnassign:
		err = e.unassignJob(cmd, d)
	case *events.PolicyPut:
		err = e.putPolicy(cmd, d)
	case *events.PolicyDelete:
		err = e.deletePolicy(cmd, d)
	case *events.PolicyApply:
		err = e.applyPolicies(cmd, d)
	default:
		err = events.Errorf(events.CodeUnknownType, "type", "%q is not a command patchbay accepts", cmd.Type)
	}
	if err != nil {
		return e.refuse(cmd, err)
	}
	if e.res.Reply == nil {
		e.res.Reply = &events.CommandResult{}
	}
	e.res.Reply.CommandID, e.res.Reply.CommandType = cmd.ID, cmd.Type
	return e.finish()
}

// checkWorker refuses a command sent on a worker's subject that acts for another
// worker: one whose data names another worker, or that completes or closes a job
// another worker holds. A job that does not exist, or holds no assignment, is left to
// the command's own checks.
func (e *Engine) checkWorker(cmd Command) error {
	if cmd.Worker == "" {
		return nil
	}
	field, named := "workerId", ""
	switch d := cmd.Data.(type) {
	case *events.WorkerRegister:
		named = d.WorkerID
	case *events.WorkerDeregister:
		named = d.WorkerID
	case *events.OfferAccept:
		named = d.WorkerID
	case *events.OfferDecline:
		named = d.WorkerID
	case *events.JobComplete:
		field, named = "jobId", e.holder(d.JobID, cmd.Worker)
	case *events.JobClose:
		field, named = "jobId", e.holder(d.JobID, cmd.Worker)
	default:
		return events.Errorf(events.CodeForbidden, "subject", "%s is not a worker's command: send it without a worker id in the subject", cmd.Type)
	}
	switch {
	case named == cmd.Worker:
	case field == "jobId":
		return events.Errorf(events.CodeForbidden, field, "sent on worker %s's subject, the command is for a job another worker holds", cmd.Worker)
	default:
		return events.Errorf(events.CodeForbidden, field, "sent on worker %s's subject, the command acts for worker %s", cmd.Worker, named)
	}
	return nil
}

// holder is the worker that holds a job's assignment; or, when there is no such job
// or assignment, def (the command's own checks refuse it).
func (e *Engine) holder(jobID, def string) string {
	if j := e.jobs[jobID]; j != nil && j.Assignment != nil {
		return j.Assignment.WorkerID
	}
	return def
}

// refuse drops whatever the command did to the scratch state. Commands validate and
// check every precondition before they mutate, so nothing needs undoing, except the
// events a refused job creation still publishes (job.rejected).
func (e *Engine) refuse(cmd Command, err error) *Result {
	werr := events.AsError(err)
	res := &Result{Err: werr, Events: e.res.Events}
	if len(e.dirtyJobs)+len(e.dirtyWrk)+len(e.dirtyOffer)+len(e.dirtyPolicy)+len(e.dirtyCursor) > 0 {
		panic(fmt.Sprintf("matcher: %s refused after changing state: %v", cmd.Type, err))
	}
	e.res = nil
	return res
}

// emit records one outbound event.
func (e *Engine) emit(subject string, t events.Type, ceSubject string, data any) {
	id := e.newID()
	body, err := events.Encode(t, id, events.RouterSource, ceSubject, e.now, data)
	if err != nil {
		panic(fmt.Sprintf("matcher: encode %s: %v", t, err))
	}
	e.res.Events = append(e.res.Events, Outbound{Subject: subject, ID: id, Body: body})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("matcher: encode state: %v", err))
	}
	return b
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// offerExpiry is how long a queue's offers stay open: its distribution policy's
// offerExpiresAfterSeconds, else the router's per-queue setting, else its default.
func (e *Engine) offerExpiry(queueID string) time.Duration {
	if s := e.distributionOf(queueID).offerExpiry; s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if d, ok := e.cfg.QueueOfferExpiry[queueID]; ok {
		return d
	}
	return e.cfg.OfferExpiry
}
