package router_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// A command may name any reply subject in its header. The router answers only on
// subjects a client may name: one that would write into a bucket, call the JetStream
// API or forge an event is refused (invalid_data, field Patchbay-Reply-To) and nothing
// is published there.
func TestHostileReplySubjectIsRefused(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	forged := make(chan *nats.Msg, 10)
	sub, err := e.nc.ChanSubscribe("$KV.PATCHBAY_JOBS.>", forged)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	for i, reply := range []string{"$KV.PATCHBAY_JOBS.evil", "$JS.API.STREAM.DELETE.PATCHBAY_EVENTS",
		"patchbay.events.offer.w.issued", "_INBOX.*", "_INBOX.a..b", "orders.created", "_INBOXX.a"} {
		id := fmt.Sprintf("h%d", i)
		ev, err := events.New(events.TypeJobCreated, "ce-"+id, "/test", id, time.Now(),
			&events.JobCreated{JobID: id, QueueID: "q", ChannelID: "voice"})
		require.NoError(t, err)
		body, err := events.Structured(ev)
		require.NoError(t, err)
		m := nats.NewMsg(events.InSubject(events.TypeJobCreated))
		m.Header.Set(events.HeaderReplyTo, reply)
		m.Data = body
		_, err = js.PublishMsg(ctx(t), m)
		require.NoError(t, err)
		failed := e.next(events.TypeCommandFailed, func(s seen) bool { return s.Event.Subject() == "ce-"+id })
		var f events.CommandFailure
		require.NoError(t, failed.Event.DataAs(&f))
		require.Equal(t, events.CodeInvalidData, f.Error.Code, reply)
		require.Equal(t, events.HeaderReplyTo, f.Error.Field, reply)
	}
	e.createJob("after", "q") // the router goes on
	for {
		select {
		case m := <-forged:
			require.NotEqual(t, "evil", m.Subject[len("$KV.PATCHBAY_JOBS."):], "the router wrote a forged key")
			continue
		default:
		}
		break
	}
	kv, err := js.KeyValue(ctx(t), events.BucketJobs)
	require.NoError(t, err)
	_, err = kv.Get(ctx(t), "evil")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "no key written through a reply subject")
	_, err = js.Stream(ctx(t), events.StreamEvents)
	require.NoError(t, err, "the event stream still exists")
}

// With its own reply prefixes the router answers under them only, and it refuses a
// prefix that would open system subjects.
func TestReplyPrefixes(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"$KV.", "_JS.", "patchbay.", "acme", "a.*.", "a..b."} {
		_, err := router.New(nil, router.Config{ReplyPrefixes: []string{p}})
		require.Error(t, err, p)
	}
	e := start(t, router.Config{ReplyPrefixes: []string{"acme.replies."}})
	answers := make(chan *nats.Msg, 10)
	sub, err := e.nc.ChanSubscribe("acme.replies.>", answers)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	for _, c := range []struct{ id, reply string }{{"ok", "acme.replies.1"}, {"inbox", "_INBOX.1"}} {
		ev, err := events.New(events.TypeJobCreated, "ce-"+c.id, "/test", c.id, time.Now(),
			&events.JobCreated{JobID: c.id, QueueID: "q", ChannelID: "voice"})
		require.NoError(t, err)
		body, err := events.Structured(ev)
		require.NoError(t, err)
		m := nats.NewMsg(events.InSubject(events.TypeJobCreated))
		m.Header.Set(events.HeaderReplyTo, c.reply)
		m.Data = body
		_, err = js.PublishMsg(ctx(t), m)
		require.NoError(t, err)
	}
	select {
	case m := <-answers:
		require.Equal(t, "acme.replies.1", m.Subject)
		ev, err := events.Decode(m.Header, m.Data)
		require.NoError(t, err)
		require.Equal(t, string(events.TypeCommandSucceeded), ev.Type())
	case <-time.After(waitFor):
		t.Fatal("no answer under the configured prefix")
	}
	failed := e.next(events.TypeCommandFailed, func(s seen) bool { return s.Event.Subject() == "ce-inbox" })
	var f events.CommandFailure
	require.NoError(t, failed.Event.DataAs(&f))
	require.Equal(t, events.HeaderReplyTo, f.Error.Field)
}

// A command sent on a worker's subject acts for that worker only: accepting,
// declining, completing, closing or deregistering another worker's work there is
// refused with forbidden, and the work stays where it was.
func TestWorkerSubjectActsForItsWorkerOnly(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("alice", []string{"q"}, nil)
	e.createJob("j1", "q")
	o := e.offerFor("alice", "j1")

	refused := func(t events.Type, worker string, data any, code events.Code) {
		e.t.Helper()
		ev, err := events.New(t, fmt.Sprintf("ce-%s-%s", t.Name(), worker), "/test", "", time.Now(), data)
		require.NoError(e.t, err)
		body, err := events.Structured(ev)
		require.NoError(e.t, err)
		m, err := e.nc.Request(events.WorkerReqSubject(t, worker), body, waitFor)
		require.NoError(e.t, err)
		reply, err := events.Decode(m.Header, m.Data)
		require.NoError(e.t, err)
		require.Equal(e.t, string(events.TypeCommandFailed), reply.Type(), "%s on %s's subject", t, worker)
		var f events.CommandFailure
		require.NoError(e.t, reply.DataAs(&f))
		require.Equal(e.t, code, f.Error.Code, "%s on %s's subject: %s", t, worker, f.Error.Message)
	}
	forbidden := func(t events.Type, worker string, data any) { refused(t, worker, data, events.CodeForbidden) }
	// mallory, on her own subject, acts for alice
	forbidden(events.TypeOfferAccept, "mallory", &events.OfferAccept{JobID: "j1", OfferID: o.OfferID, WorkerID: "alice"})
	forbidden(events.TypeOfferDecline, "mallory", &events.OfferDecline{JobID: "j1", OfferID: o.OfferID, WorkerID: "alice"})
	forbidden(events.TypeWorkerDeregister, "mallory", &events.WorkerDeregister{WorkerID: "alice"})
	// a command that is no worker's has no worker's subject
	refused(events.TypeJobCancel, "mallory", &events.JobCancel{JobID: "j1"}, events.CodeUnknownType)

	// nor may she read alice's offers
	ev, err := events.New(events.TypeQueryWorker, "q-mallory", "/test", "", time.Now(), &events.QueryWorker{WorkerID: "alice"})
	require.NoError(t, err)
	body, err := events.Structured(ev)
	require.NoError(t, err)
	m, err := e.nc.Request(events.QuerySubject(events.TypeQueryWorker)+".mallory", body, waitFor)
	require.NoError(t, err)
	reply, err := events.Decode(m.Header, m.Data)
	require.NoError(t, err)
	var f events.CommandFailure
	require.NoError(t, reply.DataAs(&f))
	require.Equal(t, events.CodeForbidden, f.Error.Code)
	info, err := e.client.WorkerInfo(ctx(t), "alice") // on alice's subject
	require.NoError(t, err)
	require.Len(t, info.Offers, 1)

	// alice accepts on her own subject (the client does so)
	asg, err := e.client.Accept(ctx(t), o)
	require.NoError(t, err)
	forbidden(events.TypeJobComplete, "mallory", &events.JobComplete{JobID: "j1", AssignmentID: asg})
	forbidden(events.TypeJobClose, "mallory", &events.JobClose{JobID: "j1", AssignmentID: asg})
	alice, err := patchbay.New(e.nc, patchbay.AsWorker("alice"), patchbay.WithTimeout(waitFor))
	require.NoError(t, err)
	require.NoError(t, alice.Complete(ctx(t), "j1", asg, ""))
	require.NoError(t, alice.Close(ctx(t), "j1", asg, patchbayClose("done")))
	e.jobEvent(events.TypeJobClosed, "j1")
}
