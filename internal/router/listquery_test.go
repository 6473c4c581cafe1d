package router_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/schemas"
)

// queryRaw sends a query of type t with raw data and returns the reply, checked
// against its schema.
func (e *env) queryRaw(t events.Type, data string) events.Event {
	e.t.Helper()
	body := fmt.Sprintf(`{"specversion":"1.0","id":"q-%d","source":"/test","type":"%s","data":%s}`, time.Now().UnixNano(), t, data)
	ev := e.request(events.QuerySubject(t), nil, []byte(body))
	require.NoError(e.t, schemas.ValidateData(events.Type(ev.Type()), ev.Data()), "%s: %s", ev.Type(), ev.Data())
	return ev
}

// The list queries answer from the router's state, a page at a time, and the Go
// client reads them; the policy query reads one policy.
func TestListQueries(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.PutPolicy(ctx(t), events.KindQueue, "support", events.QueueSpec{Order: events.OrderLIFO}, nil)
	require.NoError(t, err)
	for _, id := range []string{"j1", "j2", "j3"} {
		e.createJob(id, "support")
	}
	e.createJob("s1", "sales")
	two := 2
	_, err = e.client.RegisterWorker(ctx(t), patchbay.WorkerSpec{WorkerID: "alice", Queues: []string{"support"}, TotalCapacity: &two,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(t, err)
	offer := e.offerFor("alice", "j3") // lifo: the last one first
	_, err = e.client.Accept(ctx(t), offer)
	require.NoError(t, err)
	e.offerFor("alice", "j2") // her second unit of capacity

	// Every job, oldest first, two at a time.
	ids, pages := allJobIDs(t, e.client, patchbay.ListJobsOptions{Limit: 2})
	require.Equal(t, []string{"j1", "j2", "j3", "s1"}, ids)
	require.Equal(t, 2, pages)

	l, err := e.client.ListJobs(ctx(t), patchbay.ListJobsOptions{WorkerID: "alice"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 1)
	require.Equal(t, "j3", l.Jobs[0].Job.JobID)
	require.Equal(t, "assigned", l.Jobs[0].Job.Status)
	l, err = e.client.ListJobs(ctx(t), patchbay.ListJobsOptions{Status: "queued", QueueID: "support"})
	require.NoError(t, err)
	require.Len(t, l.Jobs, 2)
	require.Equal(t, "j1", l.Jobs[0].Job.JobID)
	require.Equal(t, 2, l.Jobs[0].Position, "j1 waits behind j2 (lifo)")

	ws, err := e.client.ListWorkers(ctx(t), patchbay.ListWorkersOptions{QueueID: "support", Activity: "available"})
	require.NoError(t, err)
	require.Len(t, ws.Workers, 1)
	require.Equal(t, "alice", ws.Workers[0].Worker.WorkerID)
	require.Equal(t, 1, ws.Workers[0].OutstandingOffers)
	require.Equal(t, 1, ws.Workers[0].AssignedJobs)

	qs, err := e.client.ListQueues(ctx(t), patchbay.ListOptions{})
	require.NoError(t, err)
	require.Len(t, qs.Queues, 2)
	require.Equal(t, "sales", qs.Queues[0].QueueID)
	require.Equal(t, 1, qs.Queues[0].Length)
	require.Equal(t, "support", qs.Queues[1].QueueID)

	ps, err := e.client.ListPolicies(ctx(t), "", patchbay.ListOptions{})
	require.NoError(t, err)
	require.Len(t, ps.Policies, 1)
	p, err := e.client.GetPolicy(ctx(t), events.KindQueue, "support")
	require.NoError(t, err)
	require.Equal(t, ps.Policies[0], *p)
	require.JSONEq(t, `{"order":"lifo"}`, string(p.Spec))
	_, err = e.client.GetPolicy(ctx(t), events.KindQueue, "nope")
	require.ErrorIs(t, err, patchbay.ErrUnknownPolicy)

	// Bad filters are refused with the field at fault; the router goes on.
	for _, c := range []struct {
		t           events.Type
		data, field string
	}{
		{events.TypeQueryJobs, `{"status":"offered"}`, "status"},
		{events.TypeQueryJobs, `{"queueId":"a b"}`, "queueId"},
		{events.TypeQueryJobs, `{"limit":0}`, "limit"},
		{events.TypeQueryJobs, `{"limit":1001}`, "limit"},
		{events.TypeQueryJobs, `{"after":"` + strings.Repeat("x", events.MaxCursorBytes+1) + `"}`, "after"},
		{events.TypeQueryJobs, `{"after":"garbage"}`, "after"},
		{events.TypeQueryJobs, `{"jobId":"j1"}`, "jobId"},
		{events.TypeQueryWorkers, `{"activity":"lunch"}`, "activity"},
		{events.TypeQueryQueues, `{"after":7}`, "after"},
		{events.TypeQueryPolicies, `{"kind":"queues"}`, "kind"},
		{events.TypeQueryPolicy, `{"kind":"queue"}`, "id"},
	} {
		f := failureOf(t, e.queryRaw(c.t, c.data))
		require.Equal(t, events.CodeInvalidData, f.Error.Code, c.data)
		require.Equal(t, c.field, f.Error.Field, c.data)
	}
	require.NoError(t, e.router.Err())
}

// On a broker with a small max payload a list stops where the next item would not
// fit, and next carries on from there: every job arrives once.
func TestListJobsFitsOneMessage(t *testing.T) {
	t.Parallel()
	ns := runSmallServer(t, 16<<10)
	e := startOn(t, ns.ClientURL(), router.Config{})
	note := strings.Repeat("n", events.MaxNoteBytes)
	var want []string
	for i := range 40 {
		id := fmt.Sprintf("j%02d", i)
		_, err := e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: id, QueueID: "q", ChannelID: "voice", Notes: note})
		require.NoError(t, err)
		want = append(want, id)
	}
	got, pages := allJobIDs(t, e.client, patchbay.ListJobsOptions{Limit: events.MaxListLimit})
	require.ElementsMatch(t, want, got)
	require.Greater(t, pages, 1)
}

// The explain query answers from the router's state with each worker's reason, and
// the Go client reads it.
func TestExplainQuery(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.ExplainJob(ctx(t), "nope", 0)
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)

	e.register("alice", []string{"support"}, events.Labels{"language": "en"})
	e.register("bob", []string{"support"}, events.Labels{"language": "fr"})
	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "j1", QueueID: "support", ChannelID: "voice",
		WorkerSelectors: []events.WorkerSelector{{Key: "language", Operator: events.OpEqual, Value: "en"}}})
	require.NoError(t, err)
	e.offerFor("alice", "j1")
	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "j2", QueueID: "support", ChannelID: "voice",
		WorkerSelectors: []events.WorkerSelector{{Key: "language", Operator: events.OpEqual, Value: "en"}}})
	require.NoError(t, err)

	x, err := e.client.ExplainJob(ctx(t), "j2", 0)
	require.NoError(t, err)
	require.Equal(t, "queued", x.Status)
	require.Contains(t, x.Summary, "no worker can take it now")
	require.Len(t, x.Workers, 2)
	require.Equal(t, events.ReasonNoCapacity, x.Workers[0].Reason, x.Workers[0].Message)
	require.Equal(t, "j1", x.Workers[0].OutrankedBy)
	require.Equal(t, events.ReasonSelector, x.Workers[1].Reason)
	require.Equal(t, "fr", x.Workers[1].Selector.Actual)

	x, err = e.client.ExplainJob(ctx(t), "j1", 1)
	require.NoError(t, err)
	require.Equal(t, "alice", x.Chosen[0].WorkerID)
	require.Equal(t, events.ReasonOffered, x.Workers[0].Reason)
	require.Equal(t, 1, x.MoreWorkers)

	ev := e.queryRaw(events.TypeQueryExplain, `{"jobId":"j2","limit":1}`)
	require.Equal(t, string(events.TypeQueryResult), ev.Type())
	for _, c := range []struct{ data, field string }{
		{`{"jobId":"j2","limit":0}`, "limit"},
		{`{"jobId":"j2","limit":1001}`, "limit"},
		{`{"jobId":"a b"}`, "jobId"},
		{`{}`, "jobId"},
	} {
		f := failureOf(t, e.queryRaw(events.TypeQueryExplain, c.data))
		require.Equal(t, events.CodeInvalidData, f.Error.Code, c.data)
		require.Equal(t, c.field, f.Error.Field, c.data)
	}
}

// allJobIDs follows the job list's pages to the end: the ids in order, and the pages.
func allJobIDs(t *testing.T, c *patchbay.Client, opts patchbay.ListJobsOptions) (ids []string, pages int) {
	t.Helper()
	for {
		l, err := c.ListJobs(ctx(t), opts)
		require.NoError(t, err)
		pages++
		for _, j := range l.Jobs {
			ids = append(ids, j.Job.JobID)
		}
		if l.Next == "" {
			return ids, pages
		}
		opts.After = l.Next
	}
}
