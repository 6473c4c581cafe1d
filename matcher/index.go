package matcher

import (
	"slices"
	"strconv"
	"time"

	"github.com/google/btree"
)

// workerIndex finds the workers that can take a job without scanning every registered
// worker: the available workers of each queue, and among them those with a given label
// value (for the job's equality selectors, including the implicit "id" label); and,
// per queue, the available workers with room in the orders the distribution modes
// walk, so that a job finds its worker without visiting every candidate.
type workerIndex struct {
	queue map[string]map[*Worker]struct{} // queue id -> available workers
	label map[string]map[*Worker]struct{} // labelKey(queue, key, value) -> available workers
	keys  map[*Worker][]string            // what each worker is indexed under
	// room holds, per queue id, the available workers with room for one more job;
	// placed is where each of them is in it (place keeps both up to date).
	room   map[string]*roomSet
	placed map[*Worker]placement
	// orders holds, per queue id, the same workers in the order of each workflow
	// order_by a job of the queue was picked with (made on first use, then kept up to
	// date by place).
	orders map[string][]*orderSet
	// activities counts every worker (available or not) by activity, and per queue.
	activities activityIndex
}

func newWorkerIndex() workerIndex {
	return workerIndex{
		queue:  map[string]map[*Worker]struct{}{},
		label:  map[string]map[*Worker]struct{}{},
		keys:   map[*Worker][]string{},
		room:   map[string]*roomSet{},
		placed: map[*Worker]placement{},
		orders: map[string][]*orderSet{},

		activities: newActivityIndex(),
	}
}

// orderSet is a queue's available workers with room in the order of one order_by:
// their values for its clauses, then longest idle, then id (OrderBy.compare), as they
// were when each was placed.
type orderSet struct {
	by    OrderBy
	text  string // by.String()
	tree  *btree.BTreeG[orderItem]
	items map[*Worker]orderItem
	// bad counts the workers with a value that is not an integer for some clause:
	// while there is one, whether the order_by applies depends on which workers are
	// eligible, so pick compares them all.
	bad int
}

type orderItem struct {
	keys []orderKey
	idle time.Time
	bad  bool
	w    *Worker
}

func newOrderSet(by OrderBy) *orderSet {
	ob := &orderSet{by: by, text: by.String(), items: map[*Worker]orderItem{}}
	ob.tree = btree.NewG(btreeDegree, func(a, b orderItem) bool {
		if r := by.compareKeys(a.keys, b.keys); r != 0 {
			return r < 0
		}
		if r := a.idle.Compare(b.idle); r != 0 {
			return r < 0
		}
		return a.w.WorkerID < b.w.WorkerID
	})
	return ob
}

func (ob *orderSet) add(w *Worker, idle time.Time) {
	it := orderItem{keys: ob.by.keys(w), idle: idle, w: w}
	for _, k := range it.keys {
		it.bad = it.bad || k.state == attrBad
	}
	if it.bad {
		ob.bad++
	}
	ob.tree.ReplaceOrInsert(it)
	ob.items[w] = it
}

func (ob *orderSet) remove(w *Worker) {
	if it, ok := ob.items[w]; ok {
		ob.tree.Delete(it)
		delete(ob.items, w)
		if it.bad {
			ob.bad--
		}
	}
}

// orderSet is the queue's set for order_by by, made (from the room set) on first use.
func (x *workerIndex) orderSet(queueID string, by OrderBy) *orderSet {
	text := by.String()
	for _, ob := range x.orders[queueID] {
		if ob.text == text {
			return ob
		}
	}
	ob := newOrderSet(by)
	if rs := x.room[queueID]; rs != nil {
		rs.byID.Ascend(func(w *Worker) bool {
			ob.add(w, x.placed[w].key.idle)
			return true
		})
	}
	x.orders[queueID] = append(x.orders[queueID], ob)
	return ob
}

// roomSet is one queue's available workers with room, in two orders: longest idle
// first (the order of [before]) and by worker id (for round robin).
type roomSet struct {
	idle *btree.BTreeG[idleKey]
	byID *btree.BTreeG[*Worker]
}

// btreeDegree is the degree of the index's B-trees (nodes of up to 63 items).
const btreeDegree = 32

func newRoomSet() *roomSet {
	return &roomSet{
		idle: btree.NewG(btreeDegree, idleLess),
		byID: btree.NewG(btreeDegree, func(a, b *Worker) bool { return a.WorkerID < b.WorkerID }),
	}
}

// idleKey is a worker's place in the longest-idle order: the values [before] compares,
// as they were when the worker was placed.
type idleKey struct {
	ratio float64
	idle  time.Time
	w     *Worker
}

func idleLess(a, b idleKey) bool {
	if a.ratio != b.ratio {
		return a.ratio < b.ratio
	}
	if !a.idle.Equal(b.idle) {
		return a.idle.Before(b.idle)
	}
	return a.w.WorkerID < b.w.WorkerID
}

// placement is where a worker was put in the room sets: its key and its queues.
type placement struct {
	key    idleKey
	queues []string
}

// place puts w where it belongs in the room sets of its queues now: nowhere when it is
// not available or has no room. Everything that changes what [before] or hasRoom read
// (loads, capacity, channels, availability, queues, last assignment) calls it.
func (x *workerIndex) place(w *Worker) {
	old, had := x.placed[w]
	in := w.takesOffers() && w.hasRoom()
	var key idleKey
	if in {
		key = idleKey{ratio: w.loadRatio(), idle: w.idleSince(), w: w}
		if had && old.key.ratio == key.ratio && old.key.idle.Equal(key.idle) && slices.Equal(old.queues, w.Queues) &&
			!x.labelsChanged(w) {
			return
		}
	}
	if had {
		for _, q := range old.queues {
			if rs := x.room[q]; rs != nil {
				rs.idle.Delete(old.key)
				rs.byID.Delete(w)
				if rs.byID.Len() == 0 {
					delete(x.room, q)
				}
			}
			for _, ob := range x.orders[q] {
				ob.remove(w)
			}
		}
		delete(x.placed, w)
	}
	if !in {
		return
	}
	for _, q := range w.Queues {
		rs := x.room[q]
		if rs == nil {
			rs = newRoomSet()
			x.room[q] = rs
		}
		rs.idle.ReplaceOrInsert(key)
		rs.byID.ReplaceOrInsert(w)
		for _, ob := range x.orders[q] {
			ob.add(w, key.idle)
		}
	}
	x.placed[w] = placement{key: key, queues: w.Queues}
}

// labelsChanged reports whether w's values for some order_by of its queues differ
// from those it was placed with (its labels changed).
func (x *workerIndex) labelsChanged(w *Worker) bool {
	for _, q := range w.Queues {
		for _, ob := range x.orders[q] {
			if it, ok := ob.items[w]; ok && !slices.Equal(it.keys, ob.by.keys(w)) {
				return true
			}
		}
	}
	return false
}

// roomIn counts the queue's available workers with room.
func (x *workerIndex) roomIn(queueID string) int {
	if rs := x.room[queueID]; rs != nil {
		return rs.byID.Len()
	}
	return 0
}

// valueKey renders a label or selector value so that equal values (by Matches'
// equal) have equal keys; ok is false for values that are never equal to anything.
func valueKey(v any) (string, bool) {
	switch kindOf(v) {
	case kindString:
		return "s:" + v.(string), true
	case kindNumber:
		return "n:" + strconv.FormatFloat(toFloat(v), 'g', -1, 64), true
	case kindBool:
		return "b:" + strconv.FormatBool(v.(bool)), true
	}
	return "", false
}

func labelKey(queue, key, value string) string { return queue + "\x00" + key + "\x00" + value }

// reindex puts w where it belongs now: nowhere when it is not available for offers
// (but counted under its activity in any case).
func (x *workerIndex) reindex(w *Worker) {
	x.activities.count(w)
	x.place(w)
	for _, k := range x.keys[w] {
		if set := x.label[k]; set != nil {
			delete(set, w)
			if len(set) == 0 {
				delete(x.label, k)
			}
		} else if set := x.queue[k]; set != nil {
			delete(set, w)
		}
	}
	delete(x.keys, w)
	if !w.takesOffers() {
		return
	}
	var keys []string
	add := func(m map[string]map[*Worker]struct{}, k string) {
		if m[k] == nil {
			m[k] = map[*Worker]struct{}{}
		} else if _, dup := m[k][w]; dup { // an array label with an element twice
			return
		}
		m[k][w] = struct{}{}
		keys = append(keys, k)
	}
	for _, q := range w.Queues {
		add(x.queue, q)
		add(x.label, labelKey(q, "id", "s:"+w.WorkerID))
		for k, v := range w.Labels {
			if vk, ok := valueKey(v); ok { // the scalar fast path
				add(x.label, labelKey(q, k, vk))
				continue
			}
			for _, kv := range indexLabel(nil, k, v) {
				add(x.label, q+"\x00"+kv) // labelKey(q, key, vk)
			}
		}
	}
	x.keys[w] = keys
}

// indexLabel appends to dst the keys `key + "\x00" + value key` under which an equal
// selector can match a label that is an array or an object (see Matches): every
// scalar element of an array under the array's key, and every value nested in an
// object under its dotted key ("skills.finance"), arrays in it element by element. A
// flat label with dots shadows a nested value of the same key for Matches; indexing
// both only makes the pool a little larger, and eligible checks every selector anyway.
// (It returns keys rather than calling back, so that callers' closures stay on the
// stack: the scalar path allocates nothing more than before.)
func indexLabel(dst []string, key string, v any) []string {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if vk, ok := valueKey(e); ok {
				dst = append(dst, key+"\x00"+vk)
			}
		}
	case map[string]any:
		for k, e := range x {
			sub := key + "." + k
			if vk, ok := valueKey(e); ok {
				dst = append(dst, sub+"\x00"+vk)
			} else {
				dst = indexLabel(dst, sub, e)
			}
		}
	}
	return dst
}

// drop takes a worker the engine forgets out of the index.
func (x *workerIndex) drop(w *Worker) {
	x.reindex(w) // not available: this takes it out of every set of available workers
	x.activities.remove(w)
}

// pool is where to look for workers for j: the smallest set of the queue's available
// workers that have the value one of j's equality selectors asks for, or all of the
// queue's available workers when j has none (or the distribution bypasses selectors).
// Its order does not matter: every distribution orders workers totally (ties end on
// the worker id).
func (e *Engine) pool(j *Job, bypass bool) map[*Worker]struct{} {
	set := e.index.queue[j.QueueID]
	if !bypass {
		for _, s := range j.WorkerSelectors {
			if s.Operator != "equal" {
				continue
			}
			vk, ok := valueKey(s.Value)
			if !ok {
				return nil
			}
			sub := e.index.label[labelKey(j.QueueID, s.Key, vk)]
			if len(sub) < len(set) {
				set = sub
			}
			if len(set) == 0 {
				return nil
			}
		}
	}
	return set
}
