package matcher

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func listedJobs(l events.JobList) []string {
	out := []string{}
	for _, j := range l.Jobs {
		out = append(out, j.Job.JobID)
	}
	return out
}

// allJobs follows next until the last page and returns every job id listed.
func allJobs(t *testing.T, e *Engine, q events.QueryJobs, now time.Time, maxBytes int) (ids []string, pages int) {
	t.Helper()
	for {
		l, err := e.ListJobs(q, now, maxBytes)
		require.NoError(t, err)
		ids = append(ids, listedJobs(l)...)
		pages++
		if maxBytes > 0 {
			require.LessOrEqual(t, len(jsonString(t, l)), maxBytes)
		}
		if l.Next == "" {
			return ids, pages
		}
		require.NotEmpty(t, l.Jobs, "a page with a next cursor lists something")
		q.After = l.Next
	}
}

func TestListJobsOrderFiltersAndPages(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: time.Minute})
	l, err := h.e.ListJobs(events.QueryJobs{}, h.now, 0)
	require.NoError(t, err)
	require.JSONEq(t, `{"jobs":[]}`, jsonString(t, l), "an empty list, not null, and no next")

	// b and a are created at the same instant (ties go by id), then c, d, e later;
	// c goes to w1 and is assigned.
	requireOK(t, h.create("b", "q1"))
	requireOK(t, h.create("a", "q1"))
	h.advance(time.Second)
	requireOK(t, h.create("c", "q2"))
	h.advance(time.Second)
	requireOK(t, h.create("d", "q1", jPriority(5)))
	requireOK(t, h.create("e", "q2"))
	requireOK(t, h.register("w1", wQueues("q2")))
	h.accept("c", h.offerFor("c").OfferID, "w1")
	require.Equal(t, "assigned", h.job("c").Status)

	ids, pages := allJobs(t, h.e, events.QueryJobs{}, h.now, 0)
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, ids, "oldest created first, ties by id")
	require.Equal(t, 1, pages)

	for _, tt := range []struct {
		q    events.QueryJobs
		want []string
	}{
		{events.QueryJobs{Status: "queued"}, []string{"a", "b", "d", "e"}},
		{events.QueryJobs{Status: "assigned"}, []string{"c"}},
		{events.QueryJobs{Status: "closed"}, nil},
		{events.QueryJobs{QueueID: "q2"}, []string{"c", "e"}},
		{events.QueryJobs{QueueID: "q2", Status: "queued"}, []string{"e"}},
		{events.QueryJobs{WorkerID: "w1"}, []string{"c"}},
		{events.QueryJobs{WorkerID: "nobody"}, nil},
	} {
		got, _ := allJobs(t, h.e, tt.q, h.now, 0)
		require.Equal(t, tt.want, got, "%+v", tt.q)
	}

	// Pages of two: the same jobs, in the same order, in three pages.
	ids, pages = allJobs(t, h.e, events.QueryJobs{Limit: 2}, h.now, 0)
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, ids)
	require.Equal(t, 3, pages)

	// A job is the job query's answer: queued ones with their position.
	l, err = h.e.ListJobs(events.QueryJobs{QueueID: "q1"}, h.now, 0)
	require.NoError(t, err)
	for _, info := range l.Jobs {
		want, err := h.e.JobInfo(info.Job.JobID, h.now)
		require.NoError(t, err)
		require.Equal(t, want, info)
	}
	require.Equal(t, 1, l.Jobs[2].Position, "d has the highest priority")

	// Paging is stable while jobs come and go: a job created after the cursor's
	// place is listed on a later page, one that ended before it is not listed again.
	first, err := h.e.ListJobs(events.QueryJobs{Limit: 2}, h.now, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, listedJobs(first))
	requireOK(t, h.cancel("a"))
	h.advance(time.Second)
	requireOK(t, h.create("f", "q1"))
	ids, _ = allJobs(t, h.e, events.QueryJobs{Limit: 2, After: first.Next}, h.now, 0)
	require.Equal(t, []string{"c", "d", "e", "f"}, ids)
	ids, _ = allJobs(t, h.e, events.QueryJobs{Status: "cancelled"}, h.now, 0)
	require.Equal(t, []string{"a"}, ids, "an ended job is listed while the engine holds it")
}

// An answer stops where the next job would not fit, and next continues from there:
// every job is listed once, and every page fits.
func TestListJobsFitsInMaxBytes(t *testing.T) {
	h := newHarness(t, Config{})
	var want []string
	for i := range 30 {
		id := "job-" + strings.Repeat("x", i)
		want = append(want, id)
		requireOK(t, h.create(id, "q1"))
		h.advance(time.Millisecond)
	}
	ids, pages := allJobs(t, h.e, events.QueryJobs{Limit: 1000}, h.now, 2000)
	require.Equal(t, want, ids)
	require.Greater(t, pages, 3)

	_, err := h.e.ListJobs(events.QueryJobs{}, h.now, 200)
	require.ErrorIs(t, err, events.ErrInternal, "not even one job fits")
}

func TestListQueriesRefuseBadFilters(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.create("a", "q1"))
	requireOK(t, h.register("w1"))
	jobs, err := h.e.ListJobs(events.QueryJobs{Limit: 1}, h.now, 0)
	require.NoError(t, err)
	require.Empty(t, jobs.Next)
	workers, err := h.e.ListWorkers(events.QueryWorkers{}, 0)
	require.NoError(t, err)
	require.Empty(t, workers.Next)
	garbage := base64.RawURLEncoding.EncodeToString([]byte("j/notanumber/a"))
	workerCursor := encodeCursor(cursorWorkers, listKey{ids: []string{"w1"}})

	for _, tt := range []struct {
		name  string
		err   error
		field string
	}{
		{"status", listJobsErr(h, events.QueryJobs{Status: "offered"}), "status"},
		{"queue", listJobsErr(h, events.QueryJobs{QueueID: "a b"}), "queueId"},
		{"worker", listJobsErr(h, events.QueryJobs{WorkerID: "-w"}), "workerId"},
		{"limit 0 is the default, -1 is not", listJobsErr(h, events.QueryJobs{Limit: -1}), "limit"},
		{"limit over the max", listJobsErr(h, events.QueryJobs{Limit: events.MaxListLimit + 1}), "limit"},
		{"cursor not base64", listJobsErr(h, events.QueryJobs{After: "***"}), "after"},
		{"cursor of another list", listJobsErr(h, events.QueryJobs{After: workerCursor}), "after"},
		{"cursor with a bad time", listJobsErr(h, events.QueryJobs{After: garbage}), "after"},
		{"cursor too long", listJobsErr(h, events.QueryJobs{After: strings.Repeat("A", events.MaxCursorBytes+1)}), "after"},
		{"activity", func() error { _, err := h.e.ListWorkers(events.QueryWorkers{Activity: "lunch"}, 0); return err }(), "activity"},
		{"worker queue", func() error { _, err := h.e.ListWorkers(events.QueryWorkers{QueueID: "q.1"}, 0); return err }(), "queueId"},
		{"queues limit", func() error { _, err := h.e.ListQueues(events.QueryQueues{Limit: 1001}, h.now, 0); return err }(), "limit"},
		{"policy kind", func() error { _, err := h.e.ListPolicies(events.QueryPolicies{Kind: "queues"}, 0); return err }(), "kind"},
		{"policy get kind", func() error { _, err := h.e.PolicyInfo("queues", "support"); return err }(), "kind"},
		{"policy get id", func() error { _, err := h.e.PolicyInfo(events.KindQueue, ""); return err }(), "id"},
	} {
		var pe *events.Error
		require.ErrorAs(t, tt.err, &pe, tt.name)
		require.Equal(t, events.CodeInvalidData, pe.Code, tt.name)
		require.Equal(t, tt.field, pe.Field, tt.name)
		require.NotEmpty(t, pe.Message, tt.name)
	}
}

func listJobsErr(h *harness, q events.QueryJobs) error {
	_, err := h.e.ListJobs(q, h.now, 0)
	return err
}

func TestListWorkers(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: time.Minute})
	requireOK(t, h.putPolicy(events.KindActivity, "lunch", nil, `{"available":false}`))
	requireOK(t, h.register("w2", wQueues("q1", "q2"), wCapacity(10, ch("voice", 2, 0), ch("chat", 1, 3))))
	requireOK(t, h.register("w1", wQueues("q1")))
	requireOK(t, h.register("w3", wQueues("q2")))
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "w3", Activity: "lunch"}))
	// w2 gets an offer on voice (j1) and holds a chat job (j2).
	requireOK(t, h.create("j1", "q2"))
	requireOK(t, h.create("j2", "q2", jChannel("chat")))
	h.accept("j2", h.offerFor("j2").OfferID, "w2")

	ids := func(l events.WorkerList) []string {
		out := []string{}
		for _, w := range l.Workers {
			out = append(out, w.Worker.WorkerID)
		}
		return out
	}
	l, err := h.e.ListWorkers(events.QueryWorkers{}, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"w1", "w2", "w3"}, ids(l))
	w2 := l.Workers[1]
	require.Equal(t, 1, w2.OutstandingOffers)
	require.Equal(t, 1, w2.AssignedJobs)
	require.Nil(t, w2.Worker.OfferIDs, "counted, not listed")
	require.Equal(t, []events.ChannelLoad{
		{ChannelID: "voice", Offers: 1, UsedCapacity: 2},
		{ChannelID: "chat", Jobs: 1, UsedCapacity: 1},
	}, w2.Channels)
	require.Equal(t, 3, w2.Worker.UsedCapacity)
	require.Equal(t, "active", w2.Worker.State)

	for _, tt := range []struct {
		q    events.QueryWorkers
		want []string
	}{
		{events.QueryWorkers{QueueID: "q2"}, []string{"w2", "w3"}},
		{events.QueryWorkers{Activity: "lunch"}, []string{"w3"}},
		{events.QueryWorkers{Activity: "available", QueueID: "q2"}, []string{"w2"}},
		{events.QueryWorkers{QueueID: "q9"}, []string{}},
	} {
		l, err := h.e.ListWorkers(tt.q, 0)
		require.NoError(t, err)
		require.Equal(t, tt.want, ids(l), "%+v", tt.q)
	}
	l, err = h.e.ListWorkers(events.QueryWorkers{Limit: 2}, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"w1", "w2"}, ids(l))
	l, err = h.e.ListWorkers(events.QueryWorkers{Limit: 2, After: l.Next}, 0)
	require.NoError(t, err)
	require.Equal(t, []string{"w3"}, ids(l))
	require.Empty(t, l.Next)
}

func TestListQueuesAndPolicies(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "rr", nil, `{"mode":{"kind":"roundRobin"}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "billing", nil, `{"distributionPolicyId":"rr"}`))
	requireOK(t, h.putPolicy(events.KindQueue, "zz", nil, `{}`))
	requireOK(t, h.deletePolicy(events.KindQueue, "zz", nil))
	requireOK(t, h.create("j1", "support"))
	requireOK(t, h.register("w1", wQueues("sales")))

	var queues []string
	q := events.QueryQueues{Limit: 1}
	for {
		l, err := h.e.ListQueues(q, h.now, 0)
		require.NoError(t, err)
		for _, info := range l.Queues {
			queues = append(queues, info.QueueID)
			require.Equal(t, h.e.QueueInfo(info.QueueID, h.now), info)
		}
		if l.Next == "" {
			break
		}
		q.After = l.Next
	}
	require.Equal(t, []string{"billing", "sales", "support"}, queues, "a queue with a policy, a worker or a job; not a deleted one")

	l, err := h.e.ListPolicies(events.QueryPolicies{}, 0)
	require.NoError(t, err)
	require.Len(t, l.Policies, 2)
	require.Equal(t, events.KindDistributionPolicy, l.Policies[0].Kind, "by kind, then id")
	require.Equal(t, "billing", l.Policies[1].ID)
	require.Equal(t, uint64(1), l.Policies[1].Revision)
	require.JSONEq(t, `{"distributionPolicyId":"rr"}`, string(l.Policies[1].Spec))
	l, err = h.e.ListPolicies(events.QueryPolicies{Kind: events.KindQueue}, 0)
	require.NoError(t, err)
	require.Len(t, l.Policies, 1)
	l, err = h.e.ListPolicies(events.QueryPolicies{Limit: 1}, 0)
	require.NoError(t, err)
	require.Equal(t, "rr", l.Policies[0].ID)
	l, err = h.e.ListPolicies(events.QueryPolicies{Limit: 1, After: l.Next}, 0)
	require.NoError(t, err)
	require.Equal(t, "billing", l.Policies[0].ID)
	require.Empty(t, l.Next)

	p, err := h.e.PolicyInfo(events.KindQueue, "billing")
	require.NoError(t, err)
	require.Equal(t, l.Policies[0], p)
	_, err = h.e.PolicyInfo(events.KindQueue, "zz")
	require.ErrorIs(t, err, events.ErrUnknownPolicy, "deleted")
	_, err = h.e.PolicyInfo(events.KindWorkflow, "billing")
	require.ErrorIs(t, err, events.ErrUnknownPolicy)
}
