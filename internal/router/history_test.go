package router_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/matcher"
	"github.com/patchbay/patchbay/schemas"
)

// queryHistory sends io.patchbay.query.history with raw data and returns the reply,
// checked against its schema.
func (e *env) queryHistory(data string) events.Event {
	e.t.Helper()
	body := fmt.Sprintf(`{"specversion":"1.0","id":"h-%d","source":"/test","type":"%s","data":%s}`,
		time.Now().UnixNano(), events.TypeQueryHistory, data)
	ev := e.request(events.QuerySubject(events.TypeQueryHistory), nil, []byte(body))
	require.NoError(e.t, schemas.ValidateData(events.Type(ev.Type()), ev.Data()), "%s: %s", ev.Type(), ev.Data())
	return ev
}

// The history query answers a job's whole life from the events stream, in the order
// it was published, each offer with its worker and outcome, and still answers once
// the router has forgotten the job (retention).
func TestHistoryQuery(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{Engine: matcher.Config{Retention: time.Second}})
	live := make(chan *nats.Msg, 100)
	sub, err := e.nc.ChanSubscribe(events.JobAll("j1"), live)
	require.NoError(t, err)
	require.NoError(t, e.nc.Flush())

	e.register("alice", []string{"q"}, nil)
	e.createJob("j1", "q")
	first := e.offerFor("alice", "j1")
	require.NoError(t, e.client.Decline(ctx(t), first, nil))
	e.register("bob", []string{"q"}, nil)
	second := e.offerFor("bob", "j1")
	var aid string
	aid, err = e.client.Accept(ctx(t), second)
	require.NoError(t, err)
	require.NoError(t, e.client.Complete(ctx(t), "j1", aid, ""))
	require.NoError(t, e.client.Close(ctx(t), "j1", aid, patchbayClose("Resolved")))
	e.jobEvent(events.TypeJobClosed, "j1")
	require.NoError(t, e.nc.Flush())
	require.NoError(t, sub.Unsubscribe())

	// What was published about j1, in order, as a live subscription saw it.
	var want []string
	for len(live) > 0 {
		m := <-live
		ev, err := events.Decode(m.Header, m.Data)
		require.NoError(t, err)
		want = append(want, events.Type(ev.Type()).Name()+" "+ev.ID())
	}
	require.GreaterOrEqual(t, len(want), 9)
	names := func(h *patchbay.JobHistory) []string {
		var out []string
		for _, ev := range h.Events {
			out = append(out, events.Type(ev.Type()).Name()+" "+ev.ID())
		}
		return out
	}

	for _, ask := range []struct {
		name string
		get  func() (*patchbay.JobHistory, error)
	}{
		{"stream", func() (*patchbay.JobHistory, error) { return e.client.JobHistory(ctx(t), "j1", 0) }},
		{"query", func() (*patchbay.JobHistory, error) { return e.client.QueryJobHistory(ctx(t), "j1", 0) }},
	} {
		h, err := ask.get()
		require.NoError(t, err, ask.name)
		require.False(t, h.Truncated, ask.name)
		require.Equal(t, want, names(h), "%s: every event of the job, in order", ask.name)
		var types []events.Type
		var offers []string
		for _, ev := range h.Events {
			types = append(types, events.Type(ev.Type()))
			if o := (events.Offer{}); ev.DataAs(&o) == nil && o.OfferID != "" && o.JobID == "j1" && ev.Type() != string(events.TypeJobQueued) {
				offers = append(offers, events.Type(ev.Type()).Name()+" "+o.WorkerID)
			}
		}
		require.Equal(t, events.TypeJobReceived, types[0], ask.name)
		require.Equal(t, events.TypeJobClosed, types[len(types)-1], ask.name)
		require.Equal(t, []string{"offer.issued alice", "offer.declined alice", "offer.issued bob", "offer.accepted bob"}, offers, ask.name)
	}

	// The raw answer, and its limit.
	ev := e.queryHistory(`{"jobId":"j1","limit":2}`)
	require.Equal(t, string(events.TypeQueryResult), ev.Type(), "%s", ev.Data())
	var raw events.JobHistory
	require.NoError(t, ev.DataAs(&raw))
	require.Len(t, raw.Events, 2)
	require.True(t, raw.Truncated)
	h, err := e.client.JobHistory(ctx(t), "j1", 2)
	require.NoError(t, err)
	require.True(t, h.Truncated)
	require.Equal(t, want[:2], names(h))

	// Refusals name the field; an unknown job has an empty history.
	f := failureOf(t, e.queryHistory(`{"jobId":"j1","limit":10001}`))
	require.Equal(t, events.CodeInvalidData, f.Error.Code)
	require.Equal(t, "limit", f.Error.Field)
	f = failureOf(t, e.queryHistory(`{"jobId":"j1.>"}`))
	require.Equal(t, "jobId", f.Error.Field)
	_, err = e.client.JobHistory(ctx(t), "j1", -1)
	require.ErrorIs(t, err, events.ErrInvalidData)
	h, err = e.client.QueryJobHistory(ctx(t), "nobody", 0)
	require.NoError(t, err)
	require.Empty(t, h.Events)
	require.False(t, h.Truncated)

	// Once the router forgot j1, its history is still there.
	require.Eventually(t, func() bool {
		_, err := e.client.JobInfo(ctx(t), "j1")
		return err != nil && errors.Is(err, patchbay.ErrUnknownJob)
	}, waitFor, 20*time.Millisecond, "j1 is forgotten after the retention")
	h, err = e.client.QueryJobHistory(ctx(t), "j1", 0)
	require.NoError(t, err)
	require.Equal(t, want, names(h))
	b, err := json.Marshal(h.Events[len(h.Events)-1])
	require.NoError(t, err)
	require.Contains(t, string(b), `"dispositionCode":"Resolved"`)
}

// On a broker with a small max payload the answer holds the oldest events that fit
// and says it was cut.
func TestHistoryQueryIsTruncatedToFitOneMessage(t *testing.T) {
	t.Parallel()
	ns := runSmallServer(t, 16<<10)
	e := startOn(t, ns.ClientURL(), router.Config{})
	notes := strings.Repeat("n", events.MaxNoteBytes)
	_, err := e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "big", QueueID: "q", ChannelID: "voice", Notes: notes})
	require.NoError(t, err)
	e.jobEvent(events.TypeJobQueued, "big")
	for i := range 12 {
		e.register(fmt.Sprintf("w%02d", i), []string{"q"}, nil)
		o := e.offerFor(fmt.Sprintf("w%02d", i), "big")
		require.NoError(t, e.client.Decline(ctx(t), o, nil))
		e.next(events.TypeOfferDeclined, func(s seen) bool { return s.offer().OfferID == o.OfferID })
	}
	all, err := e.client.JobHistory(ctx(t), "big", 0)
	require.NoError(t, err)
	require.False(t, all.Truncated)
	ev := e.queryHistory(`{"jobId":"big"}`)
	require.Equal(t, string(events.TypeQueryResult), ev.Type(), "%s", ev.Data())
	var raw events.JobHistory
	require.NoError(t, ev.DataAs(&raw))
	require.True(t, raw.Truncated)
	require.NotEmpty(t, raw.Events)
	require.Less(t, len(raw.Events), len(all.Events))
	for i, r := range raw.Events {
		var got events.Event
		require.NoError(t, json.Unmarshal(r, &got))
		require.Equal(t, all.Events[i].ID(), got.ID(), "the oldest first")
	}
}
