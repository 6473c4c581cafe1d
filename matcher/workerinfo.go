package matcher

import (
	"container/heap"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// WorkerInfo answers a worker query: the worker, its outstanding offers (each with its
// job as it is now) and the jobs it holds (assigned or completed, not yet closed), so
// that a worker that lost its connection or restarted can find its work again. Offers
// come by issue time then offer id, jobs by assignment time then job id.
//
// maxBytes, when positive, bounds the JSON encoding of the answer (the router passes
// what fits in one message): the jobs and then the offers are taken in their order
// while they fit, and Truncated says that some were left out. Only what is returned is
// encoded and ordered (a heap, not a sort), so the read costs time linear in the
// worker's loads plus the logarithm per item returned. A worker's loads are bounded by
// its capacity (events.MaxCapacity).
func (e *Engine) WorkerInfo(workerID string, maxBytes int) (events.WorkerInfo, error) {
	w, ok := e.workers[workerID]
	if !ok {
		return events.WorkerInfo{}, events.Errorf(events.CodeUnknownWorker, "workerId", "no worker %q", workerID)
	}
	info := events.WorkerInfo{Worker: w.snapshot(), Offers: []events.Offer{}, Jobs: []events.Job{}}
	var offers []*Offer
	var jobs []*Job
	for _, l := range w.Loads {
		if l.OfferID != "" {
			if o := e.offers[l.OfferID]; o != nil && o.status() == lifecycle.OfferIssued {
				offers = append(offers, o)
			}
			continue
		}
		if j := e.jobs[l.JobID]; j != nil && j.Assignment != nil && j.Assignment.WorkerID == w.WorkerID {
			jobs = append(jobs, j)
		}
	}

	// The answer is {"worker":W,"offers":[...],"jobs":[...],"truncated":true}, the
	// flag counted whether it is set or not: exact, less 17 bytes when nothing is left
	// out.
	room := -1 // unbounded
	if maxBytes > 0 {
		base := len(`{"worker":,"offers":[],"jobs":[],"truncated":true}`) + len(mustJSON(info.Worker))
		if base > maxBytes {
			return events.WorkerInfo{}, events.Errorf(events.CodeInternal, "", "worker %q alone is %d bytes encoded; the answer must fit in %d", workerID, base, maxBytes)
		}
		room = maxBytes - base
	}
	// fits takes an item's room, when it has some; after the first item of its list
	// it also takes a comma.
	fits := func(v any, first bool) bool {
		if room < 0 {
			return true
		}
		n := len(mustJSON(v))
		if !first {
			n++
		}
		if n > room {
			info.Truncated = true
			return false
		}
		room -= n
		return true
	}
	inOrder(jobs, assignedBefore, func(j *Job) bool {
		s := j.snapshot()
		if !fits(s, len(info.Jobs) == 0) {
			return false
		}
		info.Jobs = append(info.Jobs, s)
		return true
	})
	if info.Truncated {
		return info, nil
	}
	inOrder(offers, issuedBefore, func(o *Offer) bool {
		s := o.Offer
		if j := e.jobs[o.JobID]; j != nil {
			js := j.snapshot()
			s.Job = &js
		}
		if !fits(s, len(info.Offers) == 0) {
			return false
		}
		info.Offers = append(info.Offers, s)
		return true
	})
	return info, nil
}

// issuedBefore orders offers by issue time, then offer id.
func issuedBefore(a, b *Offer) bool {
	if !a.IssuedAt.Equal(b.IssuedAt) {
		return a.IssuedAt.Before(b.IssuedAt)
	}
	return a.OfferID < b.OfferID
}

// assignedBefore orders held jobs by assignment time, then job id.
func assignedBefore(a, b *Job) bool {
	if !a.Assignment.AssignedAt.Equal(b.Assignment.AssignedAt) {
		return a.Assignment.AssignedAt.Before(b.Assignment.AssignedAt)
	}
	return a.JobID < b.JobID
}

// inOrder calls take with items in the order less gives, until take returns false or
// the items run out. It orders only what it hands out: building the heap is linear,
// each item taken costs a logarithm.
func inOrder[T any](items []T, less func(a, b T) bool, take func(T) bool) {
	h := &ordered[T]{items: items, less: less}
	heap.Init(h)
	for h.Len() > 0 {
		if !take(heap.Pop(h).(T)) {
			return
		}
	}
}

// ordered is a min-heap of items by less.
type ordered[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *ordered[T]) Len() int           { return len(h.items) }
func (h *ordered[T]) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *ordered[T]) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *ordered[T]) Push(x any)         { h.items = append(h.items, x.(T)) }
func (h *ordered[T]) Pop() any {
	n := len(h.items) - 1
	x := h.items[n]
	h.items = h.items[:n]
	return x
}
