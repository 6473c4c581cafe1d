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
// pool walked in the index's orders (its 5 workers are otherwise compared whole).
func TestRandomizedInvariantsOrderedWalk(t *testing.T) {
	walkEveryPool(t)
	seeds := []int64{5, 6}
	steps := 3000
	if testing.Short() {
		seeds, steps = seeds[:1], 1000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			newSim(t, seed).run(steps)
		})
	}
}

// TestPickInOrderEqualsCompareAll checks that walking the workers in the index's
// orders picks exactly the workers, in the same order, that comparing every eligible
// worker of the pool picks: over random workers (labels, capacities, loads, idle
// times, caps on offers), random jobs (selectors, declines, expired offers), both
// modes that walk, a random round-robin cursor, with and without bypassed selectors,
// and one to three workers at a time.
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
		langs := []string{"en", "fr", "de"}
		var ids []string
		for i := range 40 {
			id := fmt.Sprintf("w%02d", r.Intn(100))
			ids = append(ids, id)
			d := &events.WorkerRegister{
				WorkerID: id, Queues: []string{"q"}, TotalCapacity: intPtr(1 + r.Intn(3)),
				Labels:   events.Labels{"lang": langs[r.Intn(3)], "level": float64(r.Intn(5))},
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
			j := &Job{Job: events.Job{JobID: fmt.Sprintf("probe%d", probe), QueueID: "q", ChannelID: []string{"voice", "chat"}[r.Intn(2)]}}
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
			for _, mode := range []string{events.ModeLongestIdle, events.ModeRoundRobin} {
				for n := 1; n <= 3; n++ {
					d := distribution{mode: mode, min: 1, max: n, bypass: r.Intn(4) == 0}
					walked := e.pick(j, nil, d, n)
					whole := e.pick(j, e.candidates("q"), d, n)
					require.Equal(t, pickedIDs(whole), pickedIDs(walked), "seed %d probe %d mode %s n %d bypass %v", seed, probe, mode, n, d.bypass)
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

// TestQueueKeyMatchesSprintf keeps QueueKey the format the queues bucket was written with.
func TestQueueKeyMatchesSprintf(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := range 2000 {
		j := &Job{Job: events.Job{JobID: fmt.Sprintf("job-%d", i), QueueID: fmt.Sprintf("q%d", r.Intn(9)), Priority: r.Intn(400) - 200}, Seq: r.Uint64() >> r.Intn(64)}
		if r.Intn(3) == 0 {
			j.WorkerSelectors = []events.WorkerSelector{{Key: "k", Operator: events.OpEqual, Value: "v", Expedite: true}}
		}
		x := "n"
		if j.expedited() {
			x = "e"
		}
		require.Equal(t, fmt.Sprintf("%s.%s%03d.%020d.%s", j.QueueID, x, 100-j.Priority, j.Seq, j.JobID), QueueKey(j))
	}
}
