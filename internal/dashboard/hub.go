package dashboard

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// Notice is what the dashboard tells its pages about one event on /api/events: the
// event's type and time and the ids its subject names, never its data (a job's
// labels and notes stay on the JSON endpoints). A page re-reads what changed.
type Notice struct {
	Type     string `json:"type"`
	Time     string `json:"time"`
	JobID    string `json:"jobId,omitempty"`
	QueueID  string `json:"queueId,omitempty"`
	WorkerID string `json:"workerId,omitempty"`
	// Status is the job's status after a job event.
	Status string `json:"status,omitempty"`
}

// NoticeResync is the type of the notice sent when the dashboard follows the event
// stream again after a pause: a page reads everything again.
const NoticeResync = "resync"

// notice describes an event published on subject.
func notice(ev patchbay.Event, subject string) (Notice, *events.Job) {
	n := Notice{Type: events.Type(ev.Type()).Name(), Time: ev.Time().UTC().Format(time.RFC3339Nano)}
	tok := strings.Split(strings.TrimPrefix(subject, events.SubjectEventsPrefix), ".")
	switch {
	case len(tok) == 4 && tok[0] == "job":
		n.QueueID, n.JobID = tok[1], tok[2]
	case len(tok) == 4 && tok[0] == "offer":
		n.WorkerID, n.JobID = tok[1], tok[2]
	case len(tok) == 3 && tok[0] == "worker":
		n.WorkerID = tok[1]
	}
	if tok[0] != "job" {
		return n, nil
	}
	var j events.Job
	if ev.DataAs(&j) != nil || j.JobID == "" {
		return n, nil
	}
	n.Status = j.Status
	return n, &j
}

// hub follows the event stream once for every page: it hands each event's notice to
// the connected pages and keeps the jobs most recently heard of.
type hub struct {
	client *patchbay.Client
	cfg    Config

	// reseed reads the live jobs into recent again when the watch resumes after a
	// pause (the events it missed are gone).
	reseed func(context.Context) error

	mu      sync.Mutex
	clients map[*subscriber]struct{}
	recent  *recentJobs
	// lastPage is when the last page left (or the hub was made): the watch pauses
	// once no page has followed for cfg.IdleAfter, so a dashboard nobody looks at
	// costs the router nothing. wake tells a paused watch a page came.
	lastPage time.Time
	wake     chan struct{}
	follows  bool
}

// subscriber is one page's event feed: a bounded buffer, and closed gone when the
// page could not keep up (it is dropped, not buffered for).
type subscriber struct {
	ch   chan []byte
	gone chan struct{}
}

func newHub(c *patchbay.Client, cfg Config) *hub {
	return &hub{client: c, cfg: cfg, clients: map[*subscriber]struct{}{}, recent: newRecentJobs(cfg.RecentJobs),
		lastPage: time.Now(), wake: make(chan struct{}, 1)}
}

// wanted reports whether the event stream should be followed now: a page follows
// it, or one did less than IdleAfter ago.
func (h *hub) wanted() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients) > 0 || time.Since(h.lastPage) < h.cfg.IdleAfter
}

// following reports whether the hub follows the event stream now.
func (h *hub) following() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.follows
}

func (h *hub) setFollowing(b bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.follows = b
}

// left notes that page s is gone (h.mu held).
func (h *hub) left(s *subscriber) {
	delete(h.clients, s)
	close(s.gone)
	if len(h.clients) == 0 {
		h.lastPage = time.Now()
	}
}

// subscribe adds a page; ok is false when MaxStreams pages are connected already.
func (h *hub) subscribe() (*subscriber, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.clients) >= h.cfg.MaxStreams {
		return nil, false
	}
	s := &subscriber{ch: make(chan []byte, h.cfg.StreamBuffer), gone: make(chan struct{})}
	h.clients[s] = struct{}{}
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return s, true
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[s]; ok {
		h.left(s)
	}
}

func (h *hub) streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// publish hands a notice to every page; a page whose buffer is full is dropped.
func (h *hub) publish(n Notice, job *events.Job) {
	b, err := json.Marshal(n)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if job != nil {
		h.recent.put(*job)
	}
	for s := range h.clients {
		select {
		case s.ch <- b:
		default:
			h.left(s)
		}
	}
}

// run follows the event stream until ctx ends, from the events published after it
// started; ready is closed once it first follows. A broken watch (the stream not
// there yet, a lost connection) is started again after a pause. The watch pauses
// while no page has followed for IdleAfter, and resumes when one comes, reading the
// live jobs again (reseed).
func (h *hub) run(ctx context.Context, ready chan<- struct{}) {
	once := sync.Once{}
	pause := 100 * time.Millisecond
	resumed := false
	for ctx.Err() == nil {
		for !h.wanted() {
			h.setFollowing(false)
			resumed = true
			select {
			case <-h.wake:
			case <-ctx.Done():
				return
			}
		}
		wctx, stop := context.WithCancel(ctx) // ends the watch's own goroutine too
		w, err := h.client.Watch(wctx, patchbay.WatchOptions{})
		if err == nil {
			once.Do(func() { close(ready) })
			h.setFollowing(true)
			pause = 100 * time.Millisecond
			if resumed && h.reseed != nil {
				_ = h.reseed(wctx) // best effort: the pages read the lists again anyway
				// What happened while paused was not heard: the pages read all again.
				h.publish(Notice{Type: NoticeResync, Time: time.Now().UTC().Format(time.RFC3339Nano)}, nil)
			}
			resumed = false
			go h.pauseWhenIdle(wctx, stop)
			for {
				ev, subject, err := w.Next()
				if err != nil {
					break
				}
				n, job := notice(ev, subject)
				h.publish(n, job)
			}
			w.Stop()
		}
		stop()
		if !h.wanted() {
			continue // idle, not broken: wait for a page
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// pauseWhenIdle ends the watch (stop) once no page has followed for IdleAfter.
func (h *hub) pauseWhenIdle(ctx context.Context, stop context.CancelFunc) {
	t := time.NewTicker(max(h.cfg.IdleAfter/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !h.wanted() {
				stop()
				return
			}
		}
	}
}

// recentJobs holds the last snapshot of the jobs most recently heard of, at most max.
type recentJobs struct {
	max   int
	order []string // oldest first
	jobs  map[string]events.Job
}

func newRecentJobs(max int) *recentJobs {
	return &recentJobs{max: max, jobs: map[string]events.Job{}}
}

func (r *recentJobs) put(j events.Job) {
	if _, ok := r.jobs[j.JobID]; ok {
		for i, id := range r.order {
			if id == j.JobID {
				r.order = append(r.order[:i], r.order[i+1:]...)
				break
			}
		}
	}
	r.jobs[j.JobID] = j
	r.order = append(r.order, j.JobID)
	for len(r.order) > r.max {
		delete(r.jobs, r.order[0])
		r.order = r.order[1:]
	}
}

// list returns the jobs, the most recently heard of first.
func (r *recentJobs) list() []events.Job {
	out := make([]events.Job, 0, len(r.order))
	for i := len(r.order) - 1; i >= 0; i-- {
		out = append(out, r.jobs[r.order[i]])
	}
	return out
}

// seed adds jobs (oldest first) the hub has not heard of, as older than those it has.
func (h *hub) seed(jobs []events.Job) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fresh := newRecentJobs(h.recent.max)
	for _, j := range jobs {
		if _, heard := h.recent.jobs[j.JobID]; !heard {
			fresh.put(j)
		}
	}
	for _, id := range h.recent.order {
		fresh.put(h.recent.jobs[id])
	}
	h.recent = fresh
}

func (h *hub) recentJobs() []events.Job {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.recent.list()
}
