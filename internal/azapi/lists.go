package azapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/lifecycle"
)

// MaxPageSize bounds maxpagesize: a page holds at most this many items (and fewer
// when the router's answer must be cut to fit in one message); DefaultPageSize is a
// page without maxpagesize.
const (
	MaxPageSize     = 100
	DefaultPageSize = 100
)

type pageRequest struct {
	size  int
	after string
}

// page reads maxpagesize and the cursor a nextLink carries, and refuses query
// parameters the operation does not take.
func page(r *http.Request, filters ...string) (pageRequest, error) {
	q := r.URL.Query()
	known := map[string]bool{"api-version": true, "maxpagesize": true, "after": true}
	for _, f := range filters {
		known[f] = true
	}
	for k := range q {
		if !known[k] {
			return pageRequest{}, badRequest(k, "unknown query parameter %q", k)
		}
	}
	p := pageRequest{size: DefaultPageSize, after: q.Get("after")}
	if s := q.Get("maxpagesize"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return pageRequest{}, badRequest("maxpagesize", "maxpagesize %q must be a positive integer", s)
		}
		p.size = min(n, MaxPageSize)
	}
	return p, nil
}

// writePage answers Azure's paged collection: value, and nextLink (the same request
// with the cursor of the next page) unless this is the last page.
func writePage(w http.ResponseWriter, r *http.Request, items []any, next string) error {
	body := map[string]any{"value": items}
	if next != "" {
		q := r.URL.Query()
		q.Set("after", next)
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		body["nextLink"] = u.String()
	}
	return writeJSON(w, http.StatusOK, body, "")
}

// jobStatusFilter maps Azure's status selector onto patchbay's list filter; match
// says whether a job of the page is kept (for what the router does not filter).
func jobStatusFilter(s string) (status string, match func(string) bool, err error) {
	all := func(string) bool { return true }
	switch s {
	case "", "all":
		return "", all, nil
	case "active":
		return "", func(st string) bool { return !lifecycle.JobStatus(st).Terminal() }, nil
	case "waitingForActivation":
		return "", func(st string) bool {
			return st == string(lifecycle.JobWaitingForActivation) || st == string(lifecycle.JobSuspended)
		}, nil
	case "queued", "assigned", "completed", "closed", "cancelled", "scheduled":
		return s, all, nil
	case "pendingClassification", "classificationFailed", "created", "pendingSchedule", "scheduleFailed":
		// patchbay never holds a job in these states: it classifies and schedules a
		// job as it creates it.
		return "", func(string) bool { return false }, nil
	}
	return "", nil, badRequest("status", "status %q is not a job status selector", s)
}

func (a *api) jobList(w http.ResponseWriter, r *http.Request, _ params) error {
	pg, err := page(r, "status", "queueId", "channelId", "classificationPolicyId", "scheduledBefore", "scheduledAfter")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	status, keep, err := jobStatusFilter(q.Get("status"))
	if err != nil {
		return err
	}
	var before, after *time.Time
	for name, dst := range map[string]**time.Time{"scheduledBefore": &before, "scheduledAfter": &after} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return badRequest(name, "%s %q is not an RFC 3339 time", name, v)
			}
			*dst = &t
		}
	}
	list, err := a.c.ListJobs(r.Context(), patchbay.ListJobsOptions{
		Status: status, QueueID: q.Get("queueId"), Limit: pg.size, After: pg.after,
	})
	if err != nil {
		return err
	}
	items := []any{}
	for _, info := range list.Jobs {
		j := info.Job
		if !keep(j.Status) ||
			(q.Get("channelId") != "" && j.ChannelID != q.Get("channelId")) ||
			(q.Get("classificationPolicyId") != "" && j.ClassificationPolicyID != q.Get("classificationPolicyId")) {
			continue
		}
		if before != nil || after != nil {
			if j.MatchingMode == nil || j.MatchingMode.ScheduleAt == nil ||
				(before != nil && j.MatchingMode.ScheduleAt.After(*before)) ||
				(after != nil && j.MatchingMode.ScheduleAt.Before(*after)) {
				continue
			}
		}
		rj := fromJob(j)
		rj.withETag()
		items = append(items, rj)
	}
	return writePage(w, r, items, list.Next)
}

// workerList pages through the workers; each is read whole (its offers and jobs) with
// the worker query, so that it is the same representation, ETag included, as a GET.
func (a *api) workerList(w http.ResponseWriter, r *http.Request, _ params) error {
	pg, err := page(r, "state", "channelId", "queueId", "hasCapacity")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	state := q.Get("state")
	switch state {
	case "", "all", "active", "draining", "inactive":
	default:
		return badRequest("state", "state %q must be active, draining, inactive or all", state)
	}
	hasCapacity := false
	if v := q.Get("hasCapacity"); v != "" {
		if hasCapacity, err = strconv.ParseBool(v); err != nil {
			return badRequest("hasCapacity", "hasCapacity %q must be true or false", v)
		}
	}
	channel := q.Get("channelId")
	list, err := a.c.ListWorkers(r.Context(), patchbay.ListWorkersOptions{QueueID: q.Get("queueId"), Limit: pg.size, After: pg.after})
	if err != nil {
		return err
	}
	items := []any{}
	for _, s := range list.Workers {
		if state != "" && state != "all" && s.Worker.State != state {
			continue
		}
		if channel != "" || hasCapacity {
			if !hasRoom(s, channel, hasCapacity) {
				continue
			}
		}
		wk, err := a.getWorker(r, s.Worker.WorkerID)
		if err != nil {
			return err
		}
		if wk != nil {
			items = append(items, wk)
		}
	}
	return writePage(w, r, items, list.Next)
}

// hasRoom: the worker has the channel (any channel when channel is ""), and, with
// hasCapacity, room on it for one more job.
func hasRoom(s patchbay.WorkerSummary, channel string, hasCapacity bool) bool {
	for i, c := range s.Worker.Channels {
		if channel != "" && c.ChannelID != channel {
			continue
		}
		if !hasCapacity {
			return true
		}
		free := s.Worker.TotalCapacity - s.Worker.UsedCapacity
		jobs := 0
		if i < len(s.Channels) {
			jobs = s.Channels[i].Offers + s.Channels[i].Jobs
		}
		if free >= c.CapacityCostPerJob && (c.MaxNumberOfJobs == 0 || jobs < c.MaxNumberOfJobs) {
			return true
		}
	}
	return false
}
