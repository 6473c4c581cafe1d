package matcher

import "github.com/patchbay/patchbay/lifecycle"

// matchTouched offers waiting jobs of every queue something happened to.
func (e *Engine) matchTouched() {
	for _, q := range sortedKeys(e.touched) {
		e.matchQueue(q)
	}
}

// matchQueue walks a queue in dispatch order and offers each job without an
// outstanding offer to the best eligible worker. It stops early when no worker of the
// queue is available.
func (e *Engine) matchQueue(queueID string) {
	q := e.queues[queueID]
	if q == nil || len(q.jobs) == 0 {
		return
	}
	cands := e.candidates(queueID)
	for _, j := range append([]*Job(nil), q.jobs...) {
		if len(cands) == 0 {
			return // every worker of the queue is full: nothing more can be offered
		}
		if len(j.OfferIDs) > 0 || j.status() != lifecycle.JobQueued {
			continue
		}
		if w, cost := e.best(j, cands); w != nil {
			e.issue(j, w, cost)
			if !w.hasRoom() {
				cands = without(cands, w)
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

// best is the first eligible worker for j, and the capacity the offer will take from
// it: workers that let an offer for j expire come after the others (the job moves on
// to the next eligible worker), the one whose offer expired longest ago first; within
// each group, longest-idle order.
func (e *Engine) best(j *Job, cands []*Worker) (*Worker, int) {
	var best *Worker
	bestCost, bestRank := 0, 0
	for _, w := range cands {
		cost, ok := e.eligible(j, w)
		if !ok {
			continue
		}
		rank := j.expiryRank(w.WorkerID)
		if best == nil || rank < bestRank || (rank == bestRank && before(w, best)) {
			best, bestCost, bestRank = w, cost, rank
		}
	}
	return best, bestCost
}

// eligible reports whether j may be offered to w now, and at what capacity cost: w is
// available, in j's queue, has room on j's channel, satisfies every selector, and has
// not declined j (in this registration, or before its retry time).
func (e *Engine) eligible(j *Job, w *Worker) (int, bool) {
	if !w.AvailableForOffers || !w.inQueue(j.QueueID) {
		return 0, false
	}
	cost, ok := w.fits(j.ChannelID)
	if !ok {
		return 0, false
	}
	for _, s := range j.WorkerSelectors {
		if !Matches(s, w.WorkerID, w.Labels) {
			return 0, false
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
