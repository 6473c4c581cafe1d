package matcher

import (
	"sort"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// matchTouched offers waiting jobs of every queue something happened to.
func (e *Engine) matchTouched() {
	for _, q := range sortedKeys(e.touched) {
		e.matchQueue(q)
	}
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
	cands := e.candidates(queueID)
	for _, j := range append([]*Job(nil), q.jobs...) {
		if len(cands) == 0 {
			return // every worker of the queue is full: nothing more can be offered
		}
		have := len(j.OfferIDs)
		if have >= dist.max || j.status() != lifecycle.JobQueued {
			continue
		}
		picks := e.pick(j, cands, dist, dist.max-have)
		if have == 0 && len(picks) < dist.min {
			continue
		}
		for _, p := range picks {
			e.issue(j, p.w, p.cost)
			if !p.w.hasRoom() {
				cands = without(cands, p.w)
			}
			if dist.mode == events.ModeRoundRobin {
				e.cursors[queueID] = p.w.WorkerID
				e.dirtyCursor[queueID] = true
			}
		}
	}
}

func without(ws []*Worker, w *Worker) []*Worker {
	for i, x := range ws {
		if x == w {
			return append(ws[:i:i], ws[i+1:]...)
		}
	}
	return ws
}

// candidates are the queue's workers available for offers with room for one more job
// on some channel.
func (e *Engine) candidates(queueID string) []*Worker {
	var ws []*Worker
	for _, w := range e.workers {
		if w.AvailableForOffers && w.inQueue(queueID) && w.hasRoom() {
			ws = append(ws, w)
		}
	}
	return ws
}

// pick is a candidate worker for a job: what the offer would cost it, and what
// orders it.
type pick struct {
	w     *Worker
	cost  int
	rank  int // expiry rank: 0 unless it let an offer for the job expire
	score int // best-worker score
}

// pick chooses up to n eligible workers for j in the distribution's order. Workers
// that let an offer for j expire come after the others (the job moves on to the next
// eligible worker), the one whose offer expired longest ago first; then, by mode:
//   - longestIdle: lowest load ratio, then longest since the last assignment;
//   - roundRobin: the workers after the one offered last (by worker id), wrapping;
//   - bestWorker: highest score, ties to the longest idle.
func (e *Engine) pick(j *Job, cands []*Worker, d distribution, n int) []pick {
	var ps []pick
	t := e.target(j)
	for _, w := range cands {
		cost, ok := e.eligible(j, w, d.bypass)
		if !ok || !e.targetAllows(j, t, w) {
			continue
		}
		p := pick{w: w, cost: cost, rank: j.expiryRank(w.WorkerID)}
		if d.mode == events.ModeBestWorker {
			p.score = score(j, w)
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

// score is the default best-worker score: how many of the job's labels the worker
// has with the same value, plus how many of its selectors the worker satisfies (which
// only differs between workers when the distribution bypasses selectors).
func score(j *Job, w *Worker) int {
	n := 0
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

// eligible reports whether j may be offered to w now, and at what capacity cost: w is
// available, in j's queue, has room on j's channel and under its cap of concurrent
// offers, satisfies every selector (unless the distribution bypasses them), has no
// offer for j already, and has not declined j (in this registration, or before its
// retry time).
func (e *Engine) eligible(j *Job, w *Worker, bypassSelectors bool) (int, bool) {
	if !w.AvailableForOffers || !w.inQueue(j.QueueID) {
		return 0, false
	}
	if w.MaxConcurrentOffers > 0 && w.offers() >= w.MaxConcurrentOffers {
		return 0, false
	}
	cost, ok := w.fits(j.ChannelID)
	if !ok {
		return 0, false
	}
	if !bypassSelectors {
		for _, s := range j.WorkerSelectors {
			if !Matches(s, w.WorkerID, w.Labels) {
				return 0, false
			}
		}
	}
	if j.declinedBy(w, e.now) {
		return 0, false
	}
	for _, id := range j.OfferIDs {
		if o := e.offers[id]; o != nil && o.WorkerID == w.WorkerID {
			return 0, false
		}
	}
	return cost, true
}
