package matcher

import (
	"sort"
	"time"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// rateWindow is how far back the assignment rate of a queue looks.
const rateWindow = 15 * time.Minute

// rateSamples caps the assignment times a queue keeps.
const rateSamples = 1000

// rates remembers recent assignment times per queue, in memory only: after a restart
// the estimates start again from nothing. It is a sliding window: at most rateSamples
// times per queue, none older than rateWindow once pruned, and no entry for a queue
// without an assignment in the window, so it is bounded by recent work.
type rates struct {
	since  time.Time              // when the engine started counting
	times  map[string][]time.Time // per queue, oldest first, within rateWindow
	pruned time.Time              // when prune last ran
}

// prune drops the times older than rateWindow, and the queues left with none. It
// scans every queue at most once per rateWindow (Tick and record call it), so it
// costs next to nothing per command; between scans a queue holds at most two windows
// of times (and never more than rateSamples).
func (r *rates) prune(now time.Time) {
	if now.Sub(r.pruned) < rateWindow {
		return
	}
	r.pruned = now
	for q, ts := range r.times {
		i := 0
		for i < len(ts) && now.Sub(ts[i]) > rateWindow {
			i++
		}
		if i == len(ts) {
			delete(r.times, q)
		} else if i > 0 {
			r.times[q] = append([]time.Time(nil), ts[i:]...)
		}
	}
}

func (r *rates) record(queueID string, at time.Time) {
	r.prune(at)
	if r.times == nil {
		r.times = map[string][]time.Time{}
	}
	ts := append(r.times[queueID], at)
	for len(ts) > 0 && at.Sub(ts[0]) > rateWindow {
		ts = ts[1:]
	}
	if len(ts) > rateSamples {
		ts = ts[len(ts)-rateSamples:]
	}
	r.times[queueID] = ts
}

// perSecond is the queue's recent assignment rate (0 when unknown).
func (r *rates) perSecond(queueID string, now time.Time) float64 {
	n := 0
	for _, t := range r.times[queueID] {
		if now.Sub(t) <= rateWindow {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	span := now.Sub(r.since)
	if span > rateWindow {
		span = rateWindow
	}
	if span < time.Second {
		span = time.Second
	}
	return float64(n) / span.Seconds()
}

// estimate is the wait of a job with ahead jobs before it (nil when the rate is
// unknown).
func estimate(ahead int, perSecond float64) *float64 {
	if perSecond <= 0 {
		return nil
	}
	s := float64(ahead+1) / perSecond
	return &s
}

// JobInfo answers a job query at time now: the job, its place in its queue and an
// estimate of its wait.
func (e *Engine) JobInfo(jobID string, now time.Time) (events.JobInfo, error) {
	j, ok := e.jobs[jobID]
	if !ok {
		return events.JobInfo{}, events.Errorf(events.CodeUnknownJob, "jobId", "no job %q", jobID)
	}
	info := events.JobInfo{Job: j.snapshot()}
	if j.status() != lifecycle.JobQueued {
		return info, nil
	}
	q := e.queues[j.QueueID]
	if i := sort.Search(len(q.jobs), func(i int) bool { return !q.less(q.jobs[i], j) }); i < len(q.jobs) && q.jobs[i] == j {
		info.Position = i + 1
	}
	info.QueueLength = len(q.jobs)
	info.EstimatedWaitSeconds = estimate(info.Position-1, e.rates.perSecond(j.QueueID, now))
	return info, nil
}

// QueueInfo answers a queue query at time now. A queue nobody used yet is empty.
func (e *Engine) QueueInfo(queueID string, now time.Time) events.QueueInfo {
	info := events.QueueInfo{QueueID: queueID}
	rate := e.rates.perSecond(queueID, now)
	info.AssignmentsPerMinute = rate * 60
	info.AvailableWorkers = len(e.index.queue[queueID])
	info.IdleWorkers = e.index.roomIn(queueID)
	// counted as workers change (activityIndex): O(activities of the queue) here
	info.WorkersByActivity = e.index.activities.inQueue(queueID)
	var jobs []*Job // a queue with no jobs is not kept in memory
	if q := e.queues[queueID]; q != nil {
		jobs = q.jobs
	}
	if len(jobs) == 0 && info.AvailableWorkers == 0 && rate == 0 {
		return info // a queue nobody uses: nothing to estimate
	}
	info.Length = len(jobs)
	prios := map[int]bool{0: true}
	for _, j := range jobs {
		prios[j.Priority] = true
		if j.EnqueuedAt != nil {
			if w := now.Sub(*j.EnqueuedAt).Seconds(); w > info.LongestWaitSeconds {
				info.LongestWaitSeconds = w
			}
		}
	}
	ps := make([]int, 0, len(prios))
	for p := range prios {
		ps = append(ps, p)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(ps)))
	for _, p := range ps {
		ahead := 0
		for _, j := range jobs {
			if j.Priority >= p {
				ahead++
			}
		}
		info.EstimatedWait = append(info.EstimatedWait, events.PriorityWait{Priority: p, Ahead: ahead, EstimatedWaitSeconds: estimate(ahead, rate)})
	}
	return info
}

// Size counts what the engine holds in memory.
type Size struct {
	Jobs    int `json:"jobs"`
	Workers int `json:"workers"`
	Offers  int `json:"offers"`
	Queues  int `json:"queues"`
	Timers  int `json:"timers"`
}

// Size counts the engine's jobs, workers, offers, queues and pending timers.
func (e *Engine) Size() Size {
	return Size{Jobs: len(e.jobs), Workers: len(e.workers), Offers: len(e.offers), Queues: len(e.queues), Timers: len(e.timers)}
}

// QueueGauge is what a metrics scrape reads of one queue.
type QueueGauge struct {
	QueueID string
	// Length is the number of queued jobs; OldestWaitSeconds how long the oldest of
	// them has waited.
	Length            int
	OldestWaitSeconds float64
	// AvailableWorkers are the queue's workers available for offers; IdleWorkers those
	// of them with room for one more job.
	AvailableWorkers int
	IdleWorkers      int
	// EstimatedWaitSeconds is the estimated wait of a job joining the queue now at
	// priority 0 (behind every queued job of priority 0 or more), from the queue's
	// assignments of the last 15 minutes; nil while there were none.
	EstimatedWaitSeconds *float64
}

// QueueGauges reads every queue that exists now (it holds jobs or available workers),
// sorted by id. It costs O(queued jobs + queues).
func (e *Engine) QueueGauges(now time.Time) []QueueGauge {
	ids := make(map[string]bool, len(e.queues)+len(e.index.queue))
	for id, q := range e.queues {
		if len(q.jobs) > 0 {
			ids[id] = true
		}
	}
	for id, ws := range e.index.queue {
		if len(ws) > 0 {
			ids[id] = true
		}
	}
	out := make([]QueueGauge, 0, len(ids))
	for id := range ids {
		g := QueueGauge{QueueID: id, AvailableWorkers: len(e.index.queue[id]), IdleWorkers: e.index.roomIn(id)}
		ahead := 0
		if q := e.queues[id]; q != nil {
			g.Length = len(q.jobs)
			for _, j := range q.jobs {
				if j.EnqueuedAt != nil {
					g.OldestWaitSeconds = max(g.OldestWaitSeconds, now.Sub(*j.EnqueuedAt).Seconds())
				}
				if j.Priority >= 0 {
					ahead++
				}
			}
		}
		g.EstimatedWaitSeconds = estimate(ahead, e.rates.perSecond(id, now))
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].QueueID < out[j].QueueID })
	return out
}
