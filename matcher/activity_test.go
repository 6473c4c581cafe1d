package matcher

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func wActivity(a string) func(*events.WorkerRegister) {
	return func(d *events.WorkerRegister) { d.Activity = a }
}

// putActivity defines activity id with the given flag.
func (h *harness) putActivity(id string, available bool) outcome {
	h.t.Helper()
	return h.putPolicy(events.KindActivity, id, nil, jsonString(h.t, events.ActivitySpec{Name: "The " + id, Available: available}))
}

// The one rule that keeps availableForOffers and the activity together, command by
// command, from every starting activity: the resulting activity and flag, the event
// type (registered / deregistered when the flag flips, updated otherwise), the epoch
// (new when the worker starts taking offers) and the worker's offer (revoked when it
// stops).
func TestActivityRules(t *testing.T) {
	type cmd struct {
		register, deregister bool
		// the update's or register's fields
		activity  string
		available *bool
	}
	reg := func(activity string, available *bool) cmd {
		return cmd{register: true, activity: activity, available: available}
	}
	upd := func(activity string, available *bool) cmd { return cmd{activity: activity, available: available} }
	tests := []struct {
		name string
		from string // the activity the worker is in before (it holds an offer when it takes offers)
		cmd  cmd
		// want
		activity string
		event    events.Type
	}{
		{"register without either", events.ActivityBreak, reg("", nil), events.ActivityAvailable, events.TypeWorkerRegistered},
		{"register available false", events.ActivityAvailable, reg("", new(false)), events.ActivityOffline, events.TypeWorkerRegistered},
		{"register available true replaces training", "training", reg("", new(true)), events.ActivityAvailable, events.TypeWorkerRegistered},
		{"register in break", events.ActivityAvailable, reg(events.ActivityBreak, nil), events.ActivityBreak, events.TypeWorkerRegistered},
		{"register in break, flag agrees", events.ActivityOffline, reg(events.ActivityBreak, new(false)), events.ActivityBreak, events.TypeWorkerRegistered},
		{"register in a defined activity", events.ActivityOffline, reg("training", nil), "training", events.TypeWorkerRegistered},

		{"update to break", events.ActivityAvailable, upd(events.ActivityBreak, nil), events.ActivityBreak, events.TypeWorkerDeregistered},
		{"update break to available", events.ActivityBreak, upd(events.ActivityAvailable, nil), events.ActivityAvailable, events.TypeWorkerRegistered},
		{"update break to lunch", events.ActivityBreak, upd("lunch", nil), "lunch", events.TypeWorkerUpdated},
		{"update available to training", events.ActivityAvailable, upd("training", nil), "training", events.TypeWorkerUpdated},
		{"update to the same activity", events.ActivityBreak, upd(events.ActivityBreak, nil), events.ActivityBreak, events.TypeWorkerUpdated},
		{"update available true from break", events.ActivityBreak, upd("", new(true)), events.ActivityAvailable, events.TypeWorkerRegistered},
		{"update available true in training", "training", upd("", new(true)), "training", events.TypeWorkerUpdated},
		{"update available false from training", "training", upd("", new(false)), events.ActivityOffline, events.TypeWorkerDeregistered},
		{"update available false in break", events.ActivityBreak, upd("", new(false)), events.ActivityBreak, events.TypeWorkerUpdated},
		{"update available false in lunch", "lunch", upd("", new(false)), "lunch", events.TypeWorkerUpdated},
		{"update without either", "lunch", upd("", nil), "lunch", events.TypeWorkerUpdated},
		{"update offline to lunch", events.ActivityOffline, upd("lunch", new(false)), "lunch", events.TypeWorkerUpdated},

		{"deregister from available", events.ActivityAvailable, cmd{deregister: true}, events.ActivityOffline, events.TypeWorkerDeregistered},
		{"deregister from break", events.ActivityBreak, cmd{deregister: true}, events.ActivityOffline, events.TypeWorkerDeregistered},
		{"deregister from training", "training", cmd{deregister: true}, events.ActivityOffline, events.TypeWorkerDeregistered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			requireOK(t, h.putActivity("training", true))
			requireOK(t, h.putActivity("lunch", false))
			requireOK(t, h.register("alice", wActivity(tt.from)))
			requireOK(t, h.create("j1", "q1"))
			before := h.e.workers["alice"]
			fromAvailable, _ := h.e.activity(tt.from)
			require.Equal(t, fromAvailable, before.AvailableForOffers)
			if fromAvailable {
				require.Equal(t, "alice", h.offeredTo("j1"))
			}
			epoch := before.Epoch

			var out outcome
			switch {
			case tt.cmd.deregister:
				out = h.deregister("alice")
			case tt.cmd.register:
				out = h.register("alice", wActivity(tt.cmd.activity), func(d *events.WorkerRegister) { d.AvailableForOffers = tt.cmd.available })
			default:
				out = h.update(events.WorkerRegister{WorkerID: "alice", Activity: tt.cmd.activity, AvailableForOffers: tt.cmd.available})
			}
			requireOK(t, out)
			wantAvailable, ok := h.e.activity(tt.activity)
			require.True(t, ok)
			w := h.e.workers["alice"]
			require.Equal(t, tt.activity, w.Activity)
			require.Equal(t, wantAvailable, w.AvailableForOffers)
			evs := out.ofType(tt.event)
			require.Len(t, evs, 1, "want one %s event, got %v", tt.event, out.types())
			require.Equal(t, tt.activity, evs[0].Worker.Activity, "the event carries the activity")
			if wantAvailable && !fromAvailable {
				require.Greater(t, w.Epoch, epoch, "taking offers again is a new registration epoch")
			} else {
				require.Equal(t, epoch, w.Epoch)
			}
			switch {
			case fromAvailable && !wantAvailable:
				revoked := out.ofType(events.TypeOfferRevoked)
				require.Len(t, revoked, 1)
				require.Equal(t, events.RevokedWorkerDeregistered, revoked[0].Offer.Reason)
				require.Empty(t, h.outstanding("j1"))
			case wantAvailable:
				require.Equal(t, "alice", h.offeredTo("j1"), "a worker whose activity takes offers gets the job")
			default:
				require.Empty(t, h.outstanding("j1"))
			}
			checkInvariants(t, h.e)
			requireKVMatches(t, h.kv, h.e)
			requireSameEngine(t, h.e, h.reload().e)
		})
	}
}

// A worker command naming an activity that does not exist, or contradicting the
// activity's flag, is refused with the field, and changes nothing.
func TestActivityRefusals(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putActivity("lunch", false))
	requireOK(t, h.register("alice"))
	for _, tt := range []struct {
		name  string
		cmd   func() outcome
		field string
	}{
		{"register in an unknown activity", func() outcome { return h.register("bob", wActivity("nap")) }, "activity"},
		{"register with a bad activity id", func() outcome { return h.register("bob", wActivity("a.b")) }, "activity"},
		{"register in break, available", func() outcome { return h.register("bob", wActivity(events.ActivityBreak), wAvailable(true)) }, "availableForOffers"},
		{"update to an unknown activity", func() outcome { return h.update(events.WorkerRegister{WorkerID: "alice", Activity: "nap"}) }, "activity"},
		{"update to lunch, available", func() outcome {
			return h.update(events.WorkerRegister{WorkerID: "alice", Activity: "lunch", AvailableForOffers: new(true)})
		}, "availableForOffers"},
		{"update to available, unavailable", func() outcome {
			return h.update(events.WorkerRegister{WorkerID: "alice", Activity: events.ActivityAvailable, AvailableForOffers: new(false)})
		}, "availableForOffers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := dump(h.e)
			out := tt.cmd()
			requireRefused(t, out, events.ErrInvalidData)
			require.Equal(t, tt.field, out.Err.Field)
			require.Equal(t, before, dump(h.e))
		})
	}
	_, ok := h.e.Worker("bob")
	require.False(t, ok)

	// A deleted activity is unknown.
	requireOK(t, h.deletePolicy(events.KindActivity, "lunch", nil))
	out := h.update(events.WorkerRegister{WorkerID: "alice", Activity: "lunch"})
	requireRefused(t, out, events.ErrInvalidData)
	require.Contains(t, out.Err.Message, `no activity "lunch"`)
}

// Activities as policies: built-in ones cannot be redefined or deleted; available is
// required; the name can change at any time, the flag only while no worker is in the
// activity; an activity a worker is in cannot be deleted, until the worker leaves it
// or is forgotten.
func TestActivityPolicies(t *testing.T) {
	h := newHarness(t, Config{Retention: time.Hour})
	for _, id := range events.BuiltinActivities() {
		out := h.putPolicy(events.KindActivity, id, nil, `{"available":true}`)
		requireRefused(t, out, events.ErrInvalidData)
		require.Equal(t, "id", out.Err.Field)
		require.Contains(t, out.Err.Message, "built in")
		out = h.deletePolicy(events.KindActivity, id, nil)
		requireRefused(t, out, events.ErrInvalidData)
		require.Equal(t, "id", out.Err.Field)
	}
	for _, spec := range []string{`{}`, `{"name":"Lunch"}`, `{"available":null}`} {
		out := h.putPolicy(events.KindActivity, "lunch", nil, spec)
		requireRefused(t, out, events.ErrInvalidData)
		require.Equal(t, "spec/available", out.Err.Field, spec)
	}
	out := h.putPolicy(events.KindActivity, "lunch", nil, `{"available":"no"}`)
	requireRefused(t, out, events.ErrInvalidData)
	require.Equal(t, "spec", out.Err.Field)

	out = h.putPolicy(events.KindActivity, "lunch", rev(0), `{"name":"Lunch","available":false}`)
	requireOK(t, out)
	require.Equal(t, []events.Type{events.TypePolicyUpdated}, out.types())
	require.Equal(t, events.PolicySubject(events.KindActivity, "lunch", events.TypePolicyUpdated), out.Evs[0].Subject)
	requireOK(t, h.register("alice", wActivity("lunch")))
	require.False(t, h.worker("alice").AvailableForOffers)

	// In use: the name may change, the flag may not, and it cannot be deleted.
	requireOK(t, h.putPolicy(events.KindActivity, "lunch", rev(1), `{"name":"Long lunch","available":false}`))
	out = h.putPolicy(events.KindActivity, "lunch", nil, `{"name":"Long lunch","available":true}`)
	requireRefused(t, out, events.ErrPolicyInUse)
	require.Equal(t, "spec/available", out.Err.Field)
	require.Contains(t, out.Err.Message, `worker "alice"`)
	out = h.deletePolicy(events.KindActivity, "lunch", nil)
	requireRefused(t, out, events.ErrPolicyInUse)
	require.Equal(t, "id", out.Err.Field)
	require.Contains(t, out.Err.Message, `worker "alice"`)

	// Once alice left it, the flag can change: nobody is moved in or out of offers.
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "alice", Activity: events.ActivityBreak}))
	out = h.putPolicy(events.KindActivity, "lunch", nil, `{"name":"Working lunch","available":true}`)
	requireOK(t, out)
	require.Equal(t, uint64(3), out.Reply.Revision)
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "alice", Activity: "lunch"}))
	require.True(t, h.worker("alice").AvailableForOffers)

	// A worker that is forgotten (inactive past the retention) frees its activity.
	requireOK(t, h.putActivity("gone", false))
	requireOK(t, h.register("bob", wActivity("gone")))
	requireRefused(t, h.deletePolicy(events.KindActivity, "gone", nil), events.ErrPolicyInUse)
	h.tick(h.advance(time.Hour))
	_, ok := h.e.Worker("bob")
	require.False(t, ok, "bob was forgotten")
	requireOK(t, h.deletePolicy(events.KindActivity, "gone", nil))
	_, ok = h.e.Policy(events.KindActivity, "gone")
	require.False(t, ok)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
	requireSameEngine(t, h.e, h.reload().e)
}

// Workers stored before activities existed load in the activity their flag implies;
// so do workers whose stored activity was edited by hand into one that does not exist
// or disagrees with the flag.
func TestActivityLoadOldRecord(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putActivity("training", true))
	requireOK(t, h.register("alice"))
	requireOK(t, h.register("bob", wAvailable(false)))
	requireOK(t, h.register("carol", wActivity("training")))
	requireOK(t, h.register("dave", wActivity(events.ActivityBreak)))
	requireOK(t, h.register("erin"))
	requireOK(t, h.register("fred"))
	state := h.kv.state()
	edit := func(id string, f func(m map[string]any)) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(state.Workers[id], &m))
		_, ok := m["activity"]
		require.True(t, ok, "stored workers carry their activity")
		f(m)
		state.Workers[id] = mustJSON(m)
	}
	// as stored by an earlier version
	edit("alice", func(m map[string]any) { delete(m, "activity") })
	edit("bob", func(m map[string]any) { delete(m, "activity") })
	// edited by hand
	edit("erin", func(m map[string]any) { m["activity"] = "gone" })
	edit("fred", func(m map[string]any) { m["activity"] = events.ActivityBreak })
	e, err := New(Config{})
	require.NoError(t, err)
	require.NoError(t, e.Load(state))
	for id, want := range map[string]string{
		"alice": events.ActivityAvailable, "bob": events.ActivityOffline, "carol": "training",
		"dave": events.ActivityBreak, "erin": events.ActivityAvailable, "fred": events.ActivityAvailable,
	} {
		w, _ := e.Worker(id)
		require.Equal(t, want, w.Activity, id)
		require.Equal(t, id != "bob" && id != "dave", w.AvailableForOffers, id)
	}
	checkInvariants(t, e)
	// and deregistering the offline one is still a no-op
	res := e.Apply(mkCommand(t, "c-old", events.TypeWorkerDeregister, &events.WorkerDeregister{WorkerID: "bob"}, t0), t0)
	require.Nil(t, res.Err)
	require.True(t, res.Reply.Duplicate)
}

// A distribution policy's expiredOfferMakesWorkerUnavailable moves the worker to
// offline.
func TestExpiredOfferMakesWorkerOffline(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 30 * time.Second})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "absent", nil, `{"mode":{"kind":"longestIdle"},"expiredOfferMakesWorkerUnavailable":true}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"absent"}`))
	requireOK(t, h.register("alice"))
	requireOK(t, h.create("j1", "q1"))
	out := h.tick(h.advance(30 * time.Second))
	evs := out.ofType(events.TypeWorkerDeregistered)
	require.Len(t, evs, 1)
	require.Equal(t, events.ActivityOffline, evs[0].Worker.Activity)
	require.Equal(t, events.ActivityOffline, h.worker("alice").Activity)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
}

// worker.activity in a workflow target expression: the first target takes only
// workers in available, the second also those in overflow (an activity that takes
// offers); a label named activity does not stand in for the activity. A worker that
// moves between two activities that take offers is matched again at once.
func TestActivityInTargetExpression(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putActivity("overflow", true))
	requireOK(t, h.putPolicy(events.KindWorkflow, "wf", nil, `{
	  "filters": [{"name": "Sales", "expression": "type == 'Sales'", "targets": [
	    {"queue": "q1", "expression": "worker.activity == 'available'", "timeoutSeconds": 30},
	    {"queue": "q1", "expression": "worker.activity IN ['available', 'overflow']"}
	  ]}]
	}`))
	requireOK(t, h.register("alice", wActivity("overflow")))
	h.advance(time.Second)
	requireOK(t, h.register("bob", wActivity("overflow"), wLabels(events.Labels{"activity": "available"})))
	require.Equal(t, "overflow", h.worker("bob").Activity)

	requireOK(t, h.do(events.TypeJobCreated, wfJob("j1", events.Labels{"type": "Sales"})))
	require.Empty(t, h.issuedTo("j1"), "nobody in available: bob's label activity is not his activity")

	// At the second target, workers in overflow are eligible: alice, idle longest.
	out := h.tick(*h.job("j1").Workflow.TargetExpiresAt)
	require.Equal(t, []string{"alice"}, workerIDs(out.issued()))

	// A job at the first target waits for a worker in available; bob moving from
	// overflow to available (both take offers: an update, no new epoch) gets it at once.
	requireOK(t, h.do(events.TypeJobCreated, wfJob("j2", events.Labels{"type": "Sales"})))
	require.Empty(t, h.issuedTo("j2"))
	epoch := h.e.workers["bob"].Epoch
	out = h.update(events.WorkerRegister{WorkerID: "bob", Activity: events.ActivityAvailable})
	require.Equal(t, []events.Type{events.TypeWorkerUpdated, events.TypeOfferIssued}, out.types())
	require.Equal(t, "bob", h.offeredTo("j2"))
	require.Equal(t, epoch, h.e.workers["bob"].Epoch)
	checkInvariants(t, h.e)
	requireKVMatches(t, h.kv, h.e)
	requireSameEngine(t, h.e, h.reload().e)
}

// worker.activity in a best-worker scoring rule: a worker in the activity the rule
// favours wins over one idle longer.
func TestActivityInScoringRule(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putActivity("priority", true))
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "scored", nil, `{"mode":{"kind":"bestWorker","scoringRule":[
	  {"expression":"worker.activity == 'priority'","weight":10}]}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"scored"}`))
	requireOK(t, h.register("alice"))
	h.advance(time.Second)
	requireOK(t, h.register("bob", wActivity("priority")))
	requireOK(t, h.create("j1", "q1"))
	require.Equal(t, "bob", h.offeredTo("j1"))

	// The score follows the activity: bob back in available ties with alice, who has
	// been idle longer.
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "bob", Activity: events.ActivityAvailable}))
	requireOK(t, h.create("j2", "q1"))
	require.Equal(t, "alice", h.offeredTo("j2"))
}

func workerIDs(os []events.Offer) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.WorkerID)
	}
	return out
}

// QueueInfo counts a queue's workers by activity: every worker whose queues include
// it, offline ones until they are forgotten; counts follow activity and queue changes
// and survive a restart.
func TestQueueWorkersByActivity(t *testing.T) {
	h := newHarness(t, Config{Retention: time.Hour})
	requireOK(t, h.putActivity("lunch", false))
	requireOK(t, h.putActivity("training", true))
	requireOK(t, h.register("alice", wQueues("q1", "q2")))
	requireOK(t, h.register("bob", wActivity(events.ActivityBreak)))
	requireOK(t, h.register("carol", wActivity("lunch")))
	requireOK(t, h.register("dave", wQueues("q2")))
	requireOK(t, h.register("erin"))
	requireOK(t, h.deregister("erin"))
	requireOK(t, h.register("fred", wActivity("training")))
	byActivity := func(e *Engine, q string) map[string]int { return e.QueueInfo(q, h.now).WorkersByActivity }
	require.Equal(t, map[string]int{"available": 1, "break": 1, "lunch": 1, "offline": 1, "training": 1}, byActivity(h.e, "q1"))
	require.Equal(t, map[string]int{"available": 2}, byActivity(h.e, "q2"))
	require.Nil(t, byActivity(h.e, "q3"), "a queue without workers")
	q1 := h.e.QueueInfo("q1", h.now)
	require.Equal(t, 2, q1.AvailableWorkers, "alice and fred take offers")

	requireOK(t, h.update(events.WorkerRegister{WorkerID: "bob", Activity: events.ActivityAvailable}))
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "alice", Queues: []string{"q2"}}))
	requireOK(t, h.update(events.WorkerRegister{WorkerID: "dave", Queues: []string{"q1", "q2"}, Activity: events.ActivityBreak}))
	require.Equal(t, map[string]int{"available": 1, "break": 1, "lunch": 1, "offline": 1, "training": 1}, byActivity(h.e, "q1"))
	require.Equal(t, map[string]int{"available": 1, "break": 1}, byActivity(h.e, "q2"))
	requireSameCounts := func() {
		t.Helper()
		h2 := h.reload()
		for _, q := range []string{"q1", "q2", "q3"} {
			require.Equal(t, byActivity(h.e, q), byActivity(h2.e, q), q)
		}
	}
	requireSameCounts()

	// erin (offline), carol (lunch) and dave (break), holding nothing, are forgotten
	// after the retention.
	h.tick(h.advance(time.Hour))
	require.Equal(t, map[string]int{"available": 1, "training": 1}, byActivity(h.e, "q1"))
	require.Equal(t, map[string]int{"available": 1}, byActivity(h.e, "q2"))
	checkInvariants(t, h.e)
	requireSameCounts()

	// The answer is a copy.
	byActivity(h.e, "q1")["available"] = 99
	require.Equal(t, 1, byActivity(h.e, "q1")["available"])
}
