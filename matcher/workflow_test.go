package matcher

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

const salesWorkflow = `{
  "filters": [
    {"name": "Sales", "expression": "type == 'Sales'", "targets": [
      {"queue": "sales-gold", "expression": "task.subSection = worker.specializedSubField", "priority": 10, "timeoutSeconds": 30},
      {"queue": "sales-all"}
    ]},
    {"name": "VIP", "expression": "vip == true", "targets": [
      {"queue": "vip", "knownWorker": "task.preferredAgent", "timeoutSeconds": 20},
      {"queue": "vip-team", "skipIf": "workers.available == 0"},
      {"queue": "general"}
    ]}
  ],
  "defaultFilter": {"queue": "general"}
}`

func wfJob(id string, labels events.Labels) *events.JobCreated {
	return &events.JobCreated{JobID: id, WorkflowID: "wf", ChannelID: "voice", Labels: labels}
}

// TaskRouter workflows: the first matching filter's targets in order, a target
// expression relating task and worker, a priority override, a timeout measured from
// the job's creation that moves the job to the next target, and a default filter.
func TestWorkflowFiltersTargetsAndTimeout(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindWorkflow, "wf", nil, salesWorkflow))
	requireOK(t, h.register("boats", wQueues("sales-gold"), wLabels(events.Labels{"specializedSubField": "boats"})))

	requireOK(t, h.do(events.TypeJobCreated, wfJob("j1", events.Labels{"type": "Sales", "subSection": "cars"})))
	j := h.job("j1")
	require.Equal(t, "sales-gold", j.QueueID)
	require.Equal(t, 10, j.Priority, "the target's priority")
	require.Equal(t, &events.WorkflowPosition{WorkflowID: "wf", Filter: "Sales", FilterIndex: 0, Target: 0,
		TargetExpiresAt: timePtr(t0.Add(30 * time.Second))}, j.Workflow)
	require.Empty(t, h.outstanding("j1"), "the boats specialist does not match a cars job")

	h.advance(5 * time.Second) // the offer then expires after the target's timeout
	out := h.register("cars", wQueues("sales-gold"), wLabels(events.Labels{"specializedSubField": "cars"}))
	require.Equal(t, "cars", out.issued()[0].WorkerID)
	o := out.issued()[0]

	// The target times out 30s after the job was created: the offer is revoked and
	// the job moves on to the next target.
	h2 := h.reload() // the timer survives a restart
	requireSameEngine(t, h.e, h2.e)
	h = h2
	out = h.tick(t0.Add(30 * time.Second))
	require.Equal(t, []events.Type{events.TypeOfferRevoked, events.TypeJobQueued}, out.types())
	require.Equal(t, events.RevokedTargetTimeout, out.Evs[0].Offer.Reason)
	require.Equal(t, o.OfferID, out.Evs[0].Offer.OfferID)
	j = h.job("j1")
	require.Equal(t, "sales-all", j.QueueID)
	require.Equal(t, 1, j.Workflow.Target)
	require.Nil(t, j.Workflow.TargetExpiresAt, "the last target has no timeout")

	// No filter matches: the default filter.
	requireOK(t, h.do(events.TypeJobCreated, wfJob("j2", events.Labels{"type": "Support"})))
	require.Equal(t, "general", h.job("j2").QueueID)
	require.Equal(t, "default", h.job("j2").Workflow.Filter)
}

// A known-worker target offers the job only to the named worker, and is skipped when
// the job does not name one; skipIf skips a target whose queue has no available worker.
func TestWorkflowKnownWorkerAndSkipIf(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindWorkflow, "wf", nil, salesWorkflow))
	requireOK(t, h.register("ann", wQueues("vip")))
	requireOK(t, h.register("bob", wQueues("vip")))
	requireOK(t, h.do(events.TypeJobCreated, wfJob("v1", events.Labels{"vip": true, "preferredAgent": "bob"})))
	require.Equal(t, "bob", h.offeredTo("v1"), "only the known worker, although ann waited longer")

	// No preferred agent: the known-worker target is skipped; vip-team has nobody
	// available, so it is skipped too: general.
	requireOK(t, h.do(events.TypeJobCreated, wfJob("v2", events.Labels{"vip": true})))
	require.Equal(t, "general", h.job("v2").QueueID)
	require.Equal(t, 2, h.job("v2").Workflow.Target)

	requireOK(t, h.register("team", wQueues("vip-team")))
	requireOK(t, h.do(events.TypeJobCreated, wfJob("v3", events.Labels{"vip": true})))
	require.Equal(t, "vip-team", h.job("v3").QueueID)
}

// order_by in a workflow target, with ROUTING.md's seed example: Alice {finance 10,
// support 8}, Bob {finance 10, support 5}, worker.finance ASC, worker.support ASC:
// Bob gets the job, although Alice waited longer.
func TestWorkflowOrderBy(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindWorkflow, "wf", nil, `{"filters":[{"name":"all","expression":"true","targets":[
		{"queue":"finance","orderBy":"worker.finance ASC, worker.support ASC"}]}]}`))
	requireOK(t, h.register("alice", wQueues("finance"), wLabels(events.Labels{"finance": float64(10), "support": float64(8)})))
	h.advance(time.Second)
	requireOK(t, h.register("bob", wQueues("finance"), wLabels(events.Labels{"finance": float64(10), "support": float64(5)})))
	requireOK(t, h.do(events.TypeJobCreated, wfJob("j1", nil)))
	require.Equal(t, "bob", h.offeredTo("j1"))
}

func TestWorkflowValidation(t *testing.T) {
	cases := []struct{ name, spec, field string }{
		{"empty", `{"filters":[]}`, "spec/filters"},
		{"filter without name", `{"filters":[{"expression":"a == 1","targets":[{"queue":"q"}]}]}`, "spec/filters/0/name"},
		{"bad filter expression", `{"filters":[{"name":"f","expression":"a === 1","targets":[{"queue":"q"}]}]}`, "spec/filters/0/expression"},
		{"no targets", `{"filters":[{"name":"f","expression":"a == 1","targets":[]}]}`, "spec/filters/0/targets"},
		{"bad queue", `{"filters":[{"name":"f","expression":"a == 1","targets":[{"queue":"a b"}]}]}`, "spec/filters/0/targets/0/queue"},
		{"bad target expression", `{"filters":[{"name":"f","expression":"a == 1","targets":[{"queue":"q","expression":"(x"}]}]}`, "spec/filters/0/targets/0/expression"},
		{"bad order_by", `{"filters":[{"name":"f","expression":"a == 1","targets":[{"queue":"q","orderBy":"worker.x SIDEWAYS"}]}]}`, "spec/filters/0/targets/0/orderBy"},
		{"bad priority", `{"filters":[{"name":"f","expression":"a == 1","targets":[{"queue":"q","priority":101}]}]}`, "spec/filters/0/targets/0/priority"},
		{"bad skipIf", `{"filters":[{"name":"f","expression":"a == 1","targets":[{"queue":"q","skipIf":"=="}]}]}`, "spec/filters/0/targets/0/skipIf"},
		{"bad default", `{"filters":[],"defaultFilter":{"queue":""}}`, "spec/defaultFilter/queue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			out := h.putPolicy(events.KindWorkflow, "wf", nil, c.spec)
			requireRefused(t, out, events.ErrInvalidData)
			require.Equal(t, c.field, out.Err.Field, out.Err.Message)
		})
	}
	h := newHarness(t, Config{})
	out := h.putPolicy(events.KindWorkflow, "wf", nil, `{"filters":[{"name":"f","expression":"a === 1","targets":[{"queue":"q"}]}]}`)
	require.Contains(t, out.Err.Message, "position 2", "a syntax error names the position")

	// Jobs: an unknown workflow, or both a queue and a workflow, are refused.
	out = h.do(events.TypeJobCreated, &events.JobCreated{JobID: "x", WorkflowID: "nope", ChannelID: "voice"})
	requireRefused(t, out, events.ErrUnknownPolicy)
	require.Equal(t, []events.Type{events.TypeJobRejected}, out.types())
	out = h.do(events.TypeJobCreated, &events.JobCreated{JobID: "y", WorkflowID: "wf", QueueID: "q", ChannelID: "voice"})
	requireRefused(t, out, events.ErrInvalidData)
}
