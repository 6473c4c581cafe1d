package matcher

import (
	"fmt"
	"sort"

	"github.com/patchbay/patchbay/events"
)

// Queue is one queue's waiting jobs in dispatch order: higher priority first, then
// first in, first out. It is an index of the jobs in status queued.
type Queue struct {
	ID   string
	jobs []*Job
	lifo bool // last in, first out within a priority
	// byKey indexes the jobs by their first equality selector (labelKey without the
	// queue); unkeyed holds the jobs that have none. A worker can only take a job
	// indexed under one of its own labels, or an unkeyed one.
	byKey   map[string]map[*Job]struct{}
	unkeyed map[*Job]struct{}
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

func (q *Queue) indexJob(j *Job, add bool) {
	if q.byKey == nil {
		q.byKey, q.unkeyed = map[string]map[*Job]struct{}{}, map[*Job]struct{}{}
	}
	k := jobKey(j)
	set := q.unkeyed
	if k != "" {
		if set = q.byKey[k]; set == nil {
			set = map[*Job]struct{}{}
			q.byKey[k] = set
		}
	}
	if add {
		set[j] = struct{}{}
		return
	}
	delete(set, j)
	if k != "" && len(set) == 0 {
		delete(q.byKey, k)
	}
}

// jobsFor are the queued jobs w could take as far as the index tells (its own label
// values, its id, or no equality selector), in dispatch order.
func (q *Queue) jobsFor(ws []*Worker) []*Job {
	seen := map[*Job]struct{}{}
	var out []*Job
	add := func(set map[*Job]struct{}) {
		for j := range set {
			if _, ok := seen[j]; !ok {
				seen[j] = struct{}{}
				out = append(out, j)
			}
		}
	}
	add(q.unkeyed)
	for _, w := range ws {
		add(q.byKey["id\x00s:"+w.WorkerID])
		for k, v := range w.Labels {
			if vk, ok := valueKey(v); ok {
				add(q.byKey[k+"\x00"+vk])
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return q.less(out[a], out[b]) })
	return out
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

// setOrder switches the queue between FIFO and LIFO.
func (q *Queue) setOrder(lifo bool) {
	if q.lifo == lifo {
		return
	}
	q.lifo = lifo
	sort.Slice(q.jobs, func(i, k int) bool { return q.less(q.jobs[i], q.jobs[k]) })
}

func (q *Queue) insert(j *Job) {
	q.indexJob(j, true)
	i := sort.Search(len(q.jobs), func(i int) bool { return q.less(j, q.jobs[i]) })
	q.jobs = append(q.jobs, nil)
	copy(q.jobs[i+1:], q.jobs[i:])
	q.jobs[i] = j
}

func (q *Queue) remove(j *Job) {
	q.indexJob(j, false)
	i := sort.Search(len(q.jobs), func(i int) bool { return !q.less(q.jobs[i], j) })
	if i < len(q.jobs) && q.jobs[i] == j {
		q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
	}
}

// QueueKey is the job's key in the queues bucket: "<queueId>.<rank>.<seq>.<jobId>",
// whose lexical order is the dispatch order of a FIFO queue. The rank is "e" for an
// expedited job or "n" for the others, then 000 for priority 100 up to 200 for
// priority -100; a LIFO queue takes each rank's keys from the end.
func QueueKey(j *Job) string {
	x := "n"
	if j.expedited() {
		x = "e"
	}
	return fmt.Sprintf("%s.%s%03d.%020d.%s", j.QueueID, x, 100-j.Priority, j.Seq, j.JobID)
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
		q = &Queue{ID: id, lifo: e.queueSpec(id).Order == events.OrderLIFO}
		e.queues[id] = q
	}
	return q
}

// enqueue puts j in its queue and records the KV write.
func (e *Engine) enqueue(j *Job) {
	e.queue(j.QueueID).insert(j)
	e.queueOps = append(e.queueOps, Op{Bucket: events.BucketQueues, Key: QueueKey(j), Value: []byte(j.JobID)})
	e.touchedJobs[j.JobID] = true
	e.checkJobs[j.JobID] = true
}

// dequeue takes j out of its queue and records the KV delete.
func (e *Engine) dequeue(j *Job) {
	e.queue(j.QueueID).remove(j)
	e.emptied[j.QueueID] = true
	e.queueOps = append(e.queueOps, Op{Bucket: events.BucketQueues, Key: QueueKey(j)})
}
