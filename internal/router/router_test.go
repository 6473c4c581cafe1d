package router_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/matcher"
)

// The whole lifecycle: offer, accept (assigned), complete (capacity held), close with
// "Resolved" (capacity released, so the next job is offered at once).
func TestLifecycleAcceptCompleteClose(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("alice", []string{"support"}, nil)
	e.createJob("j1", "support")
	require.Equal(t, "queued", e.jobEvent(events.TypeJobQueued, "j1").Status)
	o := e.offerFor("alice", "j1")

	asg, err := e.client.Accept(ctx(t), o)
	require.NoError(t, err)
	require.NotEmpty(t, asg)
	j := e.jobEvent(events.TypeJobAssigned, "j1")
	require.Equal(t, "assigned", j.Status)
	require.Equal(t, "alice", j.Assignment.WorkerID)
	require.Equal(t, asg, j.Assignment.AssignmentID)

	// Alice is busy: a second job waits.
	e.createJob("j2", "support")
	e.jobEvent(events.TypeJobQueued, "j2")
	require.NoError(t, e.client.Complete(ctx(t), "j1", asg, "call ended"))
	require.Equal(t, "completed", e.jobEvent(events.TypeJobCompleted, "j1").Status)
	for _, s := range e.drainEvents() {
		require.NotEqual(t, events.TypeOfferIssued, s.Type, "no offer while alice wraps up")
	}

	require.NoError(t, e.client.Close(ctx(t), "j1", asg, patchbay.CloseOptions{DispositionCode: "Resolved"}))
	closed := e.jobEvent(events.TypeJobClosed, "j1")
	require.Equal(t, "closed", closed.Status)
	require.Equal(t, "Resolved", closed.DispositionCode)
	e.offerFor("alice", "j2") // capacity released: j2 goes to alice at once

	// A refused command changes nothing and says why.
	err = e.client.Close(ctx(t), "j1", asg, patchbay.CloseOptions{})
	require.ErrorIs(t, err, patchbay.ErrInvalidTransition)
	err = e.client.Complete(ctx(t), "j2", "nope", "")
	require.ErrorIs(t, err, patchbay.ErrInvalidTransition)
}

// Seed 3: a declined job goes to the next worker and never back to the decliner,
// unless it deregisters and registers again.
func TestDeclineGoesToNextWorkerAndNeverBack(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("alice", []string{"sales"}, nil)
	e.register("bob", []string{"sales"}, nil)
	e.createJob("j1", "sales")
	first := e.next(events.TypeOfferIssued, nil).offer()
	require.NoError(t, e.client.Decline(ctx(t), first, nil))
	other := map[string]string{"alice": "bob", "bob": "alice"}[first.WorkerID]
	second := e.offerFor(other, "j1")
	require.NoError(t, e.client.Decline(ctx(t), second, nil))
	e.next(events.TypeOfferDeclined, func(s seen) bool { return s.offer().OfferID == second.OfferID })

	// Both declined: nobody is offered j1, even when a new job frees the matcher.
	e.createJob("j2", "sales")
	o2 := e.next(events.TypeOfferIssued, nil).offer()
	require.Equal(t, "j2", o2.JobID)
	require.NoError(t, e.client.Decline(ctx(t), o2, nil))
	o2b := e.next(events.TypeOfferIssued, nil).offer()
	require.Equal(t, "j2", o2b.JobID, "j1 must not come back to a decliner")
	require.NoError(t, e.client.Decline(ctx(t), o2b, nil))
	e.next(events.TypeOfferDeclined, func(s seen) bool { return s.offer().OfferID == o2b.OfferID })
	for _, s := range e.drainEvents() {
		require.NotEqual(t, events.TypeOfferIssued, s.Type)
	}

	// Deregister and register again: the earlier declines are forgotten.
	_, err := e.client.DeregisterWorker(ctx(t), first.WorkerID)
	require.NoError(t, err)
	e.register(first.WorkerID, []string{"sales"}, nil)
	again := e.next(events.TypeOfferIssued, nil).offer()
	require.Equal(t, first.WorkerID, again.WorkerID)
	require.Equal(t, "j1", again.JobID, "j1 is first in the queue")
}

// Seed 4: declining with retryOfferAt makes the decliner eligible again from then.
func TestDeclineWithRetryOfferAt(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("alice", []string{"q"}, nil)
	e.createJob("j1", "q")
	o := e.offerFor("alice", "j1")
	retry := time.Now().Add(500 * time.Millisecond).UTC()
	require.NoError(t, e.client.Decline(ctx(t), o, &retry))
	d := e.next(events.TypeOfferDeclined, nil).offer()
	require.NotNil(t, d.RetryOfferAt)
	again := e.offerFor("alice", "j1")
	require.NotEqual(t, o.OfferID, again.OfferID)
	require.False(t, again.IssuedAt.Before(retry), "offered again at %s, before the retry time %s", again.IssuedAt, retry)
}

// Seed 1: an offer expires after the queue's offer expiry; the job moves on; an accept
// after that is refused with offer_expired.
func TestOfferExpiryMovesOnAndLateAcceptIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{Engine: matcher.Config{QueueOfferExpiry: map[string]time.Duration{"fast": 300 * time.Millisecond}}})
	e.register("alice", []string{"fast"}, nil)
	e.createJob("j1", "fast")
	o := e.offerFor("alice", "j1")
	require.Equal(t, 300*time.Millisecond, o.ExpiresAt.Sub(o.IssuedAt))
	e.next(events.TypeOfferExpired, func(s seen) bool { return s.offer().OfferID == o.OfferID })
	_, err := e.client.Accept(ctx(t), o)
	require.ErrorIs(t, err, patchbay.ErrOfferExpired)

	// The job moved on: bob gets it (alice, being first again, may be offered it
	// again too; an expiry is not a decline).
	e.register("bob", []string{"fast"}, nil)
	next := e.next(events.TypeOfferIssued, func(s seen) bool { return s.offer().JobID == "j1" }).offer()
	require.NotEqual(t, o.OfferID, next.OfferID)
}

func TestAcceptErrors(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("alice", []string{"q"}, nil)
	e.register("bob", []string{"other"}, nil)
	e.createJob("j1", "q")
	o := e.offerFor("alice", "j1")

	mine := o
	mine.WorkerID = "bob"
	_, err := e.client.Accept(ctx(t), mine)
	require.ErrorIs(t, err, patchbay.ErrNotYourOffer)
	bad := o
	bad.OfferID = "nope"
	_, err = e.client.Accept(ctx(t), bad)
	require.ErrorIs(t, err, patchbay.ErrUnknownOffer)
	bad = o
	bad.JobID = "nope"
	_, err = e.client.Accept(ctx(t), bad)
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)

	a1, err := e.client.Accept(ctx(t), o)
	require.NoError(t, err)
	a2, err := e.client.Accept(ctx(t), o) // the same worker again: same answer
	require.NoError(t, err)
	require.Equal(t, a1, a2)
	require.ErrorIs(t, e.client.Decline(ctx(t), o, nil), patchbay.ErrInvalidTransition)
}

// Cancel removes a queued job and revokes its offers.
func TestCancelRevokesOffers(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("alice", []string{"q"}, nil)
	e.createJob("j1", "q")
	o := e.offerFor("alice", "j1")
	require.NoError(t, e.client.Cancel(ctx(t), "j1", "CustomerHungUp", "gone"))
	rev := e.next(events.TypeOfferRevoked, nil).offer()
	require.Equal(t, o.OfferID, rev.OfferID)
	require.Equal(t, events.RevokedJobCancelled, rev.Reason)
	c := e.jobEvent(events.TypeJobCancelled, "j1")
	require.Equal(t, "CustomerHungUp", c.DispositionCode)
	_, err := e.client.Accept(ctx(t), o)
	require.ErrorIs(t, err, patchbay.ErrOfferRevoked)
}

// The same job-created event (same CloudEvent id) published twice creates one job.
func TestJobCreatedIsIdempotent(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	spec := patchbay.JobSpec{QueueID: "q", ChannelID: "voice"}
	r1, err := e.client.CreateJob(ctx(t), spec, patchbay.WithID("evt-1"))
	require.NoError(t, err)
	require.Equal(t, "evt-1", r1.JobID, "without jobId the CloudEvent id names the job")
	r2, err := e.client.CreateJob(ctx(t), spec, patchbay.WithID("evt-1"))
	require.NoError(t, err)
	require.True(t, r2.Duplicate)
	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "evt-1", QueueID: "q", ChannelID: "voice"}, patchbay.WithID("evt-2"))
	require.ErrorIs(t, err, patchbay.ErrJobExists)

	e.jobEvent(events.TypeJobQueued, "evt-1")
	for _, s := range e.drainEvents() {
		require.NotEqual(t, events.TypeJobQueued, s.Type, "queued twice")
	}
}

// Both content modes are accepted on the durable inbound subjects.
func TestBinaryAndStructuredModesOnTheStream(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)

	ev, err := events.New(events.TypeJobCreated, "bin-1", "/test", "", time.Now(), events.JobCreated{JobID: "jb", QueueID: "q", ChannelID: "chat"})
	require.NoError(t, err)
	h, body := events.Binary(ev)
	m := nats.NewMsg(events.InSubject(events.TypeJobCreated))
	m.Header = nats.Header(h)
	m.Data = body
	_, err = js.PublishMsg(ctx(t), m)
	require.NoError(t, err)
	require.Equal(t, "chat", e.jobEvent(events.TypeJobQueued, "jb").ChannelID)

	ev.SetID("str-1")
	require.NoError(t, ev.SetData(events.ContentTypeJSON, events.JobCreated{JobID: "js", QueueID: "q", ChannelID: "chat"}))
	sb, err := events.Structured(ev)
	require.NoError(t, err)
	_, err = js.Publish(ctx(t), events.InSubject(events.TypeJobCreated), sb)
	require.NoError(t, err)
	e.jobEvent(events.TypeJobQueued, "js")

	// And binary mode by request.
	ev.SetID("bin-2")
	require.NoError(t, ev.SetData(events.ContentTypeJSON, events.JobCreated{JobID: "jr", QueueID: "q", ChannelID: "chat"}))
	h, body = events.Binary(ev)
	reply := e.request(events.ReqSubject(events.TypeJobCreated), nats.Header(h), body)
	require.Equal(t, string(events.TypeCommandSucceeded), reply.Type())
}

// Bad input gets a clear error (reply and command.failed event), is not retried, and
// the router keeps going.
func TestBadInputIsAnsweredAndNeverStallsTheRouter(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	cases := []struct {
		name    string
		subject string
		header  nats.Header
		body    string
		code    events.Code
		field   string
	}{
		{"not json", "patchbay.req.job.created", nil, "{nope", events.CodeMalformed, ""},
		{"empty", "patchbay.req.job.created", nil, "", events.CodeMalformed, ""},
		{"not a cloudevent", "patchbay.req.job.created", nil, `{"queueId":"q"}`, events.CodeMalformed, ""},
		{"wrong type for subject", "patchbay.req.job.created", nil,
			`{"specversion":"1.0","id":"x1","source":"/t","type":"io.patchbay.job.cancel","data":{"jobId":"a"}}`, events.CodeUnknownType, "type"},
		{"unknown subject", "patchbay.req.job.explode", nil, `{}`, events.CodeUnknownType, "subject"},
		{"missing queue", "patchbay.req.job.created", nil,
			`{"specversion":"1.0","id":"x2","source":"/t","type":"io.patchbay.job.created","datacontenttype":"application/json","data":{"channelId":"voice"}}`, events.CodeInvalidData, "queueId"},
		{"priority out of range", "patchbay.req.job.created", nil,
			`{"specversion":"1.0","id":"x3","source":"/t","type":"io.patchbay.job.created","datacontenttype":"application/json","data":{"queueId":"q","channelId":"voice","priority":500}}`, events.CodeInvalidData, "priority"},
		{"bad binary time", "patchbay.req.job.created", nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"x4"}, "ce-source": {"/t"}, "ce-type": {"io.patchbay.job.created"}, "ce-time": {"yesterday"}},
			`{"queueId":"q","channelId":"voice"}`, events.CodeMalformed, "ce-time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := failureOf(t, e.request(c.subject, c.header, []byte(c.body)))
			require.Equal(t, c.code, f.Error.Code, f.Error.Message)
			require.Equal(t, c.field, f.Error.Field, f.Error.Message)
			require.NotEmpty(t, f.Error.Message)
		})
	}
	// An invalid job.created is also announced as job.rejected, with the reason.
	f := failureOf(t, e.request("patchbay.req.job.created", nil, []byte(
		`{"specversion":"1.0","id":"x9","source":"/t","type":"io.patchbay.job.created","data":{"jobId":"bad1","queueId":"q","channelId":"voice","priority":-101}}`)))
	require.Equal(t, "priority", f.Error.Field)
	rej := e.jobEvent(events.TypeJobRejected, "bad1")
	require.Equal(t, events.JobStatusRejected, rej.Status)
	require.Equal(t, events.CodeInvalidData, rej.Reason.Code)

	// Fire-and-forget garbage on the stream: a command.failed event names it.
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	_, err = js.Publish(ctx(t), "patchbay.in.worker.register", []byte("garbage"))
	require.NoError(t, err)
	failed := e.next(events.TypeCommandFailed, func(s seen) bool {
		var f events.CommandFailure
		_ = json.Unmarshal(s.Data, &f)
		return f.Subject == "patchbay.in.worker.register"
	})
	require.Contains(t, string(failed.Data), "malformed")

	// The router still works, and the bad messages are not redelivered.
	e.register("alice", []string{"q"}, nil)
	e.createJob("ok", "q")
	e.offerFor("alice", "ok")
	info, err := js.Stream(ctx(t), events.StreamIn)
	require.NoError(t, err)
	// The acks are asynchronous: the last command's may land just after its event.
	require.Eventually(t, func() bool {
		si, err := info.Info(ctx(t))
		return err == nil && si.State.Msgs == 0
	}, waitFor, 10*time.Millisecond, "every command is acknowledged and removed from the work queue")
}

// A job goes only to workers that satisfy every selector (including the implicit id).
func TestSelectorsAndCapacityOnTheWire(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("en1", []string{"q"}, events.Labels{"language": "en", "skill": 3})
	e.register("en2", []string{"q"}, events.Labels{"language": "en", "skill": 7})
	_, err := e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "j", QueueID: "q", ChannelID: "voice",
		WorkerSelectors: []patchbay.WorkerSelector{{Key: "language", Operator: "equal", Value: "en"}, {Key: "skill", Operator: "greaterThanOrEqual", Value: 5}}})
	require.NoError(t, err)
	require.Equal(t, "en2", e.next(events.TypeOfferIssued, nil).offer().WorkerID)
	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "k", QueueID: "q", ChannelID: "voice",
		WorkerSelectors: []patchbay.WorkerSelector{{Key: "id", Operator: "equal", Value: "en1"}}})
	require.NoError(t, err)
	require.Equal(t, "en1", e.offerFor("en1", "k").WorkerID)
}

func TestUnknownWorkerAndBadRegistration(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.DeregisterWorker(ctx(t), "ghost")
	require.ErrorIs(t, err, patchbay.ErrUnknownWorker)
	zero := 0
	_, err = e.client.RegisterWorker(ctx(t), patchbay.WorkerSpec{WorkerID: "w", Queues: []string{"q"}, TotalCapacity: &zero,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	var pe *patchbay.Error
	require.True(t, errors.As(err, &pe))
	require.Equal(t, "totalCapacity", pe.Field)
}

// A server without JetStream: the start fails at once and says so, instead of
// "no responders" after the start-up deadline.
func TestStartWithoutJetStreamSaysSo(t *testing.T) {
	t.Parallel()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.True(t, ns.ReadyForConnections(waitFor))
	r, err := router.New(natstest.Connect(t, ns.ClientURL()), router.Config{})
	require.NoError(t, err)
	err = r.Start(ctx(t))
	require.ErrorIs(t, err, jetstream.ErrJetStreamNotEnabled)
	require.ErrorContains(t, err, "run nats-server with -js")
}
