package matcher

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// TestRandomizedInvariants drives the engine with a few thousand random commands and
// ticks over 5 workers, 3 queues and up to 30 live jobs, and after every step checks
// the invariants of docs/design.md, with models of its own where it can:
//
//   - no job is assigned to two workers, no offer is accepted twice;
//   - a worker never holds more than its capacity, per total and per channel;
//   - no offer goes to a worker for a job it declined in its current registration,
//     before the retry time;
//   - every issued offer is in its job's outstanding list and its worker's loads;
//   - a refused command writes nothing and changes nothing;
//   - every queued job is in its queue exactly once, and no other job is;
//   - every change is in the Result's Ops (the KV model equals the engine), and Load
//     from them gives back the same engine;
//   - the engine is work-conserving: once no timer is due, no queued job without an
//     offer has an eligible worker;
//   - every worker is in an activity that exists, and takes offers exactly when its
//     activity does (activities are defined, changed and deleted along the run, in
//     use or not), and the counts of workers by activity match the workers;
//   - retention (a short one, and steps that jump past it): no job ended longer than
//     Retention ago and no worker inactive longer than that is still in memory, no
//     offer outlives its job, a job keeps at most one outstanding and one ended offer
//     per worker, and the engine's size is bounded by live work plus what ended within
//     the retention.
func TestRandomizedInvariants(t *testing.T) {
	seeds := []int64{1, 2, 3, 4}
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

type declineRec struct {
	epoch int
	retry *time.Time
}

type sim struct {
	t *testing.T
	r *rand.Rand
	h *harness

	workers []string
	configs map[string][]func(*events.WorkerRegister)
	queues  []string

	// the test's own models
	epoch     map[string]int  // registrations of each worker (grows on unavailable -> available)
	avail     map[string]bool // availability after the last step
	declines  map[string]map[string]declineRec
	assigned  map[string]string // job -> the worker of its job.assigned event
	accepted  map[string]bool   // offers with an offer.accepted event
	jobN      int
	creates   map[string]*events.JobCreated // CloudEvent id -> data, for re-sends
	createIDs []string
	counts    map[string]int
	// endedAt and inactiveAt are when each job ended and each worker became inactive,
	// from the events and snapshots of the steps (the retention model).
	endedAt    map[string]time.Time
	inactiveAt map[string]time.Time
	forgotten  map[string]bool // jobs forgotten (their ids may be created again)
	last       string          // digest after the previous step
	// lateAccept is set when the step accepts an issued offer at or after its expiry
	lateAccept bool
}

func newSim(t *testing.T, seed int64) *sim {
	s := &sim{
		t: t,
		r: rand.New(rand.NewSource(seed)),
		h: newHarness(t, Config{OfferExpiry: 20 * time.Second, QueueOfferExpiry: map[string]time.Duration{"q2": 7 * time.Second},
			Retention: simRetention}),
		workers:  []string{"w1", "w2", "w3", "w4", "w5"},
		queues:   []string{"q1", "q2", "q3"},
		epoch:    map[string]int{},
		avail:    map[string]bool{},
		declines: map[string]map[string]declineRec{},
		assigned: map[string]string{},
		accepted: map[string]bool{},
		creates:  map[string]*events.JobCreated{},
		counts:   map[string]int{},

		endedAt:    map[string]time.Time{},
		inactiveAt: map[string]time.Time{},
		forgotten:  map[string]bool{},
	}
	// every worker keeps its capacity configuration (the engine cannot give back
	// capacity a held job already takes); queues, labels and availability change.
	s.configs = map[string][]func(*events.WorkerRegister){
		"w1": fns(wCapacity(1, ch("voice", 1, 0))),
		"w2": fns(wCapacity(2, ch("voice", 1, 0), ch("chat", 1, 1))),
		"w3": fns(wCapacity(3, ch("voice", 2, 0), ch("chat", 1, 2))),
		"w4": fns(wCapacity(2, ch("chat", 1, 0))),
		"w5": fns(wCapacity(4, ch("voice", 1, 2), ch("chat", 2, 0))),
	}
	s.last = s.digest()
	return s
}

// simRetention is the randomized test's retention: short, so that jobs and workers
// are forgotten all along the run.
const simRetention = time.Minute

func (s *sim) pick(n int) int { return s.r.Intn(n) }

func (s *sim) run(steps int) {
	for i := 0; i < steps; i++ {
		s.h.advance(time.Duration(s.r.Intn(3000)) * time.Millisecond)
		name, o := s.step()
		s.counts[name]++
		s.after(i, name, o)
	}
	s.t.Logf("steps: %v; jobs %d, offers %d", s.counts, len(s.h.e.jobs), len(s.h.e.offers))
	// the run exercised the engine
	require.Positive(s.t, s.counts["late accept refused"])
	require.Positive(s.t, s.counts["job forgotten"])
	require.Positive(s.t, s.counts["worker forgotten"])
	require.Positive(s.t, s.counts["worker lost"])
	require.Positive(s.t, s.counts["worker back"])
	require.Positive(s.t, s.counts["job created again after forgotten"])
	require.Positive(s.t, s.counts["explain eligible"], "explain never found an eligible worker to compare")
	for _, k := range []string{"create", "accept", "decline", "complete", "close", "cancel", "register", "deregister", "update", "tick", "unassign", "job update", "past retention",
		"activity put", "activity delete"} {
		require.Positive(s.t, s.counts[k+" ok"], "no successful %s", k)
	}
	// activities: workers were in each, and refusals were exercised
	for _, k := range []string{"in break", "in lunch", "in training", "activity put refused", "activity delete refused", "register refused", "update refused"} {
		require.Positive(s.t, s.counts[k], "never %s", k)
	}
}

// step applies one random command or tick.
func (s *sim) step() (string, outcome) {
	h := s.h
	switch p := s.pick(100); {
	case p < 14:
		return "create", s.create()
	case p < 30:
		o, ok := s.someOffer(true)
		if !ok {
			return "tick", h.tick(h.now)
		}
		worker := o.WorkerID
		if s.pick(20) == 0 {
			worker = s.workers[s.pick(len(s.workers))]
		}
		if late := o.ExpiresAt.Add(time.Duration(s.r.Intn(2000)) * time.Millisecond); s.pick(15) == 0 && late.After(h.now) {
			h.now = late // a late answer, the expiry timer not fired yet
		}
		s.lateAccept = worker == o.WorkerID && !h.now.Before(o.ExpiresAt)
		return "accept", h.accept(o.JobID, o.OfferID, worker)
	case p < 41:
		o, ok := s.someOffer(true)
		if !ok {
			return "tick", h.tick(h.now)
		}
		var retry *time.Time
		if s.pick(2) == 0 {
			at := h.now.Add(time.Duration(s.r.Intn(90)-10) * time.Second)
			retry = &at
		}
		worker := o.WorkerID
		if s.pick(20) == 0 {
			worker = s.workers[s.pick(len(s.workers))]
		}
		return "decline", h.decline(o.JobID, o.OfferID, worker, retry)
	case p < 45: // answers to any offer, mostly stale
		o, ok := s.someOffer(false)
		if !ok {
			return "tick", h.tick(h.now)
		}
		if s.pick(2) == 0 {
			return "accept", h.accept(o.JobID, o.OfferID, o.WorkerID)
		}
		return "decline", h.decline(o.JobID, o.OfferID, o.WorkerID, nil)
	case p < 53:
		keep := func(j *Job) bool { return j.status() == lifecycle.JobAssigned }
		if s.pick(7) == 0 {
			keep = func(j *Job) bool { return j.Assignment != nil }
		}
		j, asg, ok := s.someJob(keep, 10)
		if !ok {
			return "tick", h.tick(h.now)
		}
		return "complete", h.complete(j, asg)
	case p < 62:
		keep := func(j *Job) bool { return j.status() == lifecycle.JobCompleted && j.ScheduledCloseAt == nil }
		if s.pick(7) == 0 {
			keep = func(j *Job) bool { return j.Assignment != nil }
		}
		j, asg, ok := s.someJob(keep, 10)
		if !ok {
			return "tick", h.tick(h.now)
		}
		var at *time.Time
		if s.pick(3) == 0 {
			x := h.now.Add(time.Duration(s.r.Intn(40)-5) * time.Second)
			at = &x
		}
		codes := []string{"Resolved", "", "Escalated"}
		return "close", h.close(j, asg, codes[s.pick(3)], at)
	case p < 65:
		keep := func(j *Job) bool { return !j.status().Terminal() }
		if s.pick(5) == 0 {
			keep = func(*Job) bool { return true }
		}
		j, _, ok := s.someJob(keep, 1)
		if !ok {
			return "tick", h.tick(h.now)
		}
		return "cancel", h.cancel(j)
	case p < 68:
		return "deregister", h.deregister(s.workers[s.pick(len(s.workers))])
	case p < 74:
		w := s.workers[s.pick(len(s.workers))]
		mods := append([]func(*events.WorkerRegister){wQueues(s.someQueues()...), wLabels(s.someLabels())}, s.configs[w]...)
		if s.pick(6) == 0 {
			mods = append(mods, wAvailable(false))
		}
		if s.pick(3) == 0 {
			mods = append(mods, wHeartbeat(1+s.pick(3)))
		}
		if s.pick(4) == 0 {
			mods = append(mods, wActivity(s.someActivity()))
		}
		if held := s.held(w); s.pick(2) == 0 || held > 0 {
			// the configured capacity, or a little less or more, never below what
			// held jobs take
			total := workerData(w, s.configs[w]...).TotalCapacity
			mods = append(mods, func(d *events.WorkerRegister) {
				d.TotalCapacity = intPtr(max(1, held, *total+s.pick(3)-1))
			})
		}
		return "register", h.register(w, mods...)
	case p < 78:
		w := s.workers[s.pick(len(s.workers))]
		d := events.WorkerRegister{WorkerID: w}
		if s.pick(2) == 0 {
			d.Queues = s.someQueues()
		}
		if s.pick(2) == 0 {
			d.Labels = s.someLabels()
		}
		if s.pick(2) == 0 {
			d.AvailableForOffers = new(s.pick(3) != 0)
		}
		if s.pick(3) == 0 {
			d.Activity = s.someActivity()
		}
		if x := h.e.workers[w]; x != nil && s.pick(3) == 0 {
			// a new total capacity, never below what held jobs take (the engine can
			// only give back offers); outstanding offers that no longer fit are revoked
			d.TotalCapacity = intPtr(max(1, s.held(w), x.TotalCapacity+s.pick(5)-2))
		}
		return "update", h.update(d)
	case p < 80: // wrong ids
		switch s.pick(4) {
		case 0:
			return "accept", h.accept("nope", "nope", "w1")
		case 1:
			return "decline", h.decline(s.anyJobID(), "nope", "w2", nil)
		case 2:
			return "complete", h.complete(s.anyJobID(), "nope")
		default:
			return "update", h.update(events.WorkerRegister{WorkerID: "ghost"})
		}
	case p < 82: // unassign, sometimes suspending, sometimes with a wrong assignment
		keep := func(j *Job) bool { return j.status() == lifecycle.JobAssigned }
		if s.pick(7) == 0 {
			keep = func(j *Job) bool { return !j.status().Terminal() }
		}
		j, asg, ok := s.someJob(keep, 10)
		if !ok {
			return "tick", h.tick(h.now)
		}
		return "unassign", h.unassign(j, asg, s.pick(3) == 0)
	case p < 84: // job.update: resume or suspend any live job
		j, _, ok := s.someJob(func(j *Job) bool { return !j.status().Terminal() }, 1)
		if !ok {
			return "tick", h.tick(h.now)
		}
		kind := events.MatchQueueAndMatch
		if s.pick(2) == 0 {
			kind = events.MatchSuspend
		}
		return "job update", h.updateMode(j, kind)
	case p < 87:
		return "tick", h.tick(h.advance(time.Duration(s.r.Intn(15000)) * time.Millisecond))
	case p < 90: // a heartbeat: most workers that track presence send them, some stop
		w := s.workers[s.pick(len(s.workers))]
		if s.pick(4) == 0 {
			return "heartbeat", h.tick(h.now)
		}
		return "heartbeat", h.record(h.e.Heartbeat(w, h.now))
	case p < 92: // past the retention of everything that ended so far
		return "past retention", h.tick(h.advance(simRetention + time.Duration(s.r.Intn(int(simRetention/time.Millisecond)))*time.Millisecond))
	case p < 95: // define, change or delete an activity, often one workers are in
		id := []string{"lunch", "training", "lunch", "training", events.ActivityBreak}[s.pick(5)]
		if s.pick(3) == 0 {
			return "activity delete", h.deletePolicy(events.KindActivity, id, nil)
		}
		if s.pick(3) == 0 { // a policy file: all of it applies, or none (invariant 23)
			mode := []string{events.ModeLongestIdle, events.ModeRoundRobin, "fastest"}[s.pick(3)]
			return "policy apply", h.apply(events.PolicyApply{Puts: []events.PolicyPut{
				put(events.KindActivity, id, fmt.Sprintf(`{"available":%t}`, s.pick(2) == 0)),
				put(events.KindDistributionPolicy, "d1", fmt.Sprintf(`{"offerExpiresAfterSeconds":%d,"mode":{"kind":%q}}`, 1+s.pick(5), mode)),
				put(events.KindQueue, s.queues[0], `{"distributionPolicyId":"d1"}`),
			}})
		}
		return "activity put", h.putActivity(id, s.pick(2) == 0)
	default:
		at, ok := h.e.NextDeadline()
		if !ok || at.Before(h.now) {
			at = h.now
		}
		return "tick", h.tick(at)
	}
}

func (s *sim) create() outcome {
	h := s.h
	live := 0
	for _, j := range h.e.jobs {
		if !j.status().Terminal() {
			live++
		}
	}
	switch p := s.pick(20); {
	case p == 0 && len(s.createIDs) > 0: // the same event again
		id := s.createIDs[s.pick(len(s.createIDs))]
		return h.doID(id, events.TypeJobCreated, s.creates[id])
	case p == 1 && len(s.createIDs) > 0: // an existing job id from another event
		id := s.createIDs[s.pick(len(s.createIDs))]
		return h.do(events.TypeJobCreated, s.creates[id])
	case p == 2: // invalid
		return h.create("bad", "q1", jPriority(150))
	case live >= 30:
		return h.tick(h.now)
	}
	s.jobN++
	mods := []func(*events.JobCreated){jPriority([]int{0, 0, 5, -5, 100}[s.pick(5)])}
	if s.pick(3) == 0 {
		mods = append(mods, jChannel("chat"))
	}
	if s.pick(4) == 0 {
		ops := events.Operators()
		mods = append(mods, jSelectors(sel("skill", ops[s.pick(len(ops))], float64(1+s.pick(5)))))
	}
	if s.pick(10) == 0 {
		mods = append(mods, jSelectors(sel("id", events.OpNotEqual, s.workers[s.pick(5)])))
	}
	switch s.pick(10) {
	case 0:
		mods = append(mods, jMode(events.MatchSuspend, nil))
	case 1:
		at := h.now.Add(time.Duration(s.r.Intn(20000)) * time.Millisecond)
		mods = append(mods, jMode(events.MatchScheduleAndSuspend, &at))
	}
	d := jobData(fmt.Sprintf("job%d", s.jobN), s.queues[s.pick(len(s.queues))], mods...)
	h.cmdN++
	id := fmt.Sprintf("cmd%d", h.cmdN)
	s.creates[id] = d
	s.createIDs = append(s.createIDs, id)
	return h.doID(id, events.TypeJobCreated, d)
}

// held is the capacity worker w's held (assigned or completed) jobs take.
func (s *sim) held(w string) int {
	n := 0
	if x := s.h.e.workers[w]; x != nil {
		for _, l := range x.Loads {
			if l.OfferID == "" {
				n += l.Cost
			}
		}
	}
	return n
}

func (s *sim) someQueues() []string {
	var qs []string
	for _, q := range s.queues {
		if s.pick(2) == 0 {
			qs = append(qs, q)
		}
	}
	if len(qs) == 0 {
		qs = []string{s.queues[s.pick(len(s.queues))]}
	}
	return qs
}

// someActivity is a built-in activity, one the test defines (when it exists), or
// one that never exists.
func (s *sim) someActivity() string {
	return []string{events.ActivityAvailable, events.ActivityOffline, events.ActivityBreak, "lunch", "training", "nap"}[s.pick(6)]
}

func (s *sim) someLabels() events.Labels {
	return events.Labels{"skill": float64(1 + s.pick(5)), "lang": []string{"en", "fr"}[s.pick(2)]}
}

// someOffer picks an offer, in a deterministic order: an issued one, or any.
func (s *sim) someOffer(issued bool) (events.Offer, bool) {
	var ids []string
	for id, o := range s.h.e.offers {
		if !issued || o.status() == lifecycle.OfferIssued {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return events.Offer{}, false
	}
	sort.Strings(ids)
	o, _ := s.h.e.Offer(ids[s.pick(len(ids))])
	return o, true
}

// someJob picks a job matching keep, and its assignment id (wrong one time in wrongOneIn).
func (s *sim) someJob(keep func(*Job) bool, wrongOneIn int) (string, string, bool) {
	var ids []string
	for id, j := range s.h.e.jobs {
		if keep(j) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", "", false
	}
	sort.Strings(ids)
	j := s.h.e.jobs[ids[s.pick(len(ids))]]
	asg := "none"
	if j.Assignment != nil {
		asg = j.Assignment.AssignmentID
	}
	if s.pick(wrongOneIn) == 0 {
		asg = "wrong"
	}
	return j.JobID, asg, true
}

func (s *sim) anyJobID() string {
	if s.jobN == 0 {
		return "job0"
	}
	return fmt.Sprintf("job%d", 1+s.pick(s.jobN))
}

// digest is a cheap fingerprint of what a refused command could have touched.
func (s *sim) digest() string {
	e := s.h.e
	out := fmt.Sprintf("jobs=%d offers=%d workers=%d seq=%d timers=%d\n", len(e.jobs), len(e.offers), len(e.workers), e.seq, len(e.timers))
	for _, w := range s.workers {
		if x := e.workers[w]; x != nil {
			out += string(mustJSON(x)) + "\n"
		}
	}
	for _, q := range s.queues {
		for _, j := range e.queues[q].jobsOrNil() {
			out += string(mustJSON(j)) + "\n"
			for _, id := range j.OfferIDs {
				out += string(mustJSON(e.offers[id])) + "\n"
			}
		}
	}
	return out
}

func (q *Queue) jobsOrNil() []*Job {
	if q == nil {
		return nil
	}
	return q.jobs
}

// after checks everything after one step.
func (s *sim) after(i int, name string, o outcome) {
	t, h := s.t, s.h
	if o.Result != nil && o.Err != nil {
		require.Empty(t, o.Ops, "step %d: refused %s wrote something", i, name)
		for _, e := range o.Evs {
			require.Equal(t, events.TypeJobRejected, e.Type, "step %d: refused %s published %s", i, name, e.Type)
		}
		require.Equal(t, s.last, s.digest(), "step %d: refused %s (%v) changed the engine", i, name, o.Err)
		s.counts[name+" refused"]++
	} else if o.Result != nil {
		s.counts[name+" ok"]++
	}
	if s.lateAccept {
		require.NotNil(t, o.Err, "step %d: an accept after the offer's expiry was taken", i)
		require.ErrorIs(t, o.Err, events.ErrOfferExpired)
		s.lateAccept = false
		s.counts["late accept refused"]++
	}
	// availability and registration epochs, from the public snapshots
	for _, w := range s.workers {
		snap, ok := h.e.Worker(w)
		if !ok {
			continue
		}
		if snap.AvailableForOffers && !s.avail[w] {
			s.epoch[w]++
		}
		s.avail[w] = snap.AvailableForOffers
		s.counts["in "+snap.Activity]++
	}
	for _, e := range o.Evs {
		switch e.Type {
		case events.TypeWorkerDisconnected:
			s.counts["worker lost"]++
		case events.TypeWorkerReconnected:
			s.counts["worker back"]++
		case events.TypeOfferDeclined:
			m := s.declines[e.Offer.JobID]
			if m == nil {
				m = map[string]declineRec{}
				s.declines[e.Offer.JobID] = m
			}
			m[e.Offer.WorkerID] = declineRec{epoch: s.epoch[e.Offer.WorkerID], retry: e.Offer.RetryOfferAt}
		case events.TypeOfferIssued:
			d, ok := s.declines[e.Offer.JobID][e.Offer.WorkerID]
			if ok && d.epoch == s.epoch[e.Offer.WorkerID] {
				require.True(t, d.retry != nil && !h.now.Before(*d.retry),
					"step %d: job %s offered again to %s, who declined it in this registration (retry %v, now %s)",
					i, e.Offer.JobID, e.Offer.WorkerID, d.retry, h.now)
			}
			require.True(t, s.avail[e.Offer.WorkerID], "step %d: offer to unavailable worker %s", i, e.Offer.WorkerID)
		case events.TypeOfferAccepted:
			require.False(t, s.accepted[e.Offer.OfferID], "step %d: offer %s accepted twice", i, e.Offer.OfferID)
			s.accepted[e.Offer.OfferID] = true
		case events.TypeJobUnassigned:
			delete(s.assigned, e.Job.JobID)
		case events.TypeJobAssigned:
			prev, ok := s.assigned[e.Job.JobID]
			require.False(t, ok, "step %d: job %s assigned to %s and again to %s", i, e.Job.JobID, prev, e.Job.Assignment.WorkerID)
			s.assigned[e.Job.JobID] = e.Job.Assignment.WorkerID
		}
	}
	checkInvariants(t, h.e)
	s.checkWorkConserving(i)
	s.checkExplain(i)
	s.checkRetention(i, o)
	if i%50 == 49 {
		requireKVMatches(t, h.kv, h.e)
	}
	if i%400 == 399 { // restart: load a new engine from the KV and carry on with it
		h2 := h.reload()
		require.Equal(t, dump(h.e), dump(h2.e), "step %d: Load gave a different engine", i)
		s.h = h2
		s.h.all = nil
		o := h2.record(h2.e.Resume(h2.now))
		if o.Result != nil {
			s.counts["resume changed"]++
		}
		checkInvariants(t, h2.e)
		s.h.lastTick = h2.now
		s.checkRetention(i, o)
	}
	s.last = s.digest()
}

// checkRetention checks what the engine keeps against the test's model of when each
// job ended and each worker became inactive.
func (s *sim) checkRetention(i int, o outcome) {
	t, e, h := s.t, s.h.e, s.h
	for _, x := range o.Evs {
		switch x.Type {
		case events.TypeWorkerRegistered, events.TypeWorkerUpdated, events.TypeWorkerDeregistered:
			delete(s.inactiveAt, x.Worker.WorkerID) // a command restarts the worker's retention
		case events.TypeJobReceived:
			if s.forgotten[x.Job.JobID] {
				s.counts["job created again after forgotten"]++
				delete(s.forgotten, x.Job.JobID)
			}
		case events.TypeJobClosed, events.TypeJobCancelled:
			s.endedAt[x.Job.JobID] = x.Time
		}
	}
	// jobs: a terminal job is kept exactly until Retention after it ended
	for id, at := range s.endedAt {
		j := e.jobs[id]
		if j == nil {
			require.False(t, h.lastTick.Before(at.Add(simRetention)), "step %d: job %s forgotten before its retention ran out", i, id)
			delete(s.endedAt, id)
			s.forgetJob(id)
			s.counts["job forgotten"]++
			continue
		}
		require.True(t, j.status().Terminal(), "step %d: job %s ended but is %s", i, id, j.Status)
		require.NotNil(t, j.EndedAt, "step %d: job %s has no end time", i, id)
		require.True(t, at.Equal(*j.EndedAt), "step %d: job %s ended at %s, stored %s", i, id, at, j.EndedAt)
		require.True(t, h.lastTick.Before(at.Add(simRetention)), "step %d: job %s ended at %s is still kept at %s", i, id, at, h.lastTick)
	}
	for id, j := range e.jobs {
		if j.status().Terminal() {
			_, ok := s.endedAt[id]
			require.True(t, ok, "step %d: terminal job %s without an end event", i, id)
		}
	}
	// workers: an inactive worker is kept exactly until Retention after it became inactive
	for _, w := range s.workers {
		x := e.workers[w]
		at, tracked := s.inactiveAt[w]
		switch {
		case x == nil:
			if tracked {
				require.False(t, h.lastTick.Before(at.Add(simRetention)), "step %d: worker %s forgotten before its retention ran out", i, w)
				delete(s.inactiveAt, w)
				s.counts["worker forgotten"]++
			}
		case x.State == events.WorkerInactive:
			if !tracked {
				at = h.now
				s.inactiveAt[w] = at
			}
			require.NotNil(t, x.InactiveSince, "step %d: inactive worker %s has no inactiveSince", i, w)
			require.True(t, at.Equal(*x.InactiveSince), "step %d: worker %s inactive since %s, stored %s", i, w, at, x.InactiveSince)
			require.True(t, h.lastTick.Before(at.Add(simRetention)), "step %d: worker %s inactive since %s is still kept at %s", i, w, at, h.lastTick)
		default:
			delete(s.inactiveAt, w)
			require.Nil(t, x.InactiveSince, "step %d: %s worker %s has inactiveSince", i, x.State, w)
		}
	}
	checkRetained(t, e)
}

// forgetJob drops a forgotten job from the test's models (its id may be used again).
func (s *sim) forgetJob(id string) {
	delete(s.assigned, id)
	delete(s.declines, id)
	s.forgotten[id] = true
}

// checkRetained checks that an engine keeps only what live work and the retention
// need: the offer indexes hold exactly the offers; a job keeps at most one outstanding
// and one ended offer per worker; an offer of a forgotten worker is the accepted offer
// its job's assignment names; and so the engine's size is bounded by its live work
// and what ended within the retention.
func checkRetained(t testing.TB, e *Engine) {
	t.Helper()
	n := 0
	for jobID, set := range e.offersByJob {
		for id, o := range set {
			if e.offers[id] != o || o.JobID != jobID || e.offersByWorker[o.WorkerID][id] != o {
				t.Fatalf("retention: offer %s is misindexed", id)
			}
			n++
		}
	}
	if n != len(e.offers) {
		t.Fatalf("retention: %d offers indexed by job, %d offers", n, len(e.offers))
	}
	n = 0
	for _, set := range e.offersByWorker {
		n += len(set)
	}
	if n != len(e.offers) {
		t.Fatalf("retention: %d offers indexed by worker, %d offers", n, len(e.offers))
	}
	type pair struct{ job, worker string }
	issued, ended := map[pair]int{}, map[pair]int{}
	for id, o := range e.offers {
		j := e.jobs[o.JobID]
		if j == nil {
			t.Fatalf("retention: offer %s outlives its job %s", id, o.JobID)
		}
		if e.workers[o.WorkerID] == nil && (j.Assignment == nil || j.Assignment.OfferID != id) {
			t.Fatalf("retention: offer %s of forgotten worker %s is kept", id, o.WorkerID)
		}
		p := pair{o.JobID, o.WorkerID}
		if o.status() == lifecycle.OfferIssued {
			issued[p]++
		} else {
			ended[p]++
		}
		if issued[p] > 1 || ended[p] > 1 {
			t.Fatalf("retention: job %s keeps %d outstanding and %d ended offers to %s", p.job, issued[p], ended[p], p.worker)
		}
	}
	liveJobs, queued := 0, 0
	for _, j := range e.jobs {
		if !j.status().Terminal() {
			liveJobs++
		}
	}
	for _, q := range e.queues {
		if len(q.jobs) == 0 {
			t.Fatalf("retention: empty queue %s is kept", q.ID)
		}
		queued += len(q.jobs)
	}
	// jobs and workers in memory are live or ended within the retention (checked by
	// the caller); offers are at most two per job and worker, plus the assignment's.
	jobs, workers := len(e.jobs), len(e.workers)
	size := jobs + len(e.offers) + workers + queued
	if bound := jobs + workers + jobs*(2*workers+1) + liveJobs; size > bound {
		t.Fatalf("retention: engine holds %d entities, more than %d for %d jobs (%d live) and %d workers", size, bound, jobs, liveJobs, workers)
	}
	for q, ts := range e.rates.times {
		if len(ts) == 0 || len(ts) > rateSamples {
			t.Fatalf("retention: rates of queue %s hold %d times", q, len(ts))
		}
	}
}

// checkWorkConserving: when no timer is due, every queued job without an outstanding
// offer has no eligible worker.
func (s *sim) checkWorkConserving(i int) {
	e := s.h.e
	if at, ok := e.NextDeadline(); ok && !at.After(s.h.now) {
		return
	}
	e.now = s.h.now
	for _, q := range s.queues {
		for _, j := range e.queues[q].jobsOrNil() {
			if len(j.OfferIDs) > 0 {
				continue
			}
			for _, w := range s.workers {
				if x := e.workers[w]; x != nil {
					_, ok := e.eligible(j, x, e.target(j), false)
					require.False(s.t, ok, "step %d: job %s waits with no offer while %s is eligible", i, j.JobID, w)
				}
			}
		}
	}
}
