package dashboard

import (
	"context"
	"net/http"
	"sort"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// lists adds the list endpoints: /api/queues, /api/workers and /api/jobs, each a page
// of the router's list query (?limit= up to MaxListLimit, ?after= the previous page's
// next), answered as the query answers it.
func (d *Dashboard) lists() {
	d.mux.HandleFunc("GET /api/queues", listing(func(ctx context.Context, o patchbay.ListOptions, _ map[string]string) (any, error) {
		return d.client.ListQueues(ctx, o)
	}))
	d.mux.HandleFunc("GET /api/workers", listing(func(ctx context.Context, o patchbay.ListOptions, p map[string]string) (any, error) {
		return d.client.ListWorkers(ctx, patchbay.ListWorkersOptions{QueueID: p["queue"], Activity: p["activity"], Limit: o.Limit, After: o.After})
	}, "queue", "activity"))
	d.mux.HandleFunc("GET /api/jobs", listing(func(ctx context.Context, o patchbay.ListOptions, p map[string]string) (any, error) {
		return d.client.ListJobs(ctx, patchbay.ListJobsOptions{Status: p["status"], QueueID: p["queue"], WorkerID: p["worker"], Limit: o.Limit, After: o.After})
	}, "queue", "worker", "status"))
}

// listing is the handler of one list endpoint: it reads the page (?limit=, ?after=)
// and the id parameters named, then answers what read returns.
func listing(read func(context.Context, patchbay.ListOptions, map[string]string) (any, error), names ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, ok := page(w, r)
		if !ok {
			return
		}
		p := make(map[string]string, len(names))
		for _, name := range names {
			if p[name], ok = idParam(w, r, name); !ok {
				return
			}
		}
		ctx, cancel := call(r)
		defer cancel()
		v, err := read(ctx, o, p)
		answer(w, v, err)
	}
}

// page reads ?limit= (default ListLimitDefault, at most MaxListLimit) and ?after=.
func page(w http.ResponseWriter, r *http.Request) (patchbay.ListOptions, bool) {
	limit, ok := intParam(w, r, "limit", MaxListLimit)
	if !ok {
		return patchbay.ListOptions{}, false
	}
	if limit == 0 {
		limit = ListLimitDefault
	}
	after := r.URL.Query().Get("after")
	if len(after) > events.MaxAttributeBytes {
		badRequest(w, "after is %d bytes; the limit is %d", len(after), events.MaxAttributeBytes)
		return patchbay.ListOptions{}, false
	}
	return patchbay.ListOptions{Limit: limit, After: after}, true
}

// answer writes a list query's answer, or its error.
func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, v)
}

// seedStatuses are the jobs the recent list starts with: the live ones.
var seedStatuses = []string{"queued", "assigned", "completed"}

// seed fills the recent jobs with the live jobs the router holds (a page of each
// live status), oldest created first, so a dashboard started on a busy router shows
// them before their next event.
func (d *Dashboard) seed(ctx context.Context) error {
	var jobs []events.Job
	for _, status := range seedStatuses {
		l, err := d.client.ListJobs(ctx, patchbay.ListJobsOptions{Status: status, Limit: d.hub.cfg.RecentJobs})
		if err != nil {
			return err
		}
		for _, j := range l.Jobs {
			jobs = append(jobs, j.Job)
		}
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].CreatedAt.Before(jobs[b].CreatedAt) })
	d.hub.seed(jobs)
	return nil
}
