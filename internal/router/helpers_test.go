package router_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/schemas"
)

// waitFor bounds every wait in these tests: generous, because they run on a loaded
// 2-core machine under -race. Tests wait for events, never for time to pass.
const waitFor = 30 * time.Second

type env struct {
	t      *testing.T
	nc     *nats.Conn
	client *patchbay.Client
	router *router.Router
	events chan *nats.Msg
}

// start runs an in-process NATS server and a router on it, and records every event.
func start(t *testing.T, cfg router.Config) *env {
	t.Helper()
	ns := natstest.RunServer(t)
	return startOn(t, ns.ClientURL(), cfg)
}

func startOn(t *testing.T, url string, cfg router.Config) *env {
	t.Helper()
	nc := natstest.Connect(t, url)
	e := &env{t: t, nc: nc, events: make(chan *nats.Msg, 10000)}
	sub, err := nc.ChanSubscribe(events.SubjectEventsAll, e.events)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	require.NoError(t, nc.Flush())
	e.router = startRouter(t, nc, cfg)
	e.client, err = patchbay.New(nc, patchbay.WithTimeout(waitFor))
	require.NoError(t, err)
	return e
}

func startRouter(t testing.TB, nc *nats.Conn, cfg router.Config) *router.Router {
	t.Helper()
	return natstest.StartRouter(t, nc, cfg)
}

// publishCommand puts a command straight onto the inbound stream, as a client does.
func publishCommand(t *testing.T, nc *nats.Conn, typ events.Type, ceID, subject string, data any) {
	t.Helper()
	ev, err := events.New(typ, ceID, "/test", subject, time.Now(), data)
	require.NoError(t, err)
	body, err := events.Structured(ev)
	require.NoError(t, err)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.Publish(ctx(t), events.InSubject(typ), body)
	require.NoError(t, err)
}

// bucket opens a KV bucket of patchbay's.
func bucket(t testing.TB, nc *nats.Conn, name string) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx(t), name)
	require.NoError(t, err)
	return kv
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

// seen is a decoded event.
type seen struct {
	Subject string
	Type    events.Type
	Data    json.RawMessage
	Event   events.Event
}

func (s seen) job() events.Job {
	var j events.Job
	_ = json.Unmarshal(s.Data, &j)
	return j
}

func (s seen) offer() events.Offer {
	var o events.Offer
	_ = json.Unmarshal(s.Data, &o)
	return o
}

// next waits for the next event of type t matching ok (nil matches all), skipping
// others.
func (e *env) next(t events.Type, ok func(seen) bool) seen {
	e.t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case m := <-e.events:
			ev, err := events.Decode(m.Header, m.Data)
			require.NoError(e.t, err, "event on %s", m.Subject)
			require.NoError(e.t, schemas.ValidateData(events.Type(ev.Type()), ev.Data()),
				"%s on %s does not match its schema: %s", ev.Type(), m.Subject, ev.Data())
			s := seen{Subject: m.Subject, Type: events.Type(ev.Type()), Data: ev.Data(), Event: ev}
			if s.Type == t && (ok == nil || ok(s)) {
				return s
			}
		case <-timeout:
			e.t.Fatalf("no %s event within %s", t, waitFor)
		}
	}
}

// offerFor waits for an offer.issued to worker w for job j.
func (e *env) offerFor(w, j string) events.Offer {
	e.t.Helper()
	return e.next(events.TypeOfferIssued, func(s seen) bool {
		o := s.offer()
		return o.WorkerID == w && o.JobID == j
	}).offer()
}

func (e *env) jobEvent(t events.Type, jobID string) events.Job {
	e.t.Helper()
	return e.next(t, func(s seen) bool { return s.job().JobID == jobID }).job()
}

// drainEvents returns the events already received, without waiting.
func (e *env) drainEvents() []seen {
	var out []seen
	for {
		select {
		case m := <-e.events:
			ev, err := events.Decode(m.Header, m.Data)
			require.NoError(e.t, err)
			require.NoError(e.t, schemas.ValidateData(events.Type(ev.Type()), ev.Data()), "%s: %s", ev.Type(), ev.Data())
			out = append(out, seen{Subject: m.Subject, Type: events.Type(ev.Type()), Data: ev.Data(), Event: ev})
		default:
			return out
		}
	}
}

// workThrough takes n offers in turn, whichever jobs they are for, and accepts,
// completes and closes each job; it requires every job to come once.
func (e *env) workThrough(n int) {
	e.t.Helper()
	closed := map[string]bool{}
	for range n {
		o := e.next(events.TypeOfferIssued, nil).offer()
		asg, err := e.client.Accept(ctx(e.t), o)
		require.NoError(e.t, err)
		require.NoError(e.t, e.client.Complete(ctx(e.t), o.JobID, asg, ""))
		require.NoError(e.t, e.client.Close(ctx(e.t), o.JobID, asg, patchbay.CloseOptions{DispositionCode: "Resolved"}))
		require.False(e.t, closed[o.JobID], "%s offered again after it was closed", o.JobID)
		closed[o.JobID] = true
	}
}

func (e *env) register(id string, queues []string, labels events.Labels) {
	e.t.Helper()
	one := 1
	_, err := e.client.RegisterWorker(ctx(e.t), patchbay.WorkerSpec{
		WorkerID: id, Queues: queues, TotalCapacity: &one, Labels: labels,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1, MaxNumberOfJobs: 1}},
	})
	require.NoError(e.t, err)
}

func (e *env) createJob(id, queue string) {
	e.t.Helper()
	res, err := e.client.CreateJob(ctx(e.t), patchbay.JobSpec{JobID: id, QueueID: queue, ChannelID: "voice"})
	require.NoError(e.t, err)
	require.Equal(e.t, id, res.JobID)
}

// request sends a raw request and returns the decoded reply event.
func (e *env) request(subject string, header nats.Header, body []byte) events.Event {
	e.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = body
	for k, v := range header {
		m.Header[k] = v
	}
	resp, err := e.nc.RequestMsg(m, waitFor)
	require.NoError(e.t, err)
	ev, err := events.Decode(resp.Header, resp.Data)
	require.NoError(e.t, err)
	return ev
}

func failureOf(t *testing.T, ev events.Event) events.CommandFailure {
	t.Helper()
	require.Equal(t, string(events.TypeCommandFailed), ev.Type(), "reply %s", string(ev.Data()))
	var f events.CommandFailure
	require.NoError(t, ev.DataAs(&f))
	require.NoError(t, schemas.ValidateData(events.TypeCommandFailed, ev.Data()), "%s", ev.Data())
	return f
}

func patchbayClose(disposition string) patchbay.CloseOptions {
	return patchbay.CloseOptions{DispositionCode: disposition}
}
