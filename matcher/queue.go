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
}

// less is the dispatch order.
func less(a, b *Job) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	return a.Seq < b.Seq
}

func (q *Queue) insert(j *Job) {
	i := sort.Search(len(q.jobs), func(i int) bool { return less(j, q.jobs[i]) })
	q.jobs = append(q.jobs, nil)
	copy(q.jobs[i+1:], q.jobs[i:])
	q.jobs[i] = j
}

func (q *Queue) remove(j *Job) {
	i := sort.Search(len(q.jobs), func(i int) bool { return !less(q.jobs[i], j) })
	if i < len(q.jobs) && q.jobs[i] == j {
		q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
	}
}

// QueueKey is the job's key in the queues bucket: "<queueId>.<rank>.<seq>.<jobId>",
// whose lexical order is the dispatch order (rank 000 is priority 100).
func QueueKey(j *Job) string {
	return fmt.Sprintf("%s.%03d.%020d.%s", j.QueueID, 100-j.Priority, j.Seq, j.JobID)
}

func (e *Engine) queue(id string) *Queue {
	q := e.queues[id]
	if q == nil {
		q = &Queue{ID: id}
		e.queues[id] = q
	}
	return q
}

// enqueue puts j in its queue and records the KV write.
func (e *Engine) enqueue(j *Job) {
	e.queue(j.QueueID).insert(j)
	e.queueOps = append(e.queueOps, Op{Bucket: events.BucketQueues, Key: QueueKey(j), Value: []byte(j.JobID)})
	e.touched[j.QueueID] = true
}

// dequeue takes j out of its queue and records the KV delete.
func (e *Engine) dequeue(j *Job) {
	e.queue(j.QueueID).remove(j)
	e.queueOps = append(e.queueOps, Op{Bucket: events.BucketQueues, Key: QueueKey(j)})
}
