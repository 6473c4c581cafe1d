package router_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/schemas"
)

// queryWorker sends io.patchbay.query.worker with raw data and returns the reply,
// checked against its schema.
func (e *env) queryWorker(data string) events.Event {
	e.t.Helper()
	body := fmt.Sprintf(`{"specversion":"1.0","id":"q-%d","source":"/test","type":"%s","data":%s}`,
		time.Now().UnixNano(), events.TypeQueryWorker, data)
	ev := e.request(events.QuerySubject(events.TypeQueryWorker), nil, []byte(body))
	require.NoError(e.t, schemas.ValidateData(events.Type(ev.Type()), ev.Data()), "%s: %s", ev.Type(), ev.Data())
	return ev
}

// The worker query answers from the router's state: an unknown worker is refused,
// a worker with work gets its outstanding offers (with their jobs) and the jobs it
// holds, in order, and nothing changes.
func TestWorkerQuery(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.WorkerInfo(ctx(t), "nobody")
	require.ErrorIs(t, err, patchbay.ErrUnknownWorker)
	f := failureOf(t, e.queryWorker(`{"workerId":"nobody"}`))
	require.Equal(t, events.CodeUnknownWorker, f.Error.Code)
	require.Equal(t, "workerId", f.Error.Field)

	three := 3
	_, err = e.client.RegisterWorker(ctx(t), patchbay.WorkerSpec{WorkerID: "alice", Queues: []string{"q"}, TotalCapacity: &three,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(t, err)
	info, err := e.client.WorkerInfo(ctx(t), "alice")
	require.NoError(t, err)
	require.Equal(t, "alice", info.Worker.WorkerID)
	require.Empty(t, info.Offers)
	require.Empty(t, info.Jobs)

	var offers []events.Offer
	for _, id := range []string{"j1", "j2", "j3"} {
		e.createJob(id, "q")
		offers = append(offers, e.offerFor("alice", id))
	}
	aid, err := e.client.Accept(ctx(t), offers[0])
	require.NoError(t, err)
	require.NoError(t, e.client.Complete(ctx(t), "j1", aid, ""))

	ev := e.queryWorker(`{"workerId":"alice"}`)
	require.Equal(t, string(events.TypeQueryResult), ev.Type())
	var raw events.WorkerInfo
	require.NoError(t, ev.DataAs(&raw))
	info, err = e.client.WorkerInfo(ctx(t), "alice")
	require.NoError(t, err)
	require.Equal(t, raw, *info)
	require.False(t, info.Truncated)
	require.Equal(t, []string{offers[1].OfferID, offers[2].OfferID}, []string{info.Offers[0].OfferID, info.Offers[1].OfferID})
	for i, o := range info.Offers {
		require.Equal(t, offers[i+1].JobID, o.Job.JobID, "each offer carries its job")
		require.Equal(t, "queued", o.Job.Status)
		require.Equal(t, "issued", o.Status)
	}
	require.Len(t, info.Jobs, 1)
	require.Equal(t, "j1", info.Jobs[0].JobID)
	require.Equal(t, "completed", info.Jobs[0].Status)
	require.Equal(t, aid, info.Jobs[0].Assignment.AssignmentID)
	require.ElementsMatch(t, []string{offers[1].OfferID, offers[2].OfferID}, info.Worker.OfferIDs)

	// A query changes nothing: no event follows it.
	e.drainEvents()
	_, err = e.client.WorkerInfo(ctx(t), "alice")
	require.NoError(t, err)
	e.createJob("after", "q")
	got := e.drainEvents()
	require.NotEmpty(t, got)
	require.Equal(t, events.TypeJobReceived, got[0].Type, "the first event after the query is the next job's")
}

// On a broker with a small max payload the answer is cut to the oldest offers that
// fit and says so; it still arrives.
func TestWorkerQueryIsTruncatedToFitOneMessage(t *testing.T) {
	t.Parallel()
	ns := runSmallServer(t, 16<<10)
	e := startOn(t, ns.ClientURL(), router.Config{})
	forty := 40
	_, err := e.client.RegisterWorker(ctx(t), patchbay.WorkerSpec{WorkerID: "alice", Queues: []string{"q"}, TotalCapacity: &forty,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(t, err)
	note := strings.Repeat("n", events.MaxNoteBytes)
	var first []string
	for i := range 20 {
		id := fmt.Sprintf("j%02d", i)
		_, err := e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: id, QueueID: "q", ChannelID: "voice", Notes: note})
		require.NoError(t, err)
		first = append(first, e.offerFor("alice", id).OfferID)
	}
	ev := e.queryWorker(`{"workerId":"alice"}`)
	require.Equal(t, string(events.TypeQueryResult), ev.Type(), "%s", ev.Data())
	var info events.WorkerInfo
	require.NoError(t, ev.DataAs(&info))
	require.True(t, info.Truncated)
	require.NotEmpty(t, info.Offers)
	require.Less(t, len(info.Offers), 20)
	for i, o := range info.Offers {
		require.Equal(t, first[i], o.OfferID, "the oldest first")
	}
	require.Len(t, info.Worker.OfferIDs, 20, "the worker still lists every offer")
}

// Worker queries with bad data are refused with the field at fault and never stop the
// router; a query asking to be answered on a subject the router may not publish on is
// not answered there.
func TestHostileWorkerQueries(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.register("bob", []string{"q"}, nil)
	for _, c := range []struct{ data, field string }{
		{`{"workerId":"a b"}`, "workerId"},
		{`{"workerId":"bob.*"}`, "workerId"},
		{`{"workerId":">"}`, "workerId"},
		{`{"workerId":""}`, "workerId"},
		{`{"workerId":"` + strings.Repeat("x", events.MaxIDBytes+1) + `"}`, "workerId"},
		{`{"workerId":7}`, "workerId"},
		{`{"workerId":null}`, "workerId"},
		{`{}`, "workerId"},
		{`{"workerId":"bob","jobId":"j"}`, "jobId"},
		{`[]`, "data"},
		{`"bob"`, "data"},
	} {
		f := failureOf(t, e.queryWorker(c.data))
		require.Equal(t, events.CodeInvalidData, f.Error.Code, c.data)
		require.Equal(t, c.field, f.Error.Field, c.data)
	}
	// Not a CloudEvent, the wrong type on the subject, and far too big.
	for _, body := range []string{`not json`, `{"specversion":"1.0"}`,
		`{"specversion":"1.0","id":"x","source":"/t","type":"io.patchbay.query.job","data":{"jobId":"j"}}`,
		`{"specversion":"1.0","id":"x","source":"/t","type":"io.patchbay.query.worker","data":{"workerId":"` + strings.Repeat("x", 2*events.MaxMessageBytes) + `"}}`,
	} {
		ev := e.request(events.QuerySubject(events.TypeQueryWorker), nil, []byte(body))
		f := failureOf(t, ev)
		require.Contains(t, []events.Code{events.CodeMalformed, events.CodeUnknownType, events.CodeInvalidData}, f.Error.Code, body[:min(len(body), 80)])
	}

	// Answers to $KV, $JS or event subjects would write into a bucket, call the API or
	// forge an event: the router stays silent.
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	forged := make(chan *nats.Msg, 10)
	sub, err := e.nc.ChanSubscribe("$KV.PATCHBAY_WORKERS.>", forged)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	for _, reply := range []string{"$KV.PATCHBAY_WORKERS.evil", "patchbay.events.worker.bob.registered"} {
		m := nats.NewMsg(events.QuerySubject(events.TypeQueryWorker))
		m.Reply = reply
		m.Data = []byte(`{"specversion":"1.0","id":"x","source":"/t","type":"io.patchbay.query.worker","data":{"workerId":"bob"}}`)
		require.NoError(t, e.nc.PublishMsg(m))
	}
	require.NoError(t, e.nc.Flush())

	info, err := e.client.WorkerInfo(ctx(t), "bob") // the router goes on, and answered the above first
	require.NoError(t, err)
	require.Equal(t, "bob", info.Worker.WorkerID)
	kv, err := js.KeyValue(ctx(t), events.BucketWorkers)
	require.NoError(t, err)
	_, err = kv.Get(ctx(t), "evil")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "no key written through a reply subject")
	for _, s := range e.drainEvents() {
		require.NotEqual(t, events.TypeQueryResult, s.Type, "no answer published as an event")
	}
	for len(forged) > 0 {
		require.NotEqual(t, "$KV.PATCHBAY_WORKERS.evil", (<-forged).Subject, "the router wrote a forged key")
	}
	require.NoError(t, e.router.Err())
	e.createJob("j1", "q")
	e.offerFor("bob", "j1")
}
