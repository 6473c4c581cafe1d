package matcher

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

const triage = `{
  "queueSelectorAttachments": [
    {"kind": "conditional", "condition": "vip == true", "queueId": "vip"},
    {"kind": "passThrough", "key": "department"}
  ],
  "fallbackQueueId": "general",
  "prioritizationRules": [
    {"kind": "conditional", "condition": "vip == true", "priority": 50},
    {"kind": "static", "priority": 1}
  ],
  "workerSelectorAttachments": [
    {"kind": "passThrough", "key": "language", "labelOperator": "equal"},
    {"kind": "conditional", "condition": "vip == true", "selectors": [{"key": "tier", "labelOperator": "equal", "value": "gold"}]}
  ]
}`

func clsJob(id string, labels events.Labels) *events.JobCreated {
	return &events.JobCreated{JobID: id, ClassificationPolicyID: "triage", ChannelID: "voice", Labels: labels}
}

// A classification policy picks the queue (conditional, pass-through, fallback), the
// priority and extra worker selectors from the job's labels.
func TestClassification(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindClassificationPolicy, "triage", nil, triage))

	out := h.do(events.TypeJobCreated, clsJob("v", events.Labels{"vip": true, "language": "fr", "department": "billing"}))
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobReceived, events.TypeJobClassified, events.TypeJobQueued}, out.types())
	j := h.job("v")
	require.Equal(t, "vip", j.QueueID)
	require.Equal(t, 50, j.Priority)
	require.Equal(t, "triage", j.ClassificationPolicyID)
	require.Equal(t, []events.WorkerSelector{
		{Key: "language", Operator: "equal", Value: "fr"},
		{Key: "tier", Operator: "equal", Value: "gold"},
	}, j.WorkerSelectors)

	requireOK(t, h.do(events.TypeJobCreated, clsJob("b", events.Labels{"department": "billing"})))
	require.Equal(t, "billing", h.job("b").QueueID, "passed through from the label")
	require.Equal(t, 1, h.job("b").Priority)
	requireOK(t, h.do(events.TypeJobCreated, clsJob("g", events.Labels{"department": "not an id"})))
	require.Equal(t, "general", h.job("g").QueueID, "the fallback queue")
}

// Without a fallback, a job no attachment places fails classification: an event with
// the reasons, and no job.
func TestClassificationFailed(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindClassificationPolicy, "triage", nil,
		`{"queueSelectorAttachments":[{"kind":"conditional","condition":"vip == true","queueId":"vip"},{"kind":"passThrough","key":"department"}]}`))
	out := h.do(events.TypeJobCreated, clsJob("x", events.Labels{"vip": false}))
	requireRefused(t, out, events.ErrInvalidData)
	require.Equal(t, []events.Type{events.TypeJobClassificationFailed}, out.types())
	reason := out.Evs[0].Job.Reason.Message
	require.Contains(t, reason, `condition "vip == true" does not hold`)
	require.Contains(t, reason, `label "department" is missing`)
	_, ok := h.e.Job("x")
	require.False(t, ok)
}

// Weighted allocation splits jobs by weight, and the same job always gets the same
// queue (the draw comes from its id, so a replay decides the same).
func TestClassificationWeightedAllocation(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindClassificationPolicy, "split", nil,
		`{"queueSelectorAttachments":[{"kind":"weightedAllocation","allocations":[{"weight":3,"queueId":"a"},{"weight":1,"queueId":"b"}]}]}`))
	n := map[string]int{}
	for i := range 400 {
		id := fmt.Sprintf("j%d", i)
		requireOK(t, h.do(events.TypeJobCreated, &events.JobCreated{JobID: id, ClassificationPolicyID: "split", ChannelID: "voice"}))
		n[h.job(id).QueueID]++
	}
	require.InDelta(t, 300, n["a"], 45, "about three quarters to a: %v", n)
	require.Equal(t, 400, n["a"]+n["b"])
	w := func(i int) float64 { return []float64{3, 1}[i] }
	require.Equal(t, draw("j7", "q0", 2, w), draw("j7", "q0", 2, w))
}

// The reclassify exception action classifies a waiting job again, with labels upserted.
func TestExceptionReclassify(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindClassificationPolicy, "triage", nil, triage))
	requireOK(t, h.putPolicy(events.KindExceptionPolicy, "ex", nil, `{"rules":[{"id":"escalate","trigger":{"kind":"waitTime","thresholdSeconds":60},
		"actions":[{"kind":"reclassify","classificationPolicyId":"triage","labelsToUpsert":{"vip":true}}]}]}`))
	requireOK(t, h.putPolicy(events.KindQueue, "billing", nil, `{"exceptionPolicyId":"ex"}`))
	requireOK(t, h.do(events.TypeJobCreated, clsJob("b", events.Labels{"department": "billing", "language": "en"})))
	require.Equal(t, "billing", h.job("b").QueueID)
	out := h.tick(t0.Add(60 * time.Second))
	require.Equal(t, []events.Type{events.TypeJobExceptionTriggered, events.TypeJobClassified, events.TypeJobQueued}, out.types())
	j := h.job("b")
	require.Equal(t, "vip", j.QueueID)
	require.Equal(t, 50, j.Priority)
	require.Equal(t, true, j.Labels["vip"])
}

func TestClassificationValidation(t *testing.T) {
	cases := []struct{ name, spec, field string }{
		{"nothing", `{}`, "spec/queueSelectorAttachments"},
		{"bad kind", `{"queueSelectorAttachments":[{"kind":"magic"}]}`, "spec/queueSelectorAttachments/0/kind"},
		{"bad condition", `{"queueSelectorAttachments":[{"kind":"conditional","condition":"a ==","queueId":"q"}]}`, "spec/queueSelectorAttachments/0/condition"},
		{"zero weight", `{"queueSelectorAttachments":[{"kind":"weightedAllocation","allocations":[{"weight":0,"queueId":"q"}]}]}`, "spec/queueSelectorAttachments/0/allocations/0/weight"},
		{"bad priority", `{"fallbackQueueId":"q","prioritizationRules":[{"kind":"static","priority":500}]}`, "spec/prioritizationRules/0/priority"},
		{"bad pass-through op", `{"fallbackQueueId":"q","workerSelectorAttachments":[{"kind":"passThrough","key":"a","labelOperator":"like"}]}`, "spec/workerSelectorAttachments/0/labelOperator"},
		{"bad selector", `{"fallbackQueueId":"q","workerSelectorAttachments":[{"kind":"static","selectors":[{"key":"a","labelOperator":"nope","value":1}]}]}`, "spec/workerSelectorAttachments/0/selectors/0/labelOperator"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			out := h.putPolicy(events.KindClassificationPolicy, "c", nil, c.spec)
			requireRefused(t, out, events.ErrInvalidData)
			require.Equal(t, c.field, out.Err.Field, out.Err.Message)
		})
	}
}

// A job.update with reclassify classifies a queued job again on request (Azure's
// reclassify): its labels upserted, by the policy that classified it or another; a
// refusal changes nothing.
func TestUpdateReclassify(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindClassificationPolicy, "triage", nil, triage))
	requireOK(t, h.putPolicy(events.KindClassificationPolicy, "strict", nil, `{"queueSelectorAttachments":[{"kind":"conditional","condition":"vip == true","queueId":"vip"}]}`))
	requireOK(t, h.do(events.TypeJobCreated, clsJob("b", events.Labels{"department": "billing", "language": "en"})))
	requireOK(t, h.create("plain", "general"))
	require.Equal(t, "billing", h.job("b").QueueID)
	update := func(id string, r events.Reclassify) outcome {
		return h.do(events.TypeJobUpdate, &events.JobUpdate{JobID: id, Reclassify: &r})
	}

	// The policy that classified it, with vip upserted: to the vip queue at 50.
	out := update("b", events.Reclassify{LabelsToUpsert: events.Labels{"vip": true}})
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobClassified, events.TypeJobQueued}, out.types())
	j := h.job("b")
	require.Equal(t, "vip", j.QueueID)
	require.Equal(t, 50, j.Priority)
	require.Equal(t, true, j.Labels["vip"])

	// Refusals change nothing: a classification that finds no queue, a job never
	// classified without a policy named, an unknown policy, a job not queued, both
	// or neither of matchingMode and reclassify.
	requireRefused(t, update("plain", events.Reclassify{ClassificationPolicyID: "strict"}), events.ErrInvalidData)
	require.Equal(t, "general", h.job("plain").QueueID)
	requireRefused(t, update("plain", events.Reclassify{}), events.ErrInvalidData)
	requireRefused(t, update("plain", events.Reclassify{ClassificationPolicyID: "nope"}), events.ErrUnknownPolicy)
	requireRefused(t, h.do(events.TypeJobUpdate, &events.JobUpdate{JobID: "plain"}), events.ErrInvalidData)
	requireRefused(t, h.do(events.TypeJobUpdate, &events.JobUpdate{JobID: "plain", Reclassify: &events.Reclassify{ClassificationPolicyID: "triage"},
		MatchingMode: &events.MatchingMode{Kind: events.MatchSuspend}}), events.ErrInvalidData)
	requireOK(t, h.do(events.TypeJobUpdate, &events.JobUpdate{JobID: "plain", MatchingMode: &events.MatchingMode{Kind: events.MatchSuspend}}))
	requireRefused(t, update("plain", events.Reclassify{ClassificationPolicyID: "triage"}), events.ErrInvalidTransition)

	// Merged labels over a job's limits: refused, the job as it was.
	full := events.Labels{"department": "billing"}
	for i := len(full); i < events.MaxLabels; i++ {
		full[fmt.Sprintf("k%d", i)] = i
	}
	requireOK(t, h.do(events.TypeJobCreated, clsJob("full", full)))
	requireRefused(t, update("full", events.Reclassify{LabelsToUpsert: events.Labels{"one": "more"}}), events.ErrInvalidData)
	require.Len(t, h.job("full").Labels, events.MaxLabels)

	// Another policy, on a job created in a queue: classified by it from now on.
	requireOK(t, h.create("later", "general"))
	requireOK(t, update("later", events.Reclassify{ClassificationPolicyID: "strict", LabelsToUpsert: events.Labels{"vip": true}}))
	require.Equal(t, "vip", h.job("later").QueueID)
	require.Equal(t, "strict", h.job("later").ClassificationPolicyID)
}

// An exception's reclassify whose labelsToUpsert would take the job's labels over
// their limits leaves the job as it is and says why (classificationFailed).
func TestExceptionReclassifyKeepsLabelLimits(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindClassificationPolicy, "triage", nil, triage))
	requireOK(t, h.putPolicy(events.KindExceptionPolicy, "ex", nil, `{"rules":[{"id":"escalate","trigger":{"kind":"waitTime","thresholdSeconds":60},
		"actions":[{"kind":"reclassify","classificationPolicyId":"triage","labelsToUpsert":{"vip":true}}]}]}`))
	requireOK(t, h.putPolicy(events.KindQueue, "billing", nil, `{"exceptionPolicyId":"ex"}`))
	full := events.Labels{"department": "billing"}
	for i := len(full); i < events.MaxLabels; i++ {
		full[fmt.Sprintf("k%d", i)] = i
	}
	requireOK(t, h.do(events.TypeJobCreated, clsJob("b", full)))
	out := h.tick(t0.Add(60 * time.Second))
	require.Equal(t, []events.Type{events.TypeJobExceptionTriggered, events.TypeJobClassificationFailed}, out.types())
	failed := out.ofType(events.TypeJobClassificationFailed)[0].Job
	require.Equal(t, events.CodeInvalidData, failed.Reason.Code)
	j := h.job("b")
	require.Equal(t, "billing", j.QueueID)
	require.Len(t, j.Labels, events.MaxLabels)
	require.NotContains(t, j.Labels, "vip")
}
