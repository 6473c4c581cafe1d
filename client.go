package patchbay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/transient"
)

// Payload types of the wire contract.
type (
	JobSpec        = events.JobCreated
	WorkerSpec     = events.WorkerRegister
	WorkerSelector = events.WorkerSelector
	ChannelConfig  = events.ChannelConfig
	Labels         = events.Labels
	Job            = events.Job
	Offer          = events.Offer
	Worker         = events.Worker
	Result         = events.CommandResult
	Event          = events.Event
	MatchingMode   = events.MatchingMode
)

// Retry bounds.
const (
	// RetryDeadlineDefault bounds a call, all its attempts together, when its context
	// has no deadline (WithRetryDeadline changes it).
	RetryDeadlineDefault = 30 * time.Second
	// AttemptTimeoutDefault bounds one attempt of a request; a request that gets no
	// answer in that time is sent again with the same id.
	AttemptTimeoutDefault = 2 * time.Second
	// RetryBackoffMin is the pause before the first resend; each pause doubles, up to
	// RetryBackoffMax, and is drawn at random from its upper half (jitter), so that
	// clients a restarting router left waiting do not all come back at once.
	RetryBackoffMin = 50 * time.Millisecond
	// RetryBackoffMax is the longest pause between two attempts.
	RetryBackoffMax = time.Second

	// RequestTimeoutDefault was the default bound of a call.
	//
	// Deprecated: a call is bounded by RetryDeadlineDefault.
	RequestTimeoutDefault = 5 * time.Second
)

// Client talks to a patchbay router over a NATS connection.
type Client struct {
	nc       *nats.Conn
	source   string
	deadline time.Duration
	attempt  time.Duration
	worker   string
}

// Option configures a Client.
type Option func(*Client)

// WithSource sets the CloudEvent source of the commands the client sends
// (default "/patchbay/client").
func WithSource(s string) Option { return func(c *Client) { c.source = s } }

// AsWorker makes the client act for one worker: it completes and closes jobs on that
// worker's subjects, as it already accepts, declines, registers and deregisters on the
// subjects of the worker each command names. With the broker's permissions for that
// worker (patchbay creds worker), that is all it may do.
func AsWorker(workerID string) Option { return func(c *Client) { c.worker = workerID } }

// WithRetryDeadline sets how long a call, all its attempts together, may take when
// its context has no deadline (RetryDeadlineDefault). 0 removes the bound: a call
// then retries until its context ends or the router answers, so give such calls a
// context that ends.
func WithRetryDeadline(d time.Duration) Option { return func(c *Client) { c.deadline = d } }

// WithTimeout is WithRetryDeadline.
//
// Deprecated: use WithRetryDeadline.
func WithTimeout(d time.Duration) Option { return WithRetryDeadline(d) }

// WithAttemptTimeout sets how long one attempt of a request waits for an answer
// before it is sent again with the same id.
func WithAttemptTimeout(d time.Duration) Option { return func(c *Client) { c.attempt = d } }

// New returns a client using nc.
func New(nc *nats.Conn, opts ...Option) (*Client, error) {
	if nc == nil {
		return nil, errors.New("patchbay: nil NATS connection")
	}
	c := &Client{nc: nc, source: "/patchbay/client", deadline: RetryDeadlineDefault, attempt: AttemptTimeoutDefault}
	for _, o := range opts {
		o(c)
	}
	if c.deadline < 0 {
		return nil, fmt.Errorf("patchbay: negative retry deadline %s", c.deadline)
	}
	if c.attempt <= 0 {
		return nil, fmt.Errorf("patchbay: attempt timeout must be positive (got %s)", c.attempt)
	}
	if c.worker != "" {
		if err := events.CheckID("workerId", c.worker); err != nil {
			return nil, fmt.Errorf("patchbay: AsWorker: %w", err)
		}
	}
	return c, nil
}

// Conn is the client's NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// Request sends one command (a CloudEvent of type t with data) and waits for the
// router's answer. A refusal comes back as an *Error (errors.Is with ErrOfferExpired
// and the others). The id names the command (an empty id gets a fresh one).
//
// The event is built once and the same bytes are sent again, with the same id, while
// the router cannot answer for a passing reason: no answer within the attempt timeout,
// no router listening (it is restarting or not up yet), or a refusal marked
// Retryable. Resending is safe because the router applies an id at most once and
// answers a duplicate with the first result. Pauses between attempts grow from
// RetryBackoffMin to RetryBackoffMax; the call gives up at the context's deadline, or
// after the client's retry deadline when the context has none, with the last error
// (which then also matches context.DeadlineExceeded). Any other refusal is returned at
// once.
func (c *Client) Request(ctx context.Context, t events.Type, id, subject string, data any) (*Result, error) {
	return c.request(ctx, events.ReqSubject(t), t, id, subject, data)
}

// workerRequest sends a worker's command on that worker's subject
// (patchbay.req.<name>.<workerId>), so that the broker's permissions can tell workers
// apart and the router refuses it if it acts for another worker.
func (c *Client) workerRequest(ctx context.Context, workerID string, t events.Type, id, subject string, data any) (*Result, error) {
	natsSubject := events.ReqSubject(t)
	if events.ValidID(workerID) {
		natsSubject = events.WorkerReqSubject(t, workerID)
	}
	return c.request(ctx, natsSubject, t, id, subject, data)
}

func (c *Client) request(ctx context.Context, natsSubject string, t events.Type, id, subject string, data any) (*Result, error) {
	if id == "" {
		id = nuid.Next()
	}
	m, err := c.message(ctx, natsSubject, t, id, subject, data)
	if err != nil {
		return nil, err
	}
	resp, err := c.roundTrip(ctx, m, t)
	if err != nil {
		return nil, err
	}
	return decodeReply(resp)
}

// roundTrip sends m and returns the router's answer, sending the same message again
// while the failure may pass (see Request).
func (c *Client) roundTrip(ctx context.Context, m *nats.Msg, t events.Type) (*nats.Msg, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	pause := RetryBackoffMin
	var last error // why the last attempt that ended on its own failed
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, c.attempt)
		resp, err := c.nc.RequestMsgWithContext(actx, m)
		cancel()
		switch {
		case err == nil:
			refusal := retryableRefusal(resp)
			if refusal == nil {
				return resp, nil
			}
			last = refusal
		case transient.Is(err) && last != nil && ctx.Err() != nil:
			// The call's own deadline cut this attempt short: the failure to report
			// is the one the attempts before it met.
		case errors.Is(err, nats.ErrNoResponders):
			last = fmt.Errorf("patchbay %s: no router answers (is `patchbay serve` running on this NATS server?): %w", t.Name(), err)
		case transient.Is(err):
			last = fmt.Errorf("patchbay %s: %w", t.Name(), err)
		default:
			return nil, fmt.Errorf("patchbay %s: %w", t.Name(), err)
		}
		if ctx.Err() == nil {
			timer := time.NewTimer(jitter(pause))
			select {
			case <-ctx.Done():
				timer.Stop()
			case <-timer.C:
				pause = min(2*pause, RetryBackoffMax)
				continue
			}
		}
		if attempt > 1 {
			last = fmt.Errorf("gave up after %d attempts: %w", attempt, last)
		}
		return nil, joinCtx(ctx, last)
	}
}

// retryableRefusal returns the refusal a reply carries when it is marked Retryable.
func retryableRefusal(m *nats.Msg) *Error {
	ev, err := events.DecodeOutbound(m.Header, m.Data)
	if err != nil || events.Type(ev.Type()) != events.TypeCommandFailed {
		return nil
	}
	f := &events.CommandFailure{}
	if err := ev.DataAs(f); err != nil || f.Error == nil || !f.Error.Retryable {
		return nil
	}
	return f.Error
}

// joinCtx adds the context's error to err, unless err already matches it.
func joinCtx(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, cerr)
}

// jitter draws a pause from the upper half of d.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	return half + rand.N(half+1)
}

// message encodes a structured CloudEvent of type t for a NATS subject, with the
// trace context ctx carries (ContextWithTrace).
func (c *Client) message(ctx context.Context, natsSubject string, t events.Type, id, subject string, data any) (*nats.Msg, error) {
	ev, err := events.New(t, id, c.source, subject, time.Now(), data)
	if err != nil {
		return nil, err
	}
	body, err := events.Structured(ev)
	if err != nil {
		return nil, err
	}
	if tc, ok := ctx.Value(traceKey{}).(events.TraceContext); ok {
		body = events.WithTrace(body, tc)
	}
	m := nats.NewMsg(natsSubject)
	m.Header.Set("Content-Type", events.ContentTypeCloudEvent)
	m.Data = body
	return m, nil
}

type traceKey struct{}

// ContextWithTrace returns ctx carrying a W3C trace context (traceparent, and
// tracestate or ""): the commands and queries sent with it carry it as the CloudEvents
// distributed tracing extension, so the router's events and answer join that trace.
// An invalid traceparent or tracestate is an error (the router would refuse it).
func ContextWithTrace(ctx context.Context, traceparent, tracestate string) (context.Context, error) {
	tc, err := events.ParseTraceParent(events.AttrTraceParent, traceparent)
	if err != nil {
		return ctx, err
	}
	if tracestate != "" {
		if err := events.CheckTraceState(events.AttrTraceState, tracestate); err != nil {
			return ctx, err
		}
		tc.State = tracestate
	}
	return context.WithValue(ctx, traceKey{}, tc), nil
}

// withTimeout gives ctx the client's retry deadline when it has no deadline of its own.
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.deadline == 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.deadline)
}

func decodeReply(m *nats.Msg) (*Result, error) {
	ev, err := events.DecodeOutbound(m.Header, m.Data)
	if err != nil {
		return nil, fmt.Errorf("patchbay: bad reply: %w", err)
	}
	switch events.Type(ev.Type()) {
	case events.TypeCommandSucceeded:
		res := &Result{}
		if err := ev.DataAs(res); err != nil {
			return nil, fmt.Errorf("patchbay: bad reply data: %w", err)
		}
		return res, nil
	case events.TypeCommandFailed:
		f := &events.CommandFailure{}
		if err := ev.DataAs(f); err != nil || f.Error == nil {
			return nil, fmt.Errorf("patchbay: bad failure reply: %v", err)
		}
		return nil, f.Error
	}
	return nil, fmt.Errorf("patchbay: unexpected reply type %q", ev.Type())
}

// CreateJob creates a job and returns the router's answer (its JobID). The command id
// is spec.JobID when set (so creating the same job again is answered as a duplicate),
// else WithID's, else a fresh one (which then names the job).
func (c *Client) CreateJob(ctx context.Context, spec JobSpec, opts ...CallOption) (*Result, error) {
	o := callOpts(opts)
	if o.id == "" {
		o.id = spec.JobID
	}
	return c.Request(ctx, events.TypeJobCreated, o.id, spec.JobID, spec)
}

// RegisterWorker registers (or replaces) a worker and makes it available for offers.
// Subscribe to its offers (Offers or OnOffer) before registering it, or an offer made
// at once may be missed (it then expires and moves on).
func (c *Client) RegisterWorker(ctx context.Context, spec WorkerSpec) (*Result, error) {
	return c.workerRequest(ctx, spec.WorkerID, events.TypeWorkerRegister, "", spec.WorkerID, spec)
}

// UpdateWorker changes the fields spec carries (nil / empty fields are kept).
func (c *Client) UpdateWorker(ctx context.Context, spec WorkerSpec) (*Result, error) {
	return c.workerRequest(ctx, spec.WorkerID, events.TypeWorkerUpdate, "", spec.WorkerID, spec)
}

// DeregisterWorker makes a worker unavailable for offers; its outstanding offers are
// revoked. It forgets the worker's declines when it registers again.
func (c *Client) DeregisterWorker(ctx context.Context, workerID string) (*Result, error) {
	return c.workerRequest(ctx, workerID, events.TypeWorkerDeregister, "", workerID, events.WorkerDeregister{WorkerID: workerID})
}

// Accept accepts an offer and returns the assignment id.
func (c *Client) Accept(ctx context.Context, o Offer, opts ...CallOption) (string, error) {
	res, err := c.workerRequest(ctx, o.WorkerID, events.TypeOfferAccept, callOpts(opts).id, o.JobID,
		events.OfferAccept{JobID: o.JobID, OfferID: o.OfferID, WorkerID: o.WorkerID})
	if err != nil {
		return "", err
	}
	return res.AssignmentID, nil
}

// Decline declines an offer. With retryAt the worker may be offered the job again
// from that time; without it, never (until it registers again).
func (c *Client) Decline(ctx context.Context, o Offer, retryAt *time.Time, opts ...CallOption) error {
	_, err := c.workerRequest(ctx, o.WorkerID, events.TypeOfferDecline, callOpts(opts).id, o.JobID,
		events.OfferDecline{JobID: o.JobID, OfferID: o.OfferID, WorkerID: o.WorkerID, RetryOfferAt: retryAt})
	return err
}

// Complete marks an assigned job completed; the worker keeps its capacity (wrap-up).
// Sending it again WithID the same id is answered as a duplicate.
func (c *Client) Complete(ctx context.Context, jobID, assignmentID, note string, opts ...CallOption) error {
	_, err := c.workerRequest(ctx, c.worker, events.TypeJobComplete, callOpts(opts).id, jobID,
		events.JobComplete{JobID: jobID, AssignmentID: assignmentID, Note: note})
	return err
}

// CloseOptions are the optional parts of a close.
type CloseOptions struct {
	DispositionCode string
	// CloseAt delays the close and the release of the worker's capacity.
	CloseAt *time.Time
	Note    string
}

// Close closes a completed job and releases the worker's capacity (at CloseAt if set).
// Sending it again WithID the same id is answered as a duplicate; a second close is
// refused.
func (c *Client) Close(ctx context.Context, jobID, assignmentID string, opts CloseOptions, call ...CallOption) error {
	_, err := c.workerRequest(ctx, c.worker, events.TypeJobClose, callOpts(call).id, jobID, events.JobClose{
		JobID: jobID, AssignmentID: assignmentID, DispositionCode: opts.DispositionCode,
		CloseAt: opts.CloseAt, Note: opts.Note,
	})
	return err
}

// Cancel cancels a queued or assigned job; its offers are revoked.
func (c *Client) Cancel(ctx context.Context, jobID, dispositionCode, note string, opts ...CallOption) error {
	_, err := c.Request(ctx, events.TypeJobCancel, callOpts(opts).id, jobID,
		events.JobCancel{JobID: jobID, DispositionCode: dispositionCode, Note: note})
	return err
}

// UpdateJob changes a job's matching mode: kind queueAndMatch resumes a suspended or
// waitingForActivation job (it goes back to its queue), kind suspend suspends a queued
// job (its offers are revoked). The result carries the job's status.
func (c *Client) UpdateJob(ctx context.Context, jobID string, mode MatchingMode, opts ...CallOption) (*Result, error) {
	return c.Request(ctx, events.TypeJobUpdate, callOpts(opts).id, jobID,
		events.JobUpdate{JobID: jobID, MatchingMode: &mode})
}

// ReclassifyJob classifies a queued job again (Azure's reclassify, an
// io.patchbay.job.update with reclassify): labelsToUpsert (may be nil) are merged into
// its labels, then classificationPolicyID, or the policy that classified the job when
// empty, picks its queue, priority and extra worker selectors. When no queue is found
// the job is left as it was and the call fails with ErrInvalidData.
func (c *Client) ReclassifyJob(ctx context.Context, jobID, classificationPolicyID string, labelsToUpsert events.Labels, opts ...CallOption) (*Result, error) {
	return c.Request(ctx, events.TypeJobUpdate, callOpts(opts).id, jobID, events.JobUpdate{JobID: jobID,
		Reclassify: &events.Reclassify{ClassificationPolicyID: classificationPolicyID, LabelsToUpsert: labelsToUpsert}})
}

// UnassignJob undoes an assigned job's assignment: the worker's capacity is released
// and the job goes back to its queue, or is suspended when suspendMatching is true. A
// job can be unassigned at most 3 times. The result carries the job's status.
func (c *Client) UnassignJob(ctx context.Context, jobID, assignmentID string, suspendMatching bool, opts ...CallOption) (*Result, error) {
	return c.Request(ctx, events.TypeJobUnassign, callOpts(opts).id, jobID,
		events.JobUnassign{JobID: jobID, AssignmentID: assignmentID, SuspendMatching: suspendMatching})
}

// CallOption configures one call.
type CallOption func(*callOptions)

type callOptions struct{ id string }

// WithID sets the command's CloudEvent id (for idempotent retries).
func WithID(id string) CallOption { return func(o *callOptions) { o.id = id } }

func callOpts(opts []CallOption) callOptions {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Policy kinds and payloads.
type (
	PolicyKind             = events.PolicyKind
	Policy                 = events.Policy
	QueueSpec              = events.QueueSpec
	DistributionPolicySpec = events.DistributionPolicySpec
	DistributionMode       = events.DistributionMode
	PolicyPut              = events.PolicyPut
	PolicyDelete           = events.PolicyDelete
	PolicyApply            = events.PolicyApply
	PolicyChange           = events.PolicyChange
)

// PutPolicy creates or replaces a routing policy (spec is a QueueSpec or a
// DistributionPolicySpec, or anything that encodes to one). With revision set, the
// put is refused with ErrRevisionMismatch unless it is the policy's current revision
// (0: the policy must not exist). The result carries the new revision.
func (c *Client) PutPolicy(ctx context.Context, kind PolicyKind, id string, spec any, revision *uint64) (*Result, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("patchbay: encode %s spec: %w", kind, err)
	}
	return c.Request(ctx, events.TypePolicyPut, "", string(kind)+"."+id,
		events.PolicyPut{Kind: kind, ID: id, Revision: revision, Spec: raw})
}

// ApplyPolicies applies a set of policy changes all or nothing
// (io.patchbay.policy.apply): every put and delete, and with Prune the deletion of
// every stored policy the puts do not name, is validated against the router's state,
// and either all are made or none. The result's Policies say what happened to each
// (with DryRun, what would). A refusal is an *Error whose Problems list every problem,
// each with its field in the command (for example "puts/1/spec/mode/kind"); its code
// is the first problem's. subject is the CloudEvent subject (for example the file
// name), and may be empty.
func (c *Client) ApplyPolicies(ctx context.Context, subject string, apply PolicyApply) (*Result, error) {
	return c.Request(ctx, events.TypePolicyApply, "", subject, apply)
}

// DeletePolicy deletes a routing policy (with revision set, only at that revision).
func (c *Client) DeletePolicy(ctx context.Context, kind PolicyKind, id string, revision *uint64) (*Result, error) {
	return c.Request(ctx, events.TypePolicyDelete, "", string(kind)+"."+id,
		events.PolicyDelete{Kind: kind, ID: id, Revision: revision})
}

// Query answers.
type (
	JobInfo    = events.JobInfo
	QueueInfo  = events.QueueInfo
	WorkerInfo = events.WorkerInfo
)

// query sends a read-only query and decodes the answer into out. It is retried like
// a command.
func (c *Client) query(ctx context.Context, t events.Type, data, out any) error {
	return c.queryOn(ctx, events.QuerySubject(t), t, data, out)
}

func (c *Client) queryOn(ctx context.Context, natsSubject string, t events.Type, data, out any) error {
	m, err := c.message(ctx, natsSubject, t, nuid.Next(), "", data)
	if err != nil {
		return err
	}
	resp, err := c.roundTrip(ctx, m, t)
	if err != nil {
		return err
	}
	reply, err := events.DecodeOutbound(resp.Header, resp.Data)
	if err != nil {
		return fmt.Errorf("patchbay: bad reply: %w", err)
	}
	if events.Type(reply.Type()) == events.TypeCommandFailed {
		f := &events.CommandFailure{}
		if err := reply.DataAs(f); err != nil || f.Error == nil {
			return fmt.Errorf("patchbay: bad failure reply: %v", err)
		}
		return f.Error
	}
	return reply.DataAs(out)
}

// JobInfo returns a job with its position in its queue and an estimate of its wait.
func (c *Client) JobInfo(ctx context.Context, jobID string) (*JobInfo, error) {
	var info JobInfo
	if err := c.query(ctx, events.TypeQueryJob, events.QueryJob{JobID: jobID}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// QueueInfo returns a queue's statistics: length, longest wait, estimated wait per
// priority, available workers.
func (c *Client) QueueInfo(ctx context.Context, queueID string) (*QueueInfo, error) {
	var info QueueInfo
	if err := c.query(ctx, events.TypeQueryQueue, events.QueryQueue{QueueID: queueID}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// WorkerInfo returns a worker with its outstanding offers (each with its job) and the
// jobs it holds (assigned or completed, not yet closed): what a worker needs to find
// its work again after its connection dropped or it restarted (FollowOffers asks for
// it after every reconnect). Truncated says the lists were cut short to fit in one
// message. A worker the router does not know is ErrUnknownWorker.
func (c *Client) WorkerInfo(ctx context.Context, workerID string) (*WorkerInfo, error) {
	var info WorkerInfo
	// on the worker's own subject, which the broker's permissions give to it alone
	subject := events.QuerySubject(events.TypeQueryWorker)
	if events.ValidID(workerID) {
		subject += "." + workerID
	}
	if err := c.queryOn(ctx, subject, events.TypeQueryWorker, events.QueryWorker{WorkerID: workerID}, &info); err != nil {
		return nil, err
	}
	return &info, nil
}
