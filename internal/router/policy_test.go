package router_test

import (
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// Policies over the wire: put with revisions, the distribution policy's effect on
// offers (expiry, concurrent offers, first accept wins), delete refused while in use,
// and everything still there after a restart.
func TestPoliciesOnTheWire(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	res, err := e.client.PutPolicy(ctx(t), events.KindDistributionPolicy, "pair", patchbay.DistributionPolicySpec{
		OfferExpiresAfterSeconds: 20,
		Mode:                     patchbay.DistributionMode{Kind: events.ModeLongestIdle, MinConcurrentOffers: 2, MaxConcurrentOffers: 2},
	}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(1), res.Revision)
	e.next(events.TypePolicyUpdated, nil)
	_, err = e.client.PutPolicy(ctx(t), events.KindQueue, "sales", patchbay.QueueSpec{DistributionPolicyID: "pair"}, nil)
	require.NoError(t, err)

	zero := uint64(0)
	_, err = e.client.PutPolicy(ctx(t), events.KindQueue, "sales", patchbay.QueueSpec{Order: "lifo"}, &zero)
	require.ErrorIs(t, err, patchbay.ErrRevisionMismatch)
	_, err = e.client.PutPolicy(ctx(t), events.KindQueue, "bad", map[string]any{"order": "random"}, nil)
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	var pe *patchbay.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "spec/order", pe.Field)

	e.register("alice", []string{"sales"}, nil)
	e.createJob("j1", "sales")
	e.register("bob", []string{"sales"}, nil)
	a := e.offerFor("alice", "j1")
	b := e.offerFor("bob", "j1")
	require.Equal(t, 20*time.Second, a.ExpiresAt.Sub(a.IssuedAt))
	_, err = e.client.Accept(ctx(t), b)
	require.NoError(t, err)
	_, err = e.client.Accept(ctx(t), a)
	require.ErrorIs(t, err, patchbay.ErrAlreadyAssigned)

	_, err = e.client.DeletePolicy(ctx(t), events.KindDistributionPolicy, "pair", nil)
	require.ErrorIs(t, err, patchbay.ErrPolicyInUse)
	del, err := e.client.DeletePolicy(ctx(t), events.KindQueue, "sales", nil)
	require.NoError(t, err)
	require.Equal(t, uint64(2), del.Revision)
	deleted := e.next(events.TypePolicyDeleted, nil)
	require.Contains(t, deleted.Subject, "patchbay.events.policy.queue.sales.deleted")
	_, err = e.client.DeletePolicy(ctx(t), events.KindDistributionPolicy, "pair", nil)
	require.NoError(t, err)
}

// Queries: a job's position and a queue's statistics, answered by the router.
func TestQueries(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.createJob("a", "q")
	e.createJob("b", "q")
	_, err := e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "urgent", QueueID: "q", ChannelID: "voice", Priority: 10})
	require.NoError(t, err)
	info, err := e.client.JobInfo(ctx(t), "b")
	require.NoError(t, err)
	require.Equal(t, 3, info.Position)
	require.Equal(t, 3, info.QueueLength)
	require.Equal(t, "queued", info.Job.Status)
	require.Nil(t, info.EstimatedWaitSeconds, "no assignments yet to estimate from")

	q, err := e.client.QueueInfo(ctx(t), "q")
	require.NoError(t, err)
	require.Equal(t, 3, q.Length)
	require.Greater(t, q.LongestWaitSeconds, 0.0)
	require.Equal(t, 10, q.EstimatedWait[0].Priority)
	require.Equal(t, 1, q.EstimatedWait[0].Ahead)

	// After an assignment the queue has a rate to estimate from.
	e.register("w", []string{"q"}, nil)
	o := e.offerFor("w", "urgent")
	_, err = e.client.Accept(ctx(t), o)
	require.NoError(t, err)
	info, err = e.client.JobInfo(ctx(t), "b")
	require.NoError(t, err)
	require.Equal(t, 2, info.Position)
	require.NotNil(t, info.EstimatedWaitSeconds)

	_, err = e.client.JobInfo(ctx(t), "nope")
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)
	_, err = e.client.QueueInfo(ctx(t), "bad queue")
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	f := failureOf(t, e.request("patchbay.query.nothing", nil, []byte(`{}`)))
	require.Equal(t, events.CodeUnknownType, f.Error.Code)
}

// A workflow over the wire: put, a job created with its workflowId lands in the
// target queue with the target's priority and is offered by the target's order_by;
// selectors with expiry and a time to live are accepted on the wire.
func TestWorkflowOnTheWire(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	ten := 10
	_, err := e.client.PutPolicy(ctx(t), events.KindWorkflow, "inbound", events.WorkflowSpec{
		Filters: []events.WorkflowFilter{{Name: "Finance", Expression: "department == 'finance'", Targets: []events.WorkflowTarget{
			{Queue: "finance", OrderBy: "worker.finance ASC, worker.support ASC", Priority: &ten, TimeoutSeconds: 600},
		}}},
		DefaultFilter: &events.WorkflowTarget{Queue: "general"},
	}, nil)
	require.NoError(t, err)
	e.register("alice", []string{"finance"}, events.Labels{"finance": 10, "support": 8})
	e.register("bob", []string{"finance"}, events.Labels{"finance": 10, "support": 5})

	x := events.WorkerSelector{Key: "finance", Operator: events.OpGreaterThanOrEqual, Value: 1, ExpiresAfterSeconds: 300, Expedite: true}
	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "f1", WorkflowID: "inbound", ChannelID: "voice",
		Labels: events.Labels{"department": "finance"}, WorkerSelectors: []events.WorkerSelector{x}, TimeToLiveSeconds: 3600})
	require.NoError(t, err)
	q := e.jobEvent(events.TypeJobQueued, "f1")
	require.Equal(t, "finance", q.QueueID)
	require.Equal(t, 10, q.Priority)
	require.Equal(t, "Finance", q.Workflow.Filter)
	require.NotNil(t, q.ExpiresAt)
	require.NotNil(t, q.WorkerSelectors[0].ExpiresAt)
	require.Equal(t, "bob", e.offerFor("bob", "f1").WorkerID, "ROUTING.md seed: Bob {finance 10, support 5} first")

	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "g1", WorkflowID: "inbound", ChannelID: "voice"})
	require.NoError(t, err)
	require.Equal(t, "general", e.jobEvent(events.TypeJobQueued, "g1").QueueID)
}

// An exception policy over the wire: a job that waits too long is cancelled, with an
// exception-triggered event first.
func TestExceptionPolicyOnTheWire(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.PutPolicy(ctx(t), events.KindExceptionPolicy, "impatient", events.ExceptionPolicySpec{
		Rules: []events.ExceptionRule{{ID: "waited", Trigger: events.ExceptionTrigger{Kind: events.TriggerWaitTime, ThresholdSeconds: 0.3},
			Actions: []events.ExceptionAction{{Kind: events.ActionCancel, DispositionCode: "NoAgent"}}}},
	}, nil)
	require.NoError(t, err)
	_, err = e.client.PutPolicy(ctx(t), events.KindQueue, "q", patchbay.QueueSpec{ExceptionPolicyID: "impatient"}, nil)
	require.NoError(t, err)
	e.createJob("j1", "q")
	fired := e.jobEvent(events.TypeJobExceptionTriggered, "j1")
	require.Equal(t, "waited", fired.Exception.RuleID)
	require.Equal(t, "NoAgent", e.jobEvent(events.TypeJobCancelled, "j1").DispositionCode)
}

// A classification policy over the wire: the job lands in the queue its labels say;
// one that cannot be classified is refused with a classification-failed event.
func TestClassificationOnTheWire(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.PutPolicy(ctx(t), events.KindClassificationPolicy, "triage", events.ClassificationPolicySpec{
		QueueSelectors:      []events.QueueSelectorAttachment{{Kind: events.AttachPassThrough, Key: "department"}},
		PrioritizationRules: []events.PrioritizationRule{{Kind: events.AttachConditional, Condition: "vip == true", Priority: 50}},
	}, nil)
	require.NoError(t, err)
	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "c1", ClassificationPolicyID: "triage", ChannelID: "voice",
		Labels: events.Labels{"department": "billing", "vip": true}})
	require.NoError(t, err)
	c := e.jobEvent(events.TypeJobClassified, "c1")
	require.Equal(t, "billing", c.QueueID)
	require.Equal(t, 50, c.Priority)

	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "c2", ClassificationPolicyID: "triage", ChannelID: "voice"})
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	f := e.jobEvent(events.TypeJobClassificationFailed, "c2")
	require.Contains(t, f.Reason.Message, `label "department" is missing`)
}

// A workflow target's timeout over the wire: the job is offered at the first target,
// nobody answers, the target times out (measured from the job's creation), the offer is
// revoked and the job moves on to the next target's queue, where it is offered again.
func TestWorkflowTimeoutOnTheWire(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	_, err := e.client.PutPolicy(ctx(t), events.KindWorkflow, "escalate", events.WorkflowSpec{
		Filters: []events.WorkflowFilter{{Name: "all", Expression: "true", Targets: []events.WorkflowTarget{
			{Queue: "tier1", TimeoutSeconds: 0.5},
			{Queue: "tier2"},
		}}},
	}, nil)
	require.NoError(t, err)
	e.register("first", []string{"tier1"}, nil)
	e.register("second", []string{"tier2"}, nil)
	_, err = e.client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "w1", WorkflowID: "escalate", ChannelID: "voice"})
	require.NoError(t, err)
	o := e.offerFor("first", "w1")
	rev := e.next(events.TypeOfferRevoked, func(s seen) bool { return s.offer().OfferID == o.OfferID }).offer()
	require.Equal(t, events.RevokedTargetTimeout, rev.Reason)
	moved := e.next(events.TypeJobQueued, func(s seen) bool { return s.job().JobID == "w1" && s.job().QueueID == "tier2" }).job()
	require.Equal(t, 1, moved.Workflow.Target)
	e.offerFor("second", "w1")
}

// policyKeys reads the keys of the policy bucket (a removed key leaves no entry) once
// it holds the marker key: the router makes a record's KV writes at rest, after the
// record (and its events), and in order.
func policyKeys(t *testing.T, e *env, marker string) map[string]uint64 {
	t.Helper()
	var out map[string]uint64
	require.Eventually(t, func() bool {
		out = readPolicyKeys(t, e)
		_, ok := out[marker]
		return ok
	}, waitFor, 10*time.Millisecond, "%s stored", marker)
	return out
}

func readPolicyKeys(t *testing.T, e *env) map[string]uint64 {
	t.Helper()
	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx(t), events.BucketPolicies)
	require.NoError(t, err)
	lister, err := kv.ListKeys(ctx(t))
	require.NoError(t, err)
	out := map[string]uint64{}
	for k := range lister.Keys() {
		entry, err := kv.Get(ctx(t), k)
		if err != nil {
			continue // removed meanwhile
		}
		var p events.Policy
		require.NoError(t, json.Unmarshal(entry.Value(), &p))
		if !p.Deleted {
			out[k] = p.Revision
		}
	}
	return out
}

// policyEventsUntil returns the policy events published before the policy.updated of
// marker (a queue put after the commands under test: the router applies commands in
// order, so every event they caused comes before it).
func (e *env) policyEventsUntil(marker string) []seen {
	e.t.Helper()
	_, err := e.client.PutPolicy(ctx(e.t), events.KindQueue, marker, patchbay.QueueSpec{}, nil)
	require.NoError(e.t, err)
	var out []seen
	timeout := time.After(waitFor)
	for {
		select {
		case m := <-e.events:
			ev, err := events.Decode(m.Header, m.Data)
			require.NoError(e.t, err)
			s := seen{Subject: m.Subject, Type: events.Type(ev.Type()), Data: ev.Data(), Event: ev}
			if s.Type != events.TypePolicyUpdated && s.Type != events.TypePolicyDeleted {
				continue
			}
			if strings.Contains(s.Subject, ".queue."+marker+".") {
				return out
			}
			out = append(out, s)
		case <-timeout:
			e.t.Fatalf("no policy event for %s within %s", marker, waitFor)
		}
	}
}

// A policy apply on a real router is all or nothing (design.md, invariant 23): the
// issue's edit (a queue pointed at a new distribution policy with an invalid mode)
// changes nothing, stored or published, and the queue keeps its 2 s offers; of two
// editors starting from the same revision, one wins whole and the other changes
// nothing.
func TestPolicyApplyAllOrNothing(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	fast := patchbay.PolicyPut{Kind: events.KindDistributionPolicy, ID: "fast", Spec: raw(`{"offerExpiresAfterSeconds":2,"mode":{"kind":"longestIdle"}}`)}
	res, err := e.client.ApplyPolicies(ctx(t), "policies.yaml", patchbay.PolicyApply{Puts: []patchbay.PolicyPut{
		{Kind: events.KindQueue, ID: "support", Spec: raw(`{"distributionPolicyId":"fast"}`)}, fast,
	}})
	require.NoError(t, err)
	require.Len(t, res.Policies, 2)
	require.Len(t, e.policyEventsUntil("m1"), 2)
	stored := policyKeys(t, e, "queue.m1")

	_, err = e.client.ApplyPolicies(ctx(t), "policies.yaml", patchbay.PolicyApply{Puts: []patchbay.PolicyPut{
		fast,
		{Kind: events.KindDistributionPolicy, ID: "slow", Spec: raw(`{"offerExpiresAfterSeconds":60,"mode":{"kind":"fastest"}}`)},
		{Kind: events.KindQueue, ID: "support", Spec: raw(`{"distributionPolicyId":"slow"}`)},
	}})
	require.ErrorIs(t, err, patchbay.ErrInvalidData)
	var pe *patchbay.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "puts/1/spec/mode/kind", pe.Field)
	require.Len(t, pe.Problems, 1)
	require.Empty(t, e.policyEventsUntil("m2"), "a refused apply publishes nothing")
	stored["queue.m2"] = 1
	require.Equal(t, stored, policyKeys(t, e, "queue.m2"), "a refused apply stores nothing")

	e.register("alice", []string{"support"}, nil)
	e.createJob("j1", "support")
	o := e.offerFor("alice", "j1")
	require.Equal(t, 2*time.Second, o.ExpiresAt.Sub(o.IssuedAt), "the queue keeps its 2 s offers")

	// Two editors, both starting from revision 1 of the queue.
	one := uint64(1)
	edit := func(order, wf string) patchbay.PolicyApply {
		return patchbay.PolicyApply{Puts: []patchbay.PolicyPut{
			{Kind: events.KindQueue, ID: "support", Revision: &one, Spec: raw(`{"distributionPolicyId":"fast","order":"` + order + `"}`)},
			{Kind: events.KindWorkflow, ID: wf, Spec: raw(`{"filters":[],"defaultFilter":{"queue":"support"}}`)},
		}}
	}
	errs := make(chan error, 2)
	go func() { _, err := e.client.ApplyPolicies(ctx(t), "a.yaml", edit("lifo", "wf-a")); errs <- err }()
	go func() { _, err := e.client.ApplyPolicies(ctx(t), "b.yaml", edit("fifo", "wf-b")); errs <- err }()
	err1, err2 := <-errs, <-errs
	require.True(t, (err1 == nil) != (err2 == nil), "exactly one editor wins: %v / %v", err1, err2)
	lost := err1
	if lost == nil {
		lost = err2
	}
	require.ErrorIs(t, lost, patchbay.ErrRevisionMismatch)
	evs := e.policyEventsUntil("m3")
	require.Len(t, evs, 2, "the winner's two policies, nothing of the loser's")
	keys := policyKeys(t, e, "queue.m3")
	_, a := keys["workflow.wf-a"]
	_, b := keys["workflow.wf-b"]
	require.True(t, a != b, "one workflow of the two: %v", keys)
	require.Equal(t, uint64(2), keys["queue.support"])
}

// A storage failure in the middle of an apply's commit (its record written, none of
// its KV writes done) leaves no half-applied file: the router reloads, applies the
// whole command again, and every policy is stored once, at revision 1, with one event.
func TestPolicyApplySurvivesAFailedCommit(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	var failed atomic.Bool
	router.SetFaultHook(e.router, func(p string) error {
		if p == "written" && failed.CompareAndSwap(false, true) {
			return errors.New("injected: storage unavailable after the record")
		}
		return nil
	})
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	res, err := e.client.ApplyPolicies(ctx(t), "p.yaml", patchbay.PolicyApply{Puts: []patchbay.PolicyPut{
		{Kind: events.KindDistributionPolicy, ID: "fast", Spec: raw(`{"offerExpiresAfterSeconds":2,"mode":{"kind":"longestIdle"}}`)},
		{Kind: events.KindQueue, ID: "support", Spec: raw(`{"distributionPolicyId":"fast"}`)},
		{Kind: events.KindActivity, ID: "lunch", Spec: raw(`{"available":false}`)},
	}})
	require.NoError(t, err)
	require.True(t, failed.Load(), "the fault was injected")
	for _, c := range res.Policies {
		require.Equal(t, events.PolicyCreated, c.Action)
		require.Equal(t, uint64(1), c.Revision)
	}
	require.Len(t, e.policyEventsUntil("m"), 3, "one event per policy")
	require.Equal(t, map[string]uint64{"distributionPolicy.fast": 1, "queue.support": 1, "activity.lunch": 1, "queue.m": 1}, policyKeys(t, e, "queue.m"))
}
