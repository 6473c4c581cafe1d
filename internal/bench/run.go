package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

const (
	source  = "/patchbay/bench"
	channel = "bench"
)

// run is one benchmark run's state.
type run struct {
	cfg    Config
	runID  string
	report Report
	ctx    context.Context

	js     jetstream.JetStream // commands, published straight onto the inbound stream
	client *patchbay.Client    // registrations
	subs   []*nats.Subscription

	mu           sync.Mutex
	phase        string
	phaseStart   time.Time
	status       func() string
	registered   int
	deregistered int
	stopping     bool
	start        time.Time // first create
	createdAll   time.Time // last create published
	drainStart   time.Time // backlog: the workers made available
	failures     map[string]int
	sent         map[string]time.Time // job id -> create published
	offered      map[string]bool      // job ids offered at least once
	done         map[string]bool      // job ids closed
	freed        map[string]time.Time // worker id -> its last close published, until its next offer
	created      int
	offers       int
	queued       int
	closed       int
	lastTick     time.Time // the previous progress line
	lastClosed   int
	allQueued    chan struct{}
	allClosed    chan time.Time
	window       chan struct{} // flat out: a slot per open job

	toOffer, toAssign, freedToOffer []time.Duration
}

func (r *run) queue() string       { return r.runID }
func (r *run) jobID(i int) string  { return fmt.Sprintf("%s-j%d", r.runID, i) }
func (r *run) worker(i int) string { return fmt.Sprintf("%s-w%d", r.runID, i) }

// subscribe follows the events the run needs: every offer issued (one wildcard
// subscription for all the workers), the job events of the run's queue, and the
// refusals.
func (r *run) subscribe(nc *nats.Conn) error {
	r.sent = make(map[string]time.Time, r.cfg.Jobs)
	r.offered = make(map[string]bool, r.cfg.Jobs)
	r.done = make(map[string]bool, r.cfg.Jobs)
	r.freed = make(map[string]time.Time, r.cfg.Workers)
	r.allQueued = make(chan struct{}, 1)
	r.allClosed = make(chan time.Time, 1)
	r.window = make(chan struct{}, r.cfg.MaxOpen)
	for _, s := range []struct {
		subject string
		handle  nats.MsgHandler
	}{
		{events.OfferTypeAll("*", events.TypeOfferIssued), r.onOffer},
		// Only the job events the run follows: the broker delivers no others to it.
		{events.JobQueueTypeAll(r.queue(), events.TypeJobQueued), r.onJob},
		{events.JobQueueTypeAll(r.queue(), events.TypeJobAssigned), r.onJob},
		{events.JobQueueTypeAll(r.queue(), events.TypeJobClosed), r.onJob},
		{events.SubjectCommandFailed, r.onFailed},
	} {
		sub, err := nc.Subscribe(s.subject, s.handle)
		if err != nil {
			return err
		}
		// The handlers never block for long; nothing may be dropped.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return err
		}
		r.subs = append(r.subs, sub)
	}
	return nc.Flush()
}

// unsubscribe stops following events; handlers still running do nothing more.
func (r *run) unsubscribe() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	for _, s := range r.subs {
		_ = s.Unsubscribe()
	}
}

// createMessage is the inbound message that creates job id.
func (r *run) createMessage(id string) (*nats.Msg, error) {
	return r.message(events.TypeJobCreated, id, id, &events.JobCreated{JobID: id, QueueID: r.queue(), ChannelID: channel})
}

// message encodes a command for the inbound stream. Its CloudEvent id is also its
// Nats-Msg-Id, so a publish sent again is stored once.
func (r *run) message(t events.Type, id, subject string, data any) (*nats.Msg, error) {
	body, err := events.Encode(t, id, source, subject, time.Now(), data)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(events.InSubject(t))
	m.Header.Set("Content-Type", events.ContentTypeCloudEvent)
	m.Header.Set(events.HeaderMsgID, id)
	m.Data = body
	return m, nil
}

// create publishes job i's create.
func (r *run) create(i int) {
	id := r.jobID(i)
	m, err := r.createMessage(id)
	if err != nil {
		r.fail("create", err)
		return
	}
	r.mu.Lock()
	r.sent[id] = time.Now()
	r.created++
	r.mu.Unlock()
	r.publish(m)
}

// send publishes a command.
func (r *run) send(t events.Type, id, subject string, data any) {
	m, err := r.message(t, id, subject, data)
	if err != nil {
		r.fail(t.Name(), err)
		return
	}
	r.publish(m)
}

// publish publishes m asynchronously, again while the publish cannot be sent (too
// many awaiting their acknowledgement) until the run's context ends; a publish
// whose acknowledgement fails is sent again by the error handler.
func (r *run) publish(m *nats.Msg) {
	for {
		out := nats.NewMsg(m.Subject)
		out.Header, out.Data = m.Header, m.Data
		_, err := r.js.PublishMsgAsync(out, jetstream.WithStallWait(r.cfg.RequestTimeout))
		if err == nil || r.ctx.Err() != nil || r.isStopping() {
			return
		}
		r.fail("publish", err)
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			time.Sleep(100 * time.Millisecond) // before sending it again
		}
	}
}

// isStopping reports whether the run stopped following events (then nothing more
// is sent).
func (r *run) isStopping() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopping
}

// onOffer is every simulated worker's answer to an offer: accept at once.
func (r *run) onOffer(m *nats.Msg) {
	at := time.Now()
	// patchbay.events.offer.<workerId>.<jobId>.issued
	workerID, _, _ := strings.Cut(strings.TrimPrefix(m.Subject, events.SubjectEventsPrefix+"offer."), ".")
	if !strings.HasPrefix(workerID, r.runID+"-") {
		return // another run's worker, or someone else's
	}
	var o events.Offer
	if !r.decode(m, &o) || o.OfferID == "" {
		return
	}
	r.mu.Lock()
	if r.stopping {
		r.mu.Unlock()
		return
	}
	r.offers++
	if sent, ok := r.sent[o.JobID]; ok && !r.offered[o.JobID] {
		r.offered[o.JobID] = true
		r.toOffer = append(r.toOffer, at.Sub(sent))
	}
	if freed, ok := r.freed[o.WorkerID]; ok {
		r.freedToOffer = append(r.freedToOffer, at.Sub(freed))
		delete(r.freed, o.WorkerID)
	}
	r.mu.Unlock()
	r.send(events.TypeOfferAccept, r.runID+"-accept-"+o.OfferID, o.JobID,
		&events.OfferAccept{JobID: o.JobID, OfferID: o.OfferID, WorkerID: o.WorkerID})
}

// onJob follows the run's jobs: an assignment is completed and closed at once; the
// last job closed ends the run.
func (r *run) onJob(m *nats.Msg) {
	at := time.Now()
	verb := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	switch verb {
	case "queued", "assigned", "closed":
	default:
		return
	}
	var j events.Job
	if !r.decode(m, &j) {
		return
	}
	r.mu.Lock()
	sent, ours := r.sent[j.JobID]
	if r.stopping || !ours {
		r.mu.Unlock()
		return
	}
	var a *events.Assignment
	switch verb {
	case "queued":
		r.queued++
		if r.queued == r.cfg.Jobs && r.cfg.Backlog > 0 {
			r.allQueued <- struct{}{}
		}
	case "assigned":
		if a = j.Assignment; a != nil {
			r.toAssign = append(r.toAssign, at.Sub(sent))
		}
	case "closed":
		if !r.done[j.JobID] {
			r.done[j.JobID] = true
			r.closed++
			if r.cfg.Rate == 0 && r.cfg.Backlog == 0 {
				<-r.window
			}
			if r.closed == r.cfg.Jobs {
				r.allClosed <- at
			}
		}
	}
	r.mu.Unlock()
	if a == nil {
		return
	}
	r.send(events.TypeJobComplete, r.runID+"-complete-"+a.AssignmentID, j.JobID,
		&events.JobComplete{JobID: j.JobID, AssignmentID: a.AssignmentID})
	// The worker is free once its close is applied; its next offer is timed from
	// the close's publish, when jobs wait for workers (otherwise it would time the
	// worker's idleness).
	if r.jobsWait() {
		r.mu.Lock()
		r.freed[a.WorkerID] = time.Now()
		r.mu.Unlock()
	}
	r.send(events.TypeJobClose, r.runID+"-close-"+a.AssignmentID, j.JobID,
		&events.JobClose{JobID: j.JobID, AssignmentID: a.AssignmentID, DispositionCode: "Benchmarked"})
}

// jobsWait reports whether the run keeps jobs waiting for workers: a backlog, or
// flat out with more jobs open than the workers can take.
func (r *run) jobsWait() bool {
	return r.cfg.Backlog > 0 || (r.cfg.Rate == 0 && r.cfg.MaxOpen > r.cfg.Workers*r.cfg.Capacity)
}

// onFailed counts the run's refused commands by type and error code.
func (r *run) onFailed(m *nats.Msg) {
	var f events.CommandFailure
	if !r.decode(m, &f) || !strings.HasPrefix(f.CommandID, r.runID+"-") || f.Error == nil {
		return
	}
	r.count(strings.TrimPrefix(f.CommandType, events.TypePrefix) + ": " + string(f.Error.Code))
}

// decode decodes an event's data into v. The router publishes structured CloudEvents;
// the simulated workers read only the data, in one pass, as a lean client would (the
// bench shares the machine with the router it measures).
func (r *run) decode(m *nats.Msg, v any) bool {
	ev := struct {
		Data any `json:"data"`
	}{Data: v}
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		r.count("event: bad data")
		return false
	}
	return true
}

// fail counts a failed call by name and error code.
func (r *run) fail(call string, err error) {
	code := string(events.AsError(err).Code)
	var jsErr jetstream.JetStreamError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, jetstream.ErrAsyncPublishTimeout), errors.Is(err, nats.ErrNoResponders):
		code = "no answer"
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
		code = "stalled"
	case errors.As(err, &jsErr):
		code = jsErr.Error()
	}
	r.count(call + ": " + code)
}

func (r *run) count(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures == nil {
		r.failures = map[string]int{}
	}
	r.failures[key]++
}
