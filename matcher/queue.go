package matcher

import (
	"slices"
	"sort"

	"github.com/google/btree"

	"github.com/patchbay/patchbay/events"
)

// Queue is one queue's waiting jobs in dispatch order: higher priority first, then
// first in, first out. It is an index of the jobs in status queued.
type Queue struct {
	ID   string
	jobs []*Job
	lifo bool // last in, first out within a priority
	// byKey holds the jobs that can take another offer by their first equality
	// selector (labelKey without the queue), each set in dispatch order; unkeyed holds
	// those that have none. A worker can only take a job indexed under one of its own
	// labels, or an unkeyed one. slots are the entries of every job of the queue, as
	// they were inserted.
	byKey   map[string]*btree.BTreeG[slot]
	unkeyed *btree.BTreeG[slot]
	slots   map[*Job]slot
	// maxOffers is the queue's maxConcurrentOffers (0: no limit): a job with that many
	// offers out is kept out of the sets until one of them ends, so that a freed
	// worker does not walk past the jobs already offered to others.
	maxOffers int
}

// slot is a job's entry in its queue's ordered sets: what the dispatch order reads,
// taken when the job joined, and the key of its set.
type slot struct {
	expedited bool
	priority  int
	seq       uint64
	key       string
	j         *Job
	inSet     bool // the job is in its set (it can take another offer)
}

func slotOf(j *Job) slot {
	return slot{expedited: j.expedited(), priority: j.Priority, seq: j.Seq, key: jobKey(j), j: j}
}

// slotLess is the dispatch order (see less) on slots; equal sequences, which the
// engine never hands out twice, are ordered by job id.
func (q *Queue) slotLess(a, b slot) bool {
	if a.expedited != b.expedited {
		return a.expedited
	}
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	if a.seq != b.seq {
		if q.lifo {
			return a.seq > b.seq
		}
		return a.seq < b.seq
	}
	return a.j.JobID < b.j.JobID
}

// slotNodes recycles the nodes of the queues' sets (queues come and go with their
// jobs); it is safe for concurrent use, so engines may share it.
var slotNodes = btree.NewFreeListG[slot](btree.DefaultFreeListSize)

func (q *Queue) newSet() *btree.BTreeG[slot] {
	return btree.NewWithFreeListG(btreeDegree, q.slotLess, slotNodes)
}

// jobKey is the index key of a job: its first equality selector ("" for none).
func jobKey(j *Job) string {
	for _, s := range j.WorkerSelectors {
		if s.Operator == events.OpEqual {
			if vk, ok := valueKey(s.Value); ok {
				return s.Key + "\x00" + vk
			}
		}
	}
	return ""
}

// set is the ordered set of the jobs with index key k (nil when there is none yet
// and make is false).
func (q *Queue) set(k string, make bool) *btree.BTreeG[slot] {
	if q.slots == nil {
		q.byKey, q.unkeyed, q.slots = map[string]*btree.BTreeG[slot]{}, q.newSet(), map[*Job]slot{}
	}
	if k == "" {
		return q.unkeyed
	}
	s := q.byKey[k]
	if s == nil && make {
		s = q.newSet()
		q.byKey[k] = s
	}
	return s
}

func (q *Queue) indexJob(j *Job, add bool) {
	if add {
		sl := slotOf(j)
		sl.inSet = q.open(j)
		if sl.inSet {
			q.set(sl.key, true).ReplaceOrInsert(sl)
		} else {
			q.set("", false) // makes the maps
		}
		q.slots[j] = sl
		return
	}
	sl, ok := q.slots[j]
	if !ok {
		return
	}
	delete(q.slots, j)
	if sl.inSet {
		q.unset(sl)
	}
}

// open reports whether j can take another offer.
func (q *Queue) open(j *Job) bool { return q.maxOffers <= 0 || len(j.OfferIDs) < q.maxOffers }

func (q *Queue) unset(sl slot) {
	set := q.set(sl.key, false)
	set.Delete(sl)
	if sl.key != "" && set.Len() == 0 {
		delete(q.byKey, sl.key)
	}
}

// reslot puts a job of the queue whose offers changed in its set or out of it.
func (q *Queue) reslot(j *Job) {
	sl, ok := q.slots[j]
	if !ok || sl.inSet == q.open(j) {
		return
	}
	if sl.inSet {
		q.unset(sl)
	} else {
		q.set(sl.key, true).ReplaceOrInsert(sl)
	}
	sl.inSet = !sl.inSet
	q.slots[j] = sl
}

// setMaxOffers changes the queue's maxConcurrentOffers (after a policy change).
func (q *Queue) setMaxOffers(n int) {
	if q.maxOffers == n {
		return
	}
	q.maxOffers = n
	for j := range q.slots {
		q.reslot(j)
	}
}

// walkFor calls f with the queued jobs the workers ws could take as far as the index
// tells (their own label values, the elements of their array labels and the values
// nested in their object labels, their ids, or no equality selector), in dispatch
// order, until f returns false or there are no more. It merges the ordered sets of
// those keys, reading one job ahead in each, so it visits only the jobs it hands to f
// (plus one per set). f may offer the job it is given (which may take it out of its
// set) but must not add jobs to the queue or take jobs out of it.
func (q *Queue) walkFor(ws []*Worker, f func(*Job) bool) {
	if q.slots == nil {
		return
	}
	var sets []*btree.BTreeG[slot]
	add := func(s *btree.BTreeG[slot]) {
		if s != nil && s.Len() > 0 && !slices.Contains(sets, s) {
			sets = append(sets, s)
		}
	}
	add(q.unkeyed)
	for _, w := range ws {
		add(q.byKey["id\x00s:"+w.WorkerID])
		for k, v := range w.Labels {
			if vk, ok := valueKey(v); ok { // the scalar fast path
				add(q.byKey[k+"\x00"+vk])
				continue
			}
			for _, kv := range indexLabel(nil, k, v) {
				add(q.byKey[kv])
			}
		}
	}
	heads := make([]slot, len(sets)) // the next job of each set; j is nil when it has none
	for i, s := range sets {
		heads[i], _ = s.Min()
	}
	for {
		best := -1
		for i, h := range heads {
			if h.j != nil && (best < 0 || q.slotLess(h, heads[best])) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		cur := heads[best]
		heads[best] = slot{}
		sets[best].AscendGreaterOrEqual(cur, func(s slot) bool {
			if s.j == cur.j {
				return true
			}
			heads[best] = s
			return false
		})
		if !f(cur.j) {
			return
		}
	}
}

// less is the dispatch order: jobs with an active expedited selector first, then
// higher priority first, then first in (or, in a LIFO queue, last in) first out.
func (q *Queue) less(a, b *Job) bool {
	if ea, eb := a.expedited(), b.expedited(); ea != eb {
		return ea
	}
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if q.lifo {
		return a.Seq > b.Seq
	}
	return a.Seq < b.Seq
}

// setOrder switches the queue between FIFO and LIFO, and orders its sets again.
func (q *Queue) setOrder(lifo bool) {
	if q.lifo == lifo {
		return
	}
	q.lifo = lifo
	sort.Slice(q.jobs, func(i, k int) bool { return q.less(q.jobs[i], q.jobs[k]) })
	old := q.slots
	q.byKey, q.unkeyed, q.slots = nil, nil, nil
	for j := range old {
		q.indexJob(j, true)
	}
}

// insert puts j in the queue. Finding its place takes a binary search; the sets take
// it in O(log n); jobs shifts the part of the slice after it (nothing when it joins at
// the tail, as a job of the lowest priority present does in a FIFO queue).
func (q *Queue) insert(j *Job) {
	q.indexJob(j, true)
	i := sort.Search(len(q.jobs), func(i int) bool { return q.less(j, q.jobs[i]) })
	q.jobs = append(q.jobs, nil)
	copy(q.jobs[i+1:], q.jobs[i:])
	q.jobs[i] = j
}

// remove takes j out of the queue. jobs shifts the shorter side of the slice (nothing
// for the head, which most jobs leave from).
func (q *Queue) remove(j *Job) {
	q.indexJob(j, false)
	i := sort.Search(len(q.jobs), func(i int) bool { return !q.less(q.jobs[i], j) })
	if i >= len(q.jobs) || q.jobs[i] != j {
		return
	}
	if i < len(q.jobs)/2 {
		copy(q.jobs[1:i+1], q.jobs[:i])
		q.jobs[0] = nil // let the job go
		q.jobs = q.jobs[1:]
		return
	}
	q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
	q.jobs[:len(q.jobs)+1][len(q.jobs)] = nil
}

// CursorKey is a round-robin queue's cursor in the queues bucket (queue ids start
// with a letter or digit, so it never collides with a job key).
func CursorKey(queueID string) string { return "_cursor." + queueID }

// SeqKey holds, in the queues bucket, the last enqueue sequence when the job that had
// it may have been forgotten: Load takes the largest of it and the stored jobs'
// sequences, so a reloaded engine numbers new jobs as the live one does.
const SeqKey = "_seq"

func (e *Engine) queue(id string) *Queue {
	q := e.queues[id]
	if q == nil {
		q = &Queue{ID: id, lifo: e.queueSpec(id).Order == events.OrderLIFO, maxOffers: e.distributionOf(id).max}
		e.queues[id] = q
	}
	return q
}

// reslot keeps a queued job whose offers changed in its queue's sets or out of them.
func (e *Engine) reslot(j *Job) {
	if q := e.queues[j.QueueID]; q != nil {
		q.reslot(j)
	}
}

// enqueue puts j in its queue. The queue is not written anywhere: the job's record
// (queue, priority, expedite, enqueue sequence) gives its place, and Load rebuilds
// the queues from the jobs.
func (e *Engine) enqueue(j *Job) {
	e.queue(j.QueueID).insert(j)
	e.touchedJobs[j.JobID] = true
	e.checkJobs[j.JobID] = true
}

// dequeue takes j out of its queue.
func (e *Engine) dequeue(j *Job) {
	e.queue(j.QueueID).remove(j)
	e.emptied[j.QueueID] = true
}
