package matcher

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// walkEveryPool makes pick walk the index's orders for pools of any size (by default
// small pools are compared whole) for the rest of the test.
func walkEveryPool(t *testing.T) {
	old := smallPool
	smallPool = 0
	t.Cleanup(func() { smallPool = old })
}

// TestRandomizedInvariantsOrderedWalk runs the randomized invariants test with every
// pool walked in the index's orders (its 5 workers are otherwise compared whole), and
// checks after every step that the ordered indexes hold what they should.
func TestRandomizedInvariantsOrderedWalk(t *testing.T) {
	walkEveryPool(t)
	seeds := []int64{5, 6}
	steps := 3000
	if testing.Short() {
		seeds, steps = seeds[:1], 1000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			s := newSim(t, seed)
			for i := range steps {
				s.h.advance(time.Duration(s.r.Intn(3000)) * time.Millisecond)
				name, o := s.step()
				s.after(i, name, o)
				requireIndexesHold(t, s.h.e, i)
			}
		})
	}
}

// requireIndexesHold checks the ordered indexes against the engine: each queue's sets
// hold exactly its jobs that can take another offer, in dispatch order, and the room
// sets exactly the available workers with room, in longest-idle and id order.
func requireIndexesHold(t *testing.T, e *Engine, step int) {
	t.Helper()
	for id, q := range e.queues {
		require.Equal(t, e.distributionOf(id).max, q.maxOffers, "step %d queue %s", step, id)
		require.Len(t, q.slots, len(q.jobs), "step %d queue %s", step, id)
		var want []*Job
		for _, j := range q.jobs {
			if len(j.OfferIDs) < q.maxOffers {
				want = append(want, j)
			}
		}
		var got []*Job
		q.walkFor(nil, func(j *Job) bool { // the unkeyed set
			got = append(got, j)
			return true
		})
		n := len(got)
		for _, set := range q.byKey {
			require.Positive(t, set.Len(), "step %d queue %s: an empty set is kept", step, id)
			n += set.Len()
			var prev *Job
			set.Ascend(func(sl slot) bool {
				require.Equal(t, jobKey(sl.j), sl.key)
				if prev != nil {
					require.True(t, q.less(prev, sl.j), "step %d queue %s: set out of dispatch order", step, id)
				}
				prev = sl.j
				got = append(got, sl.j)
				return true
			})
		}
		require.Len(t, got, n)
		require.ElementsMatch(t, want, got, "step %d queue %s", step, id)
	}
	queues := map[string]bool{}
	for _, w := range e.workers {
		if w.takesOffers() && w.hasRoom() {
			for _, q := range w.Queues {
				queues[q] = true
			}
		}
	}
	for q := range e.index.room {
		queues[q] = true
	}
	for q := range queues {
		var want []*Worker
		for _, w := range e.workers {
			if w.takesOffers() && w.hasRoom() && w.inQueue(q) {
				want = append(want, w)
			}
		}
		sortWorkers(want)
		cands := e.candidates(q)
		require.ElementsMatch(t, want, cands, "step %d queue %s", step, q)
		var idle []*Worker
		if rs := e.index.room[q]; rs != nil {
			rs.idle.Ascend(func(k idleKey) bool {
				idle = append(idle, k.w)
				return true
			})
		}
		require.Equal(t, len(want), len(idle), "step %d queue %s", step, q)
		for i := range want {
			require.Equal(t, want[i].WorkerID, idle[i].WorkerID, "step %d queue %s: longest-idle order", step, q)
		}
		for i := 1; i < len(cands); i++ {
			require.Less(t, cands[i-1].WorkerID, cands[i].WorkerID)
		}
	}
}

// TestPickInOrderEqualsCompareAll checks that walking the workers in the index's
// orders picks exactly the workers, in the same order, that comparing every eligible
// worker of the pool picks: over random workers (labels, capacities, loads, idle
// times, caps on offers), random jobs (selectors, declines, expired offers), both
// modes, a workflow target's order_by (with missing values, and in some runs values
// that are not integers), a random round-robin cursor, with and without bypassed
// selectors, one to three workers at a time, and workers whose labels and loads change
// between picks.
func TestPickInOrderEqualsCompareAll(t *testing.T) {
	walkEveryPool(t)
	for seed := int64(1); seed <= 12; seed++ {
		r := rand.New(rand.NewSource(seed))
		e, err := New(Config{NewID: (&idSeq{}).next})
		require.NoError(t, err)
		now := t0
		apply := func(t events.Type, data any) *Result {
			res := e.Apply(Command{ID: fmt.Sprintf("cmd-%d", r.Int63()), Type: t, Data: data}, now)
			now = now.Add(time.Duration(r.Intn(3)) * time.Second) // equal times happen too
			return res
		}
		require.Nil(t, apply(events.TypePolicyPut, &events.PolicyPut{Kind: events.KindWorkflow, ID: "wf",
			Spec: []byte(`{"filters":[{"name":"all","expression":"true","targets":[{"queue":"q","orderBy":"worker.level DESC, worker.tier ASC"}]}]}`)}).Err)
		require.Nil(t, apply(events.TypePolicyPut, &events.PolicyPut{Kind: events.KindDistributionPolicy, ID: "scored",
			Spec: []byte(`{"mode":{"kind":"bestWorker","scoringRule":[{"expression":"lang == task.lang","weight":2},
				{"expression":"level >= 3","weight":1.5},{"expression":"tier == 0","weight":-1}]}}`)}).Err)
		require.Nil(t, apply(events.TypePolicyPut, &events.PolicyPut{Kind: events.KindQueue, ID: "scored",
			Spec: []byte(`{"distributionPolicyId":"scored"}`)}).Err)
		rule := e.distributionOf("scored").scoring
		require.Len(t, rule, 3)
		langs := []string{"en", "fr", "de"}
		labels := func() events.Labels {
			l := events.Labels{"lang": langs[r.Intn(3)], "level": float64(r.Intn(5))}
			switch r.Intn(4) {
			case 0: // no tier: sorts after those with one
			case 1:
				if seed%3 == 0 {
					l["tier"] = "gold" // not an integer: the order_by does not apply
					break
				}
				l["tier"] = float64(r.Intn(3))
			default:
				l["tier"] = float64(r.Intn(3))
			}
			return l
		}
		var ids []string
		for i := range 40 {
			id := fmt.Sprintf("w%02d", r.Intn(100))
			ids = append(ids, id)
			d := &events.WorkerRegister{
				WorkerID: id, Queues: []string{"q"}, TotalCapacity: intPtr(1 + r.Intn(3)),
				Labels:   labels(),
				Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}, {ChannelID: "chat", CapacityCostPerJob: 1, MaxNumberOfJobs: 1}},
			}
			if i%7 == 0 {
				d.MaxConcurrentOffers = intPtr(1)
			}
			if i%9 == 0 {
				d.Queues = []string{"q", "other"}
			}
			apply(events.TypeWorkerRegister, d)
		}
		// Load the workers: offers, some accepted (a last assignment), some declined.
		for i := range 60 {
			id := fmt.Sprintf("load%d", i)
			apply(events.TypeJobCreated, &events.JobCreated{JobID: id, QueueID: "q", ChannelID: []string{"voice", "chat"}[r.Intn(2)]})
			j := e.jobs[id]
			if j == nil || len(j.OfferIDs) == 0 {
				continue
			}
			o := e.offers[j.OfferIDs[0]]
			switch r.Intn(3) {
			case 0:
				apply(events.TypeOfferAccept, &events.OfferAccept{JobID: id, OfferID: o.OfferID, WorkerID: o.WorkerID})
			case 1:
				apply(events.TypeOfferDecline, &events.OfferDecline{JobID: id, OfferID: o.OfferID, WorkerID: o.WorkerID})
			}
		}
		for probe := range 300 {
			if probe%10 == 9 { // change the workers between picks
				id := ids[r.Intn(len(ids))]
				switch r.Intn(3) {
				case 0:
					apply(events.TypeWorkerUpdate, &events.WorkerRegister{WorkerID: id, Labels: labels()})
				case 1:
					jobID := fmt.Sprintf("more%d", probe)
					apply(events.TypeJobCreated, &events.JobCreated{JobID: jobID, QueueID: "q", ChannelID: "voice"})
					if j := e.jobs[jobID]; j != nil && len(j.OfferIDs) > 0 {
						o := e.offers[j.OfferIDs[0]]
						apply(events.TypeOfferAccept, &events.OfferAccept{JobID: jobID, OfferID: o.OfferID, WorkerID: o.WorkerID})
					}
				case 2:
					apply(events.TypeWorkerUpdate, &events.WorkerRegister{WorkerID: id, AvailableForOffers: new(r.Intn(2) == 0)})
				}
			}
			j := &Job{Job: events.Job{JobID: fmt.Sprintf("probe%d", probe), QueueID: "q", ChannelID: []string{"voice", "chat"}[r.Intn(2)]}}
			if r.Intn(2) == 0 {
				j.Workflow = &events.WorkflowPosition{WorkflowID: "wf", Filter: "all"}
			}
			if r.Intn(2) == 0 { // labels: best-worker scores
				j.Labels = events.Labels{"lang": langs[r.Intn(3)]}
				if r.Intn(2) == 0 {
					j.Labels["level"] = float64(r.Intn(5))
				}
			}
			switch r.Intn(4) {
			case 1:
				j.WorkerSelectors = []events.WorkerSelector{{Key: "lang", Operator: events.OpEqual, Value: langs[r.Intn(3)]}}
			case 2:
				j.WorkerSelectors = []events.WorkerSelector{{Key: "level", Operator: events.OpGreaterThanOrEqual, Value: float64(r.Intn(5))}}
			case 3:
				j.WorkerSelectors = []events.WorkerSelector{{Key: "id", Operator: events.OpEqual, Value: ids[r.Intn(len(ids))]}}
			}
			for range r.Intn(4) {
				w := e.workers[ids[r.Intn(len(ids))]]
				if r.Intn(2) == 0 {
					j.noteExpiry(w.WorkerID)
					continue
				}
				if j.Declined == nil {
					j.Declined = map[string]Decline{}
				}
				dec := Decline{Epoch: w.Epoch}
				if r.Intn(2) == 0 {
					dec.RetryAt = timePtr(now.Add(time.Duration(r.Intn(3)-1) * time.Second))
				}
				j.Declined[w.WorkerID] = dec
			}
			switch r.Intn(3) {
			case 0:
				delete(e.cursors, "q")
			case 1:
				e.cursors["q"] = ids[r.Intn(len(ids))]
			case 2:
				e.cursors["q"] = fmt.Sprintf("w%02d5", r.Intn(100)) // between two ids
			}
			for _, mode := range []string{events.ModeLongestIdle, events.ModeRoundRobin, events.ModeBestWorker} {
				for n := 1; n <= 3; n++ {
					d := distribution{mode: mode, min: 1, max: n, bypass: r.Intn(4) == 0}
					if mode == events.ModeBestWorker && r.Intn(2) == 0 {
						d.scoring = rule
					}
					walked := e.pick(j, nil, d, n)
					whole := e.pick(j, e.candidates("q"), d, n)
					require.Equal(t, pickedIDs(whole), pickedIDs(walked), "seed %d probe %d mode %s n %d bypass %v workflow %v",
						seed, probe, mode, n, d.bypass, j.Workflow != nil)
				}
			}
		}
	}
}

func pickedIDs(ps []pick) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("%s/%d/%d", p.w.WorkerID, p.cost, p.rank)
	}
	return out
}

// TestWalkForFollowsDispatchOrder checks that a freed worker's walk over the queue's
// sets visits exactly the jobs of the queue it could take as far as the index tells,
// in dispatch order, in FIFO and LIFO queues, as jobs come and go.
func TestWalkForFollowsDispatchOrder(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, lifo := range []bool{false, true} {
		q := &Queue{ID: "q", lifo: lifo}
		w := &Worker{Worker: events.Worker{WorkerID: "w1", Labels: events.Labels{"lang": "en", "level": float64(2)}}}
		var live []*Job
		for i := range 400 {
			if len(live) > 0 && r.Intn(3) == 0 {
				k := r.Intn(len(live))
				q.remove(live[k])
				live = append(live[:k], live[k+1:]...)
				continue
			}
			j := &Job{Job: events.Job{JobID: fmt.Sprintf("j%d", i), Priority: r.Intn(3)}, Seq: uint64(i + 1)}
			switch r.Intn(5) {
			case 1:
				j.WorkerSelectors = []events.WorkerSelector{{Key: "lang", Operator: events.OpEqual, Value: []string{"en", "fr"}[r.Intn(2)]}}
			case 2:
				j.WorkerSelectors = []events.WorkerSelector{{Key: "level", Operator: events.OpEqual, Value: float64(r.Intn(3))}}
			case 3:
				j.WorkerSelectors = []events.WorkerSelector{{Key: "id", Operator: events.OpEqual, Value: []string{"w1", "w2"}[r.Intn(2)]}}
			case 4:
				j.WorkerSelectors = []events.WorkerSelector{{Key: "lang", Operator: events.OpEqual, Value: "en", Expedite: r.Intn(2) == 0}}
			}
			q.insert(j)
			live = append(live, j)
		}
		var want []string
		for _, j := range q.jobs {
			if k := jobKey(j); k == "" || k == "id\x00s:w1" || k == "lang\x00s:en" || k == "level\x00n:2" {
				want = append(want, j.JobID)
			}
		}
		var got []string
		q.walkFor([]*Worker{w}, func(j *Job) bool {
			got = append(got, j.JobID)
			return true
		})
		require.Equal(t, want, got, "lifo %v", lifo)
		got = nil
		q.walkFor([]*Worker{w}, func(j *Job) bool {
			got = append(got, j.JobID)
			return len(got) < 3
		})
		require.Equal(t, want[:3], got)
	}
}

// A job offered to as many workers as its queue allows is out of the freed workers'
// walk; when the queue's distribution allows more offers, it is back in it.
func TestFreedWorkerAfterMaxOffersRaised(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "d", nil, `{"mode":{"kind":"longestIdle","maxConcurrentOffers":1}}`))
	requireOK(t, h.putPolicy(events.KindQueue, "q1", nil, `{"distributionPolicyId":"d"}`))
	requireOK(t, h.register("busy"))
	requireOK(t, h.create("held", "q1"))
	asg := h.assign("held", "busy")
	requireOK(t, h.register("a"))
	requireOK(t, h.create("j1", "q1"))
	require.Equal(t, []string{"a"}, h.issuedTo("j1"))

	requireOK(t, h.putPolicy(events.KindDistributionPolicy, "d", nil, `{"mode":{"kind":"longestIdle","maxConcurrentOffers":2}}`))
	requireOK(t, h.complete("held", asg))
	out := h.close("held", asg, "", nil)
	requireOK(t, out)
	require.Len(t, out.issued(), 1, "the freed worker gets the job's second offer")
	require.Equal(t, "busy", out.issued()[0].WorkerID)
	require.Equal(t, "j1", out.issued()[0].JobID)
}
