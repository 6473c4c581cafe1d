package matcher

import (
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// reload builds a new engine from the harness's KV model, as the router does at start,
// and a harness around it that continues with the same clock, the same command and
// id counters, and a copy of the KV model.
func (h *harness) reload() *harness {
	h.t.Helper()
	ids := &idSeq{n: h.ids.n}
	cfg := h.cfg
	cfg.NewID = ids.next
	e, err := New(cfg)
	require.NoError(h.t, err)
	require.NoError(h.t, e.Load(h.kv.state()))
	kv := kvModel{}
	for b, m := range h.kv {
		kv[b] = map[string][]byte{}
		for k, v := range m {
			kv[b][k] = append([]byte(nil), v...)
		}
	}
	return &harness{t: h.t, e: e, cfg: h.cfg, ids: ids, cmdN: h.cmdN, now: h.now, lastTick: h.lastTick, kv: kv}
}

// requireSameEngine checks that two engines hold the same state: the same entities
// (as stored and as public snapshots), the same queues in the same order, the same
// next deadline.
func requireSameEngine(t testing.TB, want, got *Engine) {
	t.Helper()
	require.Equal(t, dump(want), dump(got))
	qs := map[string]bool{}
	for q := range want.queues {
		qs[q] = true
	}
	for q := range got.queues {
		qs[q] = true
	}
	for q := range qs {
		require.Equal(t, nilIfEmpty(want.QueueJobIDs(q)), nilIfEmpty(got.QueueJobIDs(q)), "queue %s", q)
	}
	require.Equal(t, nextDeadline(want), nextDeadline(got), "next deadline")
	policies := func(e *Engine) map[string]events.Policy {
		out := map[string]events.Policy{}
		for k, p := range e.policies {
			out[k] = p.Policy
		}
		return out
	}
	require.Equal(t, policies(want), policies(got), "policies")
	require.Equal(t, want.cursors, got.cursors, "round-robin cursors")
}

// sameEvents compares two event lists as multisets of (type, subject, data): the
// order of timers due at the same instant, and so the ids of their events, may differ.
func sameEvents(t testing.TB, want, got []ev) {
	t.Helper()
	key := func(evs []ev) []string {
		var out []string
		for _, e := range evs {
			out = append(out, string(e.Type)+" "+e.Subject+" "+jsonString(t, e.Job)+jsonString(t, e.Offer)+jsonString(t, e.Worker))
		}
		sort.Strings(out)
		return out
	}
	require.Equal(t, key(want), key(got))
}

// richState drives an engine through every kind of state: queued jobs with and
// without offers, declines with and without retry time, assigned, completed with a
// close scheduled, closed and cancelled jobs, a draining and an inactive worker.
// A retention, when given, replaces the default.
func richState(t *testing.T, retention ...time.Duration) *harness {
	cfg := Config{OfferExpiry: 30 * time.Second, QueueOfferExpiry: map[string]time.Duration{"q2": 10 * time.Second}}
	for _, r := range retention {
		cfg.Retention = r
	}
	h := newHarness(t, cfg)
	step := func(o outcome) outcome { t.Helper(); requireOK(t, o); h.advance(time.Second); return o }
	step(h.register("alice", wQueues("q1", "q2"), wCapacity(3, ch("voice", 1, 0), ch("chat", 1, 1)), wLabels(events.Labels{"lang": "fr", "level": float64(3)})))
	step(h.register("bob", wLabels(events.Labels{"lang": "en"})))
	step(h.register("carol", wQueues("q2"), wCapacity(1, ch("chat", 1, 0))))
	step(h.register("dave", wQueues("q3")))
	step(h.register("erin", wAvailable(false)))

	// dave takes a q3 job and leaves: draining
	step(h.create("d1", "q3"))
	h.assign("d1", "dave")
	step(h.deregister("dave"))

	// q1: alice closes one, completes another with a close scheduled
	step(h.create("closed", "q1", jPriority(10)))
	a := h.assign("closed", "alice")
	step(h.complete("closed", a))
	step(h.close("closed", a, "Resolved", nil))
	step(h.create("wrapup", "q1"))
	a = h.assign("wrapup", h.offeredTo("wrapup"))
	step(h.complete("wrapup", a))
	closeAt := h.now.Add(90 * time.Second)
	step(h.close("wrapup", a, "Resolved", &closeAt))

	// declines: for good, and with a retry time
	step(h.create("declined", "q1", jPriority(-5), jSelectors(sel("lang", events.OpEqual, "fr"))))
	step(h.decline("declined", h.offerFor("declined").OfferID, "alice", nil))
	step(h.create("retry", "q1", jPriority(50)))
	w := h.offeredTo("retry")
	retryAt := h.now.Add(2 * time.Minute)
	step(h.decline("retry", h.offerFor("retry").OfferID, w, &retryAt))

	// more queued work in q1 and q2, a cancelled job, an assigned job
	step(h.create("cancelled", "q2", jChannel("chat")))
	step(h.cancel("cancelled"))
	for _, id := range []string{"a", "b", "c", "d"} {
		step(h.create(id, "q1", jPriority(len(id)*7%3)))
	}
	step(h.create("chat1", "q2", jChannel("chat")))
	step(h.create("chat2", "q2", jChannel("chat"), jPriority(3)))
	if o := h.outstanding("chat2"); len(o) == 1 {
		h.assign("chat2", o[0].WorkerID)
	}
	checkInvariants(t, h.e)
	return h
}

// Load rebuilds, from what the Results wrote, an engine equal to the one that wrote it.
func TestLoadRebuildsTheSameEngine(t *testing.T) {
	h := richState(t)
	h.tick(h.now) // nothing is due; the engine is at rest
	requireKVMatches(t, h.kv, h.e)

	h2 := h.reload()
	require.Equal(t, h.e.seq, h2.e.seq)
	// Resume at the same instant has nothing to do: no timer is due, every queue is matched
	require.Nil(t, h2.e.Resume(h.now))
	requireSameEngine(t, h.e, h2.e)
	requireKVMatches(t, h2.kv, h2.e)
	checkInvariants(t, h2.e)

	// both engines now behave the same, command for command and timer for timer
	lockstep := func(f func(h *harness) outcome) {
		t.Helper()
		o1, o2 := f(h), f(h2)
		if o1.Result == nil || o2.Result == nil {
			require.Equal(t, o1.Result == nil, o2.Result == nil)
		} else {
			require.Equal(t, o1.Ops, o2.Ops)
			require.Equal(t, o1.Reply, o2.Reply)
			require.Equal(t, o1.Err, o2.Err)
			sameEvents(t, o1.Evs, o2.Evs)
		}
		requireSameEngine(t, h.e, h2.e)
		checkInvariants(t, h2.e)
	}
	for _, id := range []string{"a", "b"} {
		if o := h.outstanding(id); len(o) == 1 {
			offer, worker := o[0].OfferID, o[0].WorkerID
			lockstep(func(h *harness) outcome { return h.accept(id, offer, worker) })
		}
	}
	lockstep(func(h *harness) outcome { return h.create("e", "q1", jPriority(99)) })
	lockstep(func(h *harness) outcome { return h.register("frank", wQueues("q1", "q2", "q3")) })
	sched := *h.job("wrapup").ScheduledCloseAt
	// walk every timer: offer expiries (with re-offers), the retry, the scheduled close
	fired := map[events.Type]int{}
	for i := 0; i < 50; i++ {
		at, ok := h.e.NextDeadline()
		if !ok {
			break
		}
		var evs []ev
		lockstep(func(h *harness) outcome { o := h.tick(at); evs = o.Evs; return o })
		for _, e := range evs {
			fired[e.Type]++
		}
		if i%3 == 0 { // answer some offers so that the walk ends
			for _, id := range []string{"declined", "retry", "c", "d", "e", "chat1"} {
				if os := h.outstanding(id); len(os) == 1 {
					o := os[0]
					lockstep(func(h *harness) outcome { return h.accept(id, o.OfferID, o.WorkerID) })
				}
			}
		}
	}
	require.Positive(t, fired[events.TypeOfferExpired], "offers expired after the reload")
	require.Positive(t, fired[events.TypeJobClosed], "the scheduled close happened after the reload")
	require.Equal(t, "closed", h2.job("wrapup").Status)
	require.Equal(t, sched, *h2.job("wrapup").Assignment.ClosedAt, "closed at the scheduled time")
}

// Loading after every single step gives back the engine as it was at that step.
func TestLoadAfterEveryStep(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 20 * time.Second})
	check := func(o outcome) {
		t.Helper()
		h2 := h.reload()
		require.Equal(t, dump(h.e), dump(h2.e))
		checkInvariants(t, h2.e)
		requireKVMatches(t, h2.kv, h2.e)
	}
	check(h.register("alice", wCapacity(2)))
	check(h.register("bob"))
	check(h.create("j1", "q1"))
	check(h.create("j2", "q1", jPriority(4)))
	check(h.create("j3", "q1"))
	check(h.decline("j2", h.offerFor("j2").OfferID, h.offeredTo("j2"), nil))
	check(h.tick(h.advance(20 * time.Second)))
	a := h.assign("j1", h.offeredTo("j1"))
	check(h.complete("j1", a))
	later := h.now.Add(time.Minute)
	check(h.close("j1", a, "Resolved", &later))
	check(h.cancel("j3"))
	check(h.deregister("bob"))
	check(h.register("bob"))
	check(h.tick(later))
}

// Offers that were outstanding when the engine stopped expire after the reload.
func TestExpiryAfterReload(t *testing.T) {
	h := newHarness(t, Config{OfferExpiry: 15 * time.Second})
	requireOK(t, h.register("alice"))
	h.advance(time.Second)
	requireOK(t, h.register("bob"))
	requireOK(t, h.create("j1", "q1"))
	o := h.offerFor("j1")

	h2 := h.reload()
	require.Equal(t, deadline{o.ExpiresAt, true}, nextDeadline(h2.e))
	require.Nil(t, h2.tick(o.ExpiresAt.Add(-time.Nanosecond)).Result)
	out := h2.tick(o.ExpiresAt)
	require.Equal(t, []events.Type{events.TypeOfferExpired, events.TypeOfferIssued}, out.types())
	require.Equal(t, o.OfferID, out.Evs[0].Offer.OfferID)
	require.Equal(t, "bob", out.issued()[0].WorkerID)
	requireRefused(t, h2.accept("j1", o.OfferID, "alice"), events.ErrOfferExpired)
	h2.assign("j1", "bob")
	checkInvariants(t, h2.e)
}

// Resume fires the timers that came due while the router was down, exactly as Tick
// would have, and then matches every queue.
func TestResumeFiresTimersDueWhileDown(t *testing.T) {
	h := richState(t)
	h2 := h.reload()

	down := h.now.Add(10 * time.Minute) // past every expiry, the retry and the close
	o1 := h.tick(down)
	require.NotNil(t, o1.Result)
	res := h2.e.Resume(down)
	require.NotNil(t, res)
	h2.now = down
	o2 := h2.record(res)
	require.Equal(t, o1.Ops, o2.Ops)
	sameEvents(t, o1.Evs, o2.Evs)
	require.NotEmpty(t, o2.ofType(events.TypeOfferExpired))
	require.Len(t, o2.ofType(events.TypeJobClosed), 1)
	require.Equal(t, "wrapup", o2.ofType(events.TypeJobClosed)[0].Job.JobID)
	for _, e := range o2.ofType(events.TypeOfferIssued) {
		require.Equal(t, down, e.Offer.IssuedAt)
		require.Equal(t, down.Add(h.e.offerExpiry(e.Offer.QueueID)), e.Offer.ExpiresAt)
	}
	requireSameEngine(t, h.e, h2.e)
	requireKVMatches(t, h2.kv, h2.e)
	checkInvariants(t, h2.e)
	// and a second Resume has nothing left to do
	require.Nil(t, h2.e.Resume(down))
}

// Resume matches every queue, even with no timer due: a worker made available in the
// stored state (an operator's edit, a restore) gets the waiting jobs.
func TestResumeMatchesEveryQueue(t *testing.T) {
	h := newHarness(t, Config{})
	requireOK(t, h.register("alice", wAvailable(false), wQueues("q1", "q2"), wCapacity(2)))
	requireOK(t, h.create("j1", "q1"))
	requireOK(t, h.create("j2", "q2"))
	require.Equal(t, "", h.offeredTo("j1"))

	var w Worker
	require.NoError(t, json.Unmarshal(h.kv[events.BucketWorkers]["alice"], &w))
	w.AvailableForOffers = true
	w.Epoch++
	h.kv[events.BucketWorkers]["alice"] = mustJSON(&w)

	h2 := h.reload()
	out := h2.record(h2.e.Resume(h2.now))
	require.Equal(t, []string{"j1", "j2"}, jobIDs(out.issued()))
	checkInvariants(t, h2.e)
}

func TestLoadRejectsBadState(t *testing.T) {
	e, err := New(Config{})
	require.NoError(t, err)
	require.ErrorContains(t, e.Load(State{Jobs: map[string][]byte{"j1": []byte("{")}}), `load job "j1"`)
	require.ErrorContains(t, e.Load(State{Workers: map[string][]byte{"w1": []byte("[]")}}), `load worker "w1"`)
	require.ErrorContains(t, e.Load(State{Offers: map[string][]byte{"o1": []byte("nope")}}), `load offer "o1"`)
	require.NoError(t, e.Load(State{}))
	require.Empty(t, dump(e)["queue/q1"])
}

// Load replaces whatever the engine held.
func TestLoadReplacesState(t *testing.T) {
	h := richState(t)
	other := newHarness(t, Config{})
	requireOK(t, other.register("zed"))
	requireOK(t, other.create("z1", "q9"))
	require.NoError(t, h.e.Load(other.kv.state()))
	require.Equal(t, dump(other.e), dump(h.e))
	require.Equal(t, nextDeadline(other.e), nextDeadline(h.e))
}
