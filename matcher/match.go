package matcher

import (
	"sort"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/expr"
	"github.com/patchbay/patchbay/lifecycle"
)

// matchTouched offers what the command changed. Between commands no queued job that
// could take another offer has an eligible worker with room, so:
//   - a queue whose policy changed (or every queue, at resume) is matched whole, in
//     dispatch order;
//   - a worker that gained room (new, freed, changed) is offered the jobs of its
//     queues it can take, in dispatch order; the index of each queue's jobs by their
//     equality selectors narrows the jobs to look at;
//   - the jobs the command touched (created, back from an offer, moved) are matched,
//     each against the workers the index gives for it.
func (e *Engine) matchTouched() {
	for _, q := range sortedKeys(e.touched) {
		if x := e.queues[q]; x != nil { // its distribution may have changed
			x.setMaxOffers(e.distributionOf(q).max)
		}
		e.matchQueue(q)
	}
	freed := map[string][]*Worker{}
	for _, id := range sortedKeys(e.touchedWorkers) {
		if w := e.workers[id]; w != nil && w.takesOffers() && w.hasRoom() {
			for _, q := range w.Queues {
				if !e.touched[q] {
					freed[q] = append(freed[q], w)
				}
			}
		}
	}
	for _, q := range sortedKeys(keysOf(freed)) {
		e.matchFreed(q, freed[q])
	}
	jobs := make([]*Job, 0, len(e.touchedJobs))
	for id := range e.touchedJobs {
		if j := e.jobs[id]; j != nil && j.status() == lifecycle.JobQueued && !e.touched[j.QueueID] {
			jobs = append(jobs, j)
		}
	}
	sort.Slice(jobs, func(a, b int) bool { // queue by queue, in dispatch order
		if jobs[a].QueueID != jobs[b].QueueID {
			return jobs[a].QueueID < jobs[b].QueueID
		}
		return e.queue(jobs[a].QueueID).less(jobs[a], jobs[b])
	})
	for _, j := range jobs {
		e.matchJob(j, e.distributionOf(j.QueueID), nil)
	}
}

func keysOf[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// matchFreed offers the workers that gained room the jobs of a queue they can take,
// in dispatch order, until they are full. Each such job goes to the workers its
// distribution picks (a freed worker among them, unless a better one can take it too).
// The walk visits only the jobs the index gives for the workers, from the head of the
// queue, and stops as soon as they are full.
func (e *Engine) matchFreed(queueID string, ws []*Worker) {
	q := e.queues[queueID]
	if q == nil || len(q.jobs) == 0 {
		return
	}
	dist := e.distributionOf(queueID)
	try := func(j *Job) bool {
		room := false
		for _, w := range ws {
			room = room || w.hasRoom()
		}
		if !room {
			return false
		}
		if len(j.OfferIDs) >= dist.max || j.status() != lifecycle.JobQueued {
			return true
		}
		t := e.target(j)
		for _, w := range ws {
			if _, ok := e.eligible(j, w, t, dist.bypass); ok {
				e.matchJob(j, dist, nil)
				break
			}
		}
		return true
	}
	if dist.bypass { // selectors do not count: every job may be for them
		// Offering changes no queue, so the walk may read q.jobs as it goes.
		for i := 0; i < len(q.jobs) && try(q.jobs[i]); i++ {
		}
		return
	}
	q.walkFor(ws, try)
}

// matchJob offers j to the workers its distribution picks, from pool (nil: the
// index's pool for j): up to maxConcurrentOffers at once counting the offers already
// out, and a first offer only when at least minConcurrentOffers workers can take it.
// It returns the workers offered to.
func (e *Engine) matchJob(j *Job, dist distribution, pool []*Worker) []*Worker {
	have := len(j.OfferIDs)
	if have >= dist.max || j.status() != lifecycle.JobQueued {
		return nil
	}
	picks := e.pick(j, pool, dist, dist.max-have)
	if have == 0 && len(picks) < dist.min {
		return nil
	}
	offered := make([]*Worker, 0, len(picks))
	for _, p := range picks {
		e.issue(j, p.w, p.cost)
		offered = append(offered, p.w)
		if dist.mode == events.ModeRoundRobin {
			e.cursors[j.QueueID] = p.w.WorkerID
			e.dirtyCursor[j.QueueID] = true
		}
	}
	return offered
}

// matchQueue walks a queue in dispatch order and offers each job to the workers its
// distribution picks: up to maxConcurrentOffers at once (counting the offers already
// out), and a first offer only when at least minConcurrentOffers workers can take it.
// It stops early when no worker of the queue has room.
func (e *Engine) matchQueue(queueID string) {
	q := e.queues[queueID]
	if q == nil || len(q.jobs) == 0 {
		return
	}
	dist := e.distributionOf(queueID)
	for _, j := range append([]*Job(nil), q.jobs...) {
		if e.index.roomIn(queueID) == 0 {
			return // every worker of the queue is full: nothing more can be offered
		}
		e.matchJob(j, dist, nil)
	}
}

// candidates are the queue's workers available for offers with room for one more job
// on some channel.
func (e *Engine) candidates(queueID string) []*Worker {
	rs := e.index.room[queueID]
	if rs == nil {
		return nil
	}
	ws := make([]*Worker, 0, rs.byID.Len())
	rs.byID.Ascend(func(w *Worker) bool {
		ws = append(ws, w)
		return true
	})
	return ws
}

// pick is a candidate worker for a job: what the offer would cost it, and what
// orders it.
type pick struct {
	w     *Worker
	cost  int
	rank  int     // expiry rank: 0 unless it let an offer for the job expire
	score float64 // best-worker score
}

// pick chooses up to n eligible workers for j in the distribution's order. Workers
// that let an offer for j expire come after the others (the job moves on to the next
// eligible worker), the one whose offer expired longest ago first; then, by mode:
//   - longestIdle: lowest load ratio, then longest since the last assignment;
//   - roundRobin: the workers after the one offered last (by worker id), wrapping;
//   - bestWorker: highest score, ties to the longest idle.
//
// Without a list of candidates, the workers are walked in the order from the index and
// the walk stops at the n-th eligible worker (see pickInOrder): longest idle, round
// robin, or a workflow target's order_by (which replaces the mode's order) while every
// worker with room has integer values for it. In best-worker mode the walk is in
// longest-idle order (the tie-break) and stops at the n-th worker with the highest
// score the job allows; when fewer reach it, every eligible worker is scored.
func (e *Engine) pick(j *Job, cands []*Worker, d distribution, n int) []pick {
	t := e.target(j)
	if cands == nil {
		if ps, ok := e.pickInOrder(j, t, d, n); ok {
			return ps
		}
	}
	if set := e.pool(j, d.bypass); cands == nil || len(set) < len(cands) {
		// The index narrows the search to the workers with the right labels.
		cands = make([]*Worker, 0, len(set))
		for w := range set {
			cands = append(cands, w)
		}
	}
	var ps []pick
	for _, w := range cands {
		cost, ok := e.eligible(j, w, t, d.bypass)
		if !ok {
			continue
		}
		p := pick{w: w, cost: cost, rank: j.expiryRank(w.WorkerID)}
		if d.mode == events.ModeBestWorker {
			p.score = score(j, w, d.scoring)
		}
		ps = append(ps, p)
	}
	cursor := e.cursors[j.QueueID]
	var orderBy *OrderBy
	if t != nil && len(t.orderBy.Clauses) > 0 {
		ws := make([]*Worker, len(ps))
		for i, p := range ps {
			ws[i] = p.w
		}
		if t.orderBy.Applicable(ws) {
			orderBy = &t.orderBy
		}
	}
	better := func(a, b pick) bool {
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		if orderBy != nil { // the workflow target's order_by replaces the mode's order
			return orderBy.Less(a.w, b.w)
		}
		switch d.mode {
		case events.ModeRoundRobin:
			// Ids after the cursor first, in order; then from the start.
			if wa, wb := a.w.WorkerID > cursor, b.w.WorkerID > cursor; wa != wb {
				return wa
			}
			return a.w.WorkerID < b.w.WorkerID
		case events.ModeBestWorker:
			if a.score != b.score {
				return a.score > b.score
			}
		}
		return before(a.w, b.w)
	}
	if n == 1 { // the common case: one pass, no sort
		var best *pick
		for i := range ps {
			if best == nil || better(ps[i], *best) {
				best = &ps[i]
			}
		}
		if best == nil {
			return nil
		}
		return []pick{*best}
	}
	sort.Slice(ps, func(a, b int) bool { return better(ps[a], ps[b]) })
	if len(ps) > n {
		ps = ps[:n]
	}
	return ps
}

// smallPool is the size up to which a pool is searched whole rather than walked in
// order (a variable so that tests can walk every pool).
var smallPool = 16

// pickInOrder is pick walking the queue's workers with room in the order from the
// index: a workflow target's order_by (its own ordered set), else longest idle first,
// or in round-robin mode the ids after the cursor, then from the start. It stops once
// it has n eligible workers that never let an offer for j expire (in best-worker mode:
// that have the highest score j allows). Those that did come after the others, by the
// age of their expiry; a stable sort by that rank (and score) keeps the walk's order
// among equals, which is pick's order. The walk visits at most as many
// workers as the pool the index gives for j has. ok is false, and pick compares the
// pool's workers, when that was not enough (many workers with room lack a value j's
// equality selectors ask for), when the pool is small enough to compare whole, or when
// a worker with room has a value that is not an integer for the order_by (then
// whether it applies depends on which workers are eligible).
func (e *Engine) pickInOrder(j *Job, t *wfTarget, d distribution, n int) (ps []pick, ok bool) {
	set := e.pool(j, d.bypass)
	rs := e.index.room[j.QueueID]
	if len(set) == 0 || rs == nil {
		return nil, true
	}
	if len(set) <= smallPool {
		return nil, false
	}
	orderBy := t != nil && len(t.orderBy.Clauses) > 0
	scored := d.mode == events.ModeBestWorker && !orderBy
	top := 0.0 // in best-worker mode, the highest score j allows
	if scored {
		top = topScore(j, d.scoring)
	}
	budget, done, exhausted := len(set), 0, false
	visit := func(w *Worker) bool {
		if budget == 0 {
			exhausted = true
			return false
		}
		budget--
		cost, ok := e.eligible(j, w, t, d.bypass)
		if !ok {
			return true
		}
		p := pick{w: w, cost: cost, rank: j.expiryRank(w.WorkerID)}
		if scored {
			p.score = score(j, w, d.scoring)
		}
		if p.rank == 0 && (!scored || p.score >= top) {
			done++ // nobody after it in the walk can go before it
		}
		ps = append(ps, p)
		return done < n
	}
	switch {
	case orderBy:
		ob := e.index.orderSet(j.QueueID, t.orderBy)
		if ob.bad > 0 {
			return nil, false
		}
		ob.tree.Ascend(func(it orderItem) bool { return visit(it.w) })
	case d.mode == events.ModeRoundRobin:
		cursor := e.cursors[j.QueueID]
		pivot := &Worker{Worker: events.Worker{WorkerID: cursor}}
		rs.byID.AscendGreaterOrEqual(pivot, func(w *Worker) bool {
			return w.WorkerID == cursor || visit(w)
		})
		if done < n && !exhausted {
			rs.byID.AscendLessThan(pivot, visit)
			if w, ok := rs.byID.Get(pivot); ok && done < n && !exhausted {
				visit(w)
			}
		}
	default:
		rs.idle.Ascend(func(k idleKey) bool { return visit(k.w) })
	}
	if exhausted {
		return nil, false
	}
	sort.SliceStable(ps, func(a, b int) bool {
		if ps[a].rank != ps[b].rank {
			return ps[a].rank < ps[b].rank
		}
		return ps[a].score > ps[b].score // all 0 but in best-worker mode
	})
	if len(ps) > n {
		ps = ps[:n]
	}
	return ps, true
}

// topScore is the highest best-worker score j can get: with a scoring rule, the sum
// of its positive weights (added in the rule's order, as score adds them); by default,
// one per label and per selector of j.
func topScore(j *Job, rule []scoringTerm) float64 {
	if len(rule) > 0 {
		s := 0.0
		for _, t := range rule {
			if t.weight > 0 {
				s += t.weight
			}
		}
		return s
	}
	return float64(len(j.Labels) + len(j.WorkerSelectors))
}

// score is the best-worker score: with a scoring rule, the sum of the weights of its
// expressions that hold for the job and the worker; by default, how many of the job's
// labels the worker has with the same value, plus how many of its selectors the
// worker satisfies (which only differs between workers when selectors are bypassed).
func score(j *Job, w *Worker, rule []scoringTerm) float64 {
	if len(rule) > 0 {
		env := expr.Env{Roots: map[string]any{
			expr.RootTask:   map[string]any(j.Labels),
			expr.RootWorker: w.exprAttrs(),
		}, Default: expr.RootWorker}
		s := 0.0
		for _, t := range rule {
			if t.expr.Eval(env) {
				s += t.weight
			}
		}
		return s
	}
	n := 0.0
	for k, v := range j.Labels {
		if wv, ok := w.Labels[k]; ok {
			if c, ok := compare(wv, v); ok && c == 0 {
				n++
			}
		}
	}
	for _, s := range j.WorkerSelectors {
		if Matches(s, w.WorkerID, w.Labels) {
			n++
		}
	}
	return n
}
