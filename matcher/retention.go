package matcher

import (
	"time"

	"github.com/patchbay/patchbay/lifecycle"
)

// Retention: what the engine keeps, and for how long. Memory and KV depend on live
// work plus what ended within Config.Retention, never on the whole history.
//
//   - A terminal job (closed or cancelled; a rejected job is never stored) is forgotten
//     Retention after it ended (Job.EndedAt), with every offer of it. It is in no queue
//     and holds no capacity, so nothing else refers to it.
//   - An inactive worker (not available for offers, holding no offer and no job) is
//     forgotten Retention after it became inactive (Worker.InactiveSince), with its
//     ended offers and its entries in live jobs' declines and expiry order. Its
//     registration epoch is not lost: new epochs come from nextEpoch, which is greater
//     than any epoch still recorded, so a worker forgotten and registered again may be
//     offered the jobs it declined (invariant 2), as after any new registration.
//   - Offers: see end. A job keeps, per worker, its outstanding offer and the last one
//     that ended; an offer that ends deletes the one it replaces. That is what the
//     engine needs: an outstanding offer holds capacity; the accepted offer of the
//     current assignment answers a repeated accept (and the job names it); the last
//     ended offer tells a late answer what happened to it (expired, revoked, declined),
//     even when the job was offered to the same worker again meanwhile. Declines live
//     on the job (Job.Declined), not on offers, so a job offered and expired 1,000
//     times keeps at most two offers per worker, not 1,000. A late answer to an older
//     offer is refused as an unknown offer, which changes nothing either.
//
// Both forget timers are derived from the stored entity, like every other timer, so
// Load schedules them again.

// endedAt is when a terminal job ended. A job stored before EndedAt existed ended no
// earlier than its latest recorded time.
func (j *Job) endedAt() time.Time {
	if j.EndedAt != nil {
		return *j.EndedAt
	}
	t := j.CreatedAt
	later := func(p *time.Time) {
		if p != nil && p.After(t) {
			t = *p
		}
	}
	later(j.EnqueuedAt)
	if a := j.Assignment; a != nil {
		later(&a.AssignedAt)
		later(a.CompletedAt)
		later(a.ClosedAt)
	}
	return t
}

// inactive reports whether w may be forgotten: not available for offers and holding
// nothing.
func (w *Worker) inactive() bool { return !w.AvailableForOffers && len(w.Loads) == 0 }

// inactiveSince is when w became inactive. A worker stored before InactiveSince
// existed became inactive no earlier than its last assignment or registration.
func (w *Worker) inactiveSince() time.Time {
	if w.InactiveSince != nil {
		return *w.InactiveSince
	}
	return w.idleSince()
}

func (e *Engine) jobForgetAt(j *Job) time.Time       { return j.endedAt().Add(e.cfg.Retention) }
func (e *Engine) workerForgetAt(w *Worker) time.Time { return w.inactiveSince().Add(e.cfg.Retention) }

// forgetJobLive reports whether a forget timer at at still applies to j.
func (e *Engine) forgetJobLive(j *Job, at time.Time) bool {
	return j != nil && j.status().Terminal() && e.jobForgetAt(j).Equal(at)
}

// forgetWorkerLive reports whether a forget timer at at still applies to w.
func (e *Engine) forgetWorkerLive(w *Worker, at time.Time) bool {
	return w != nil && w.inactive() && e.workerForgetAt(w).Equal(at)
}

// noteJobEnd stamps a job that has just become terminal and schedules its forgetting.
// finish calls it for every changed job, so every path to a terminal status (close,
// scheduled close, cancel, time to live, exception rule) is covered.
func (e *Engine) noteJobEnd(j *Job) {
	if j.status().Terminal() && j.EndedAt == nil {
		j.EndedAt = timePtr(e.now)
		e.schedule(e.jobForgetAt(j), timerForgetJob, j.JobID)
	}
}

// noteWorkerState stamps a worker that has just become inactive and schedules its
// forgetting; a worker active again (registered, or holding something) loses the
// stamp, which makes its forget timer stale. finish calls it for every changed worker.
func (e *Engine) noteWorkerState(w *Worker) {
	switch {
	case w.inactive() && w.InactiveSince == nil:
		w.InactiveSince = timePtr(e.now)
		e.schedule(e.workerForgetAt(w), timerForgetWorker, w.WorkerID)
	case !w.inactive():
		w.InactiveSince = nil
	}
}

// forgetJob deletes a job whose retention ran out, and every offer of it.
func (e *Engine) forgetJob(id string) {
	j := e.jobs[id]
	if j == nil || !j.status().Terminal() || e.jobForgetAt(j).After(e.now) {
		return
	}
	for _, o := range e.offersByJob[id] { // dropping while ranging is safe
		e.dropOffer(o)
	}
	delete(e.jobs, id)
	e.dirtyJobs[id] = true // no longer in the map: finish writes a delete
	e.forgot = true
}

// forgetWorker deletes an inactive worker whose retention ran out, its ended offers
// (but the accepted offer of a job's current assignment, which the job names), and
// its entries in live jobs' declines and expiry order. Every such entry has an offer
// of the worker for the job: the one declined or expired, or a later one.
func (e *Engine) forgetWorker(id string) {
	w := e.workers[id]
	if w == nil || !w.inactive() || e.workerForgetAt(w).After(e.now) {
		return
	}
	delete(e.presence.seen, id)
	delete(e.presence.armed, id)
	for _, o := range e.offersByWorker[id] { // dropping while ranging is safe; order does not matter
		j := e.jobs[o.JobID]
		if j != nil && !j.status().Terminal() {
			if _, ok := j.Declined[id]; ok {
				delete(j.Declined, id)
				if len(j.Declined) == 0 {
					j.Declined = nil
				}
				e.dirtyJobs[j.JobID] = true
			}
			if j.expiryRank(id) > 0 {
				j.ExpiredFor = removeString(j.ExpiredFor, id)
				e.dirtyJobs[j.JobID] = true
			}
		}
		if j != nil && j.Assignment != nil && j.Assignment.OfferID == o.OfferID {
			continue
		}
		e.dropOffer(o)
	}
	e.index.drop(w) // unavailable: it is in no set of available workers, only counted
	delete(e.workers, id)
	e.dirtyWrk[id] = true // no longer in the map: finish writes a delete
}

func removeString(ss []string, s string) []string {
	out := ss[:0:0]
	for _, x := range ss {
		if x != s {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// addOffer puts an offer in the engine and its indexes by job and by worker.
func (e *Engine) addOffer(o *Offer) {
	e.offers[o.OfferID] = o
	for _, idx := range []struct {
		m   map[string]map[string]*Offer
		key string
	}{{e.offersByJob, o.JobID}, {e.offersByWorker, o.WorkerID}} {
		set := idx.m[idx.key]
		if set == nil {
			set = map[string]*Offer{}
			idx.m[idx.key] = set
		}
		set[o.OfferID] = o
	}
}

// dropOffer deletes an offer from the engine, its indexes and the KV.
func (e *Engine) dropOffer(o *Offer) {
	delete(e.offers, o.OfferID)
	for _, idx := range []struct {
		m   map[string]map[string]*Offer
		key string
	}{{e.offersByJob, o.JobID}, {e.offersByWorker, o.WorkerID}} {
		if set := idx.m[idx.key]; set != nil {
			delete(set, o.OfferID)
			if len(set) == 0 {
				delete(idx.m, idx.key)
			}
		}
	}
	e.dirtyOffer[o.OfferID] = true // no longer in the map: finish writes a delete
}

// dropEndedOffers deletes the ended offers of last's job to last's worker but last,
// which has just ended.
func (e *Engine) dropEndedOffers(last *Offer) {
	for _, o := range e.offersByJob[last.JobID] { // dropping while ranging is safe
		if o != last && o.WorkerID == last.WorkerID && o.status() != lifecycle.OfferIssued {
			e.dropOffer(o)
		}
	}
}

// nextEpoch is a new registration epoch: the current time in nanoseconds, or one more
// than the largest epoch handed out or loaded when that is not greater. Load sets the
// floor from every stored worker and decline, so an epoch never repeats one that a
// live job's declines recorded, even for a worker that was forgotten meanwhile.
func (e *Engine) nextEpoch() uint64 {
	var n uint64
	if ns := e.now.UnixNano(); ns > 0 {
		n = uint64(ns)
	}
	if n <= e.epoch {
		n = e.epoch + 1
	}
	e.epoch = n
	return n
}

// pruneQueues drops the queues that the command emptied: a queue id used once does
// not stay in memory. Queues are an index of the queued jobs; e.queue makes one again
// when a job joins.
func (e *Engine) pruneQueues() {
	for id := range e.emptied {
		if q := e.queues[id]; q != nil && len(q.jobs) == 0 {
			delete(e.queues, id)
		}
	}
}
