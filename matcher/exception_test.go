package matcher

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// A queue-length rule fires for a job that joins a queue holding more than its
// threshold; manualReclassify moves it (and it is offered there).
func TestExceptionQueueLengthReclassifies(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindExceptionPolicy, "ex", nil, `{"rules":[{"id":"long","trigger":{"kind":"queueLength","threshold":2},
		"actions":[{"kind":"manualReclassify","queueId":"overflow","priority":5}]}]}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"exceptionPolicyId":"ex"}`))
	requireOK(t, h.register("spare", wQueues("overflow")))
	// The documented threshold: the rule fires when the queue, counting the joining
	// job, holds more than 2 jobs: not for the first two, for the third.
	for _, id := range []string{"j1", "j2"} {
		out := h.create(id, "q1")
		requireOK(t, out)
		require.Empty(t, out.ofType(events.TypeJobExceptionTriggered), id)
	}
	out := h.create("j3", "q1")
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypeJobReceived, events.TypeJobQueued, events.TypeJobExceptionTriggered,
		events.TypeJobQueued, events.TypeOfferIssued}, out.types())
	ex := out.ofType(events.TypeJobExceptionTriggered)[0].Job.Exception
	require.Equal(t, &events.ExceptionFired{PolicyID: "ex", RuleID: "long", Trigger: events.TriggerQueueLength}, ex)
	j := h.job("j3")
	require.Equal(t, "overflow", j.QueueID)
	require.Equal(t, 5, j.Priority)
	require.Equal(t, "spare", h.offeredTo("j3"))
	require.Equal(t, []string{"j1", "j2"}, h.e.QueueJobIDs("q1"))
}

// A wait-time rule fires when the job has waited its threshold (a timer that survives
// a restart) and cancels it; each rule fires once per job.
func TestExceptionWaitTimeCancels(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindExceptionPolicy, "ex", nil, `{"rules":[
		{"id":"nudge","trigger":{"kind":"waitTime","thresholdSeconds":30},"actions":[{"kind":"manualReclassify","priority":50}]},
		{"id":"giveup","trigger":{"kind":"waitTime","thresholdSeconds":60},"actions":[{"kind":"cancel","dispositionCode":"TooLong","note":"nobody came"}]}]}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"exceptionPolicyId":"ex"}`))
	requireOK(t, h.create("j1", "q1"))
	require.Nil(t, h.tick(t0.Add(29*time.Second)).Result)

	out := h.tick(t0.Add(30 * time.Second))
	require.Equal(t, []events.Type{events.TypeJobExceptionTriggered, events.TypeJobQueued}, out.types())
	require.Equal(t, 50, h.job("j1").Priority)
	require.Nil(t, h.tick(t0.Add(45*time.Second)).Result, "a rule fires once per job")

	h2 := h.reload()
	requireSameEngine(t, h.e, h2.e)
	out = h2.tick(t0.Add(60 * time.Second))
	require.Equal(t, []events.Type{events.TypeJobExceptionTriggered, events.TypeJobCancelled}, out.types())
	c := out.ofType(events.TypeJobCancelled)[0].Job
	require.Equal(t, "TooLong", c.DispositionCode)
	require.Equal(t, "nobody came", c.CancelNote)
	require.Equal(t, []string{"ex/nudge", "ex/giveup"}, h2.e.jobs["j1"].ExceptionsFired)
}

func TestExceptionPolicyValidation(t *testing.T) {
	cases := []struct{ name, spec, field string }{
		{"no rules", `{"rules":[]}`, "spec/rules"},
		{"bad trigger", `{"rules":[{"id":"r","trigger":{"kind":"moonPhase"},"actions":[{"kind":"cancel"}]}]}`, "spec/rules/0/trigger/kind"},
		{"no wait", `{"rules":[{"id":"r","trigger":{"kind":"waitTime"},"actions":[{"kind":"cancel"}]}]}`, "spec/rules/0/trigger/thresholdSeconds"},
		{"no actions", `{"rules":[{"id":"r","trigger":{"kind":"queueLength","threshold":1},"actions":[]}]}`, "spec/rules/0/actions"},
		{"reclassify without policy", `{"rules":[{"id":"r","trigger":{"kind":"queueLength","threshold":1},"actions":[{"kind":"reclassify"}]}]}`, "spec/rules/0/actions/0/classificationPolicyId"},
		{"empty manual", `{"rules":[{"id":"r","trigger":{"kind":"queueLength","threshold":1},"actions":[{"kind":"manualReclassify"}]}]}`, "spec/rules/0/actions/0"},
		{"twice", `{"rules":[{"id":"r","trigger":{"kind":"queueLength"},"actions":[{"kind":"cancel"}]},{"id":"r","trigger":{"kind":"queueLength"},"actions":[{"kind":"cancel"}]}]}`, "spec/rules/1/id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			out := h.putPolicy(events.KindExceptionPolicy, "ex", nil, c.spec)
			requireRefused(t, out, events.ErrInvalidData)
			require.Equal(t, c.field, out.Err.Field, out.Err.Message)
		})
	}
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindExceptionPolicy, "ex", nil, `{"rules":[{"id":"r","trigger":{"kind":"queueLength"},"actions":[{"kind":"cancel"}]}]}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"exceptionPolicyId":"ex"}`))
	requireRefused(t, h.deletePolicy(events.KindExceptionPolicy, "ex", nil), events.ErrPolicyInUse)
}
