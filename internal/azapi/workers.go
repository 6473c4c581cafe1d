package azapi

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// routerWorker is Azure's RouterWorker.
type routerWorker struct {
	ETag               string                 `json:"etag,omitempty"`
	ID                 string                 `json:"id"`
	State              string                 `json:"state"`
	Queues             []string               `json:"queues"`
	Capacity           int                    `json:"capacity"`
	Labels             map[string]any         `json:"labels,omitempty"`
	Tags               map[string]any         `json:"tags,omitempty"`
	Channels           []events.ChannelConfig `json:"channels"`
	Offers             []jobOffer             `json:"offers"`
	AssignedJobs       []workerAssignment     `json:"assignedJobs"`
	LoadRatio          float64                `json:"loadRatio"`
	AvailableForOffers bool                   `json:"availableForOffers"`
}

// workerInput is Azure's RouterWorkerCreateOrUpdate.
type workerInput struct {
	Queues             []string               `json:"queues,omitempty"`
	Capacity           *int                   `json:"capacity,omitempty"`
	Labels             map[string]any         `json:"labels,omitempty"`
	Tags               map[string]any         `json:"tags,omitempty"`
	Channels           []events.ChannelConfig `json:"channels,omitempty"`
	AvailableForOffers *bool                  `json:"availableForOffers,omitempty"`
}

type jobOffer struct {
	OfferID      string    `json:"offerId"`
	JobID        string    `json:"jobId"`
	CapacityCost int       `json:"capacityCost"`
	OfferedAt    time.Time `json:"offeredAt"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

type workerAssignment struct {
	AssignmentID string    `json:"assignmentId"`
	JobID        string    `json:"jobId"`
	CapacityCost int       `json:"capacityCost"`
	AssignedAt   time.Time `json:"assignedAt"`
}

// readOnlyWorkerFields are RouterWorker's fields a request may carry only unchanged.
var readOnlyWorkerFields = []string{"state", "offers", "assignedJobs", "loadRatio"}

func fromWorkerInfo(info *patchbay.WorkerInfo) routerWorker {
	wk := info.Worker
	out := routerWorker{
		ID: wk.WorkerID, State: wk.State, Queues: wk.Queues, Capacity: wk.TotalCapacity, Labels: wk.Labels,
		Tags: wk.Tags, Channels: wk.Channels, LoadRatio: wk.LoadRatio, AvailableForOffers: wk.AvailableForOffers,
		Offers: []jobOffer{}, AssignedJobs: []workerAssignment{},
	}
	if out.Queues == nil {
		out.Queues = []string{}
	}
	if out.Channels == nil {
		out.Channels = []events.ChannelConfig{}
	}
	for _, o := range info.Offers {
		out.Offers = append(out.Offers, jobOffer{OfferID: o.OfferID, JobID: o.JobID, CapacityCost: o.CapacityCost, OfferedAt: o.IssuedAt, ExpiresAt: o.ExpiresAt})
	}
	for _, j := range info.Jobs {
		if j.Assignment == nil {
			continue
		}
		cost := 0
		for _, c := range wk.Channels {
			if c.ChannelID == j.ChannelID {
				cost = c.CapacityCostPerJob
			}
		}
		out.AssignedJobs = append(out.AssignedJobs, workerAssignment{AssignmentID: j.Assignment.AssignmentID, JobID: j.JobID, CapacityCost: cost, AssignedAt: j.Assignment.AssignedAt})
	}
	return out
}

func (wk *routerWorker) withETag() string {
	wk.ETag = ""
	wk.ETag = hashETag(wk)
	return wk.ETag
}

// getWorker reads a worker (nil when it does not exist) and remembers its offers.
func (a *api) getWorker(r *http.Request, id string) (*routerWorker, error) {
	info, err := a.c.WorkerInfo(r.Context(), id)
	if errors.Is(err, patchbay.ErrUnknownWorker) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, o := range info.Offers {
		a.offers.put(o.OfferID, o.WorkerID, o.JobID)
	}
	wk := fromWorkerInfo(info)
	wk.withETag()
	return &wk, nil
}

func (a *api) workerGet(w http.ResponseWriter, r *http.Request, p params) error {
	wk, err := a.getWorker(r, p["workerId"])
	if err != nil {
		return err
	}
	if wk == nil {
		return notFound("worker", p["workerId"])
	}
	return writeJSON(w, http.StatusOK, wk, wk.ETag)
}

// workerUpsert registers a new worker (201; as in Azure, it takes offers only with
// availableForOffers true) or updates one (200) with the fields the patch changed.
func (a *api) workerUpsert(w http.ResponseWriter, r *http.Request, p params) error {
	id := p["workerId"]
	cur, patch, err := readUpsertOf(w, r, func() (*routerWorker, error) { return a.getWorker(r, id) }, func(wk *routerWorker) string { return wk.ETag })
	if err != nil {
		return err
	}
	old := map[string]any{}
	if cur != nil {
		before := *cur
		before.ETag = ""
		if old, err = toMap(before); err != nil {
			return err
		}
	}
	merged := mergePatch(old, patch).(map[string]any)
	if err := checkID(merged, id); err != nil {
		return err
	}
	delete(old, "id")
	changed := changedKeys(old, merged)
	for _, f := range readOnlyWorkerFields {
		if cur == nil {
			if _, ok := merged[f]; ok {
				return badRequest(f, "%s is read-only: the router sets it", f)
			}
		}
		for _, k := range changed {
			if k == f {
				return badRequest(f, "%s is read-only: the router sets it", f)
			}
		}
		delete(merged, f)
	}
	var in workerInput
	if err := decodeStrict(mustJSON(merged), &in); err != nil {
		return err
	}
	spec := patchbay.WorkerSpec{WorkerID: id, TotalCapacity: in.Capacity, Channels: in.Channels, AvailableForOffers: in.AvailableForOffers}
	status := http.StatusOK
	if cur == nil {
		if spec.AvailableForOffers == nil {
			off := false
			spec.AvailableForOffers = &off
		}
		spec.Queues, spec.Labels, spec.Tags = in.Queues, in.Labels, in.Tags
		if _, err := a.c.RegisterWorker(r.Context(), spec); err != nil {
			return err
		}
		status = http.StatusCreated
	} else if len(changed) > 0 {
		spec = patchbay.WorkerSpec{WorkerID: id}
		for _, k := range changed {
			switch k {
			case "queues":
				spec.Queues = nonNil(in.Queues)
			case "capacity":
				spec.TotalCapacity = in.Capacity
			case "labels":
				spec.Labels = in.Labels
			case "tags":
				spec.Tags = in.Tags
			case "channels":
				spec.Channels = in.Channels
			case "availableForOffers":
				spec.AvailableForOffers = in.AvailableForOffers
			}
		}
		if err := cannotEmpty(changed, in); err != nil {
			return err
		}
		if _, err := a.c.UpdateWorker(r.Context(), spec); err != nil {
			return err
		}
	}
	wk, err := a.getWorker(r, id)
	if err != nil {
		return err
	}
	if wk == nil {
		return notFound("worker", id)
	}
	return writeJSON(w, status, wk, wk.ETag)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// cannotEmpty refuses an update that removes every queue, label, tag or channel of a
// worker: an update carries only what changes, and an empty set would mean
// "unchanged".
func cannotEmpty(changed []string, in workerInput) error {
	for _, k := range changed {
		gone := (k == "queues" && len(in.Queues) == 0) || (k == "labels" && len(in.Labels) == 0) ||
			(k == "tags" && len(in.Tags) == 0) || (k == "channels" && len(in.Channels) == 0)
		if gone {
			return badRequest(k, "%s: a worker's %s cannot all be removed by an update; delete the worker and create it again", k, k)
		}
	}
	return nil
}

// workerDelete deregisters the worker (its offers are revoked); patchbay forgets it
// once it holds nothing, after the router's retention.
func (a *api) workerDelete(w http.ResponseWriter, r *http.Request, p params) error {
	if _, err := a.c.DeregisterWorker(r.Context(), p["workerId"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// offerFor finds the job of a worker's offer: among its outstanding offers, else
// among the offers a read of the worker showed before (so that accepting an offer
// another worker won is answered 409 by the router, not 404 here).
func (a *api) offerFor(r *http.Request, workerID, offerID string) (patchbay.Offer, error) {
	info, err := a.c.WorkerInfo(r.Context(), workerID)
	if err != nil {
		return patchbay.Offer{}, err
	}
	for _, o := range info.Offers {
		if o.OfferID == offerID {
			return o, nil
		}
	}
	if jobID, ok := a.offers.get(offerID, workerID); ok {
		return patchbay.Offer{OfferID: offerID, WorkerID: workerID, JobID: jobID}, nil
	}
	return patchbay.Offer{}, &apiError{status: http.StatusNotFound, code: "NotFound", inner: events.CodeUnknownOffer,
		msg: fmt.Sprintf("worker %q has no offer %q", workerID, offerID)}
}

func (a *api) offerAccept(w http.ResponseWriter, r *http.Request, p params) error {
	if err := a.action(w, r, &struct{}{}); err != nil {
		return err
	}
	o, err := a.offerFor(r, p["workerId"], p["offerId"])
	if err != nil {
		return err
	}
	assignment, err := a.c.Accept(r.Context(), o)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		AssignmentID string `json:"assignmentId"`
		JobID        string `json:"jobId"`
		WorkerID     string `json:"workerId"`
	}{assignment, o.JobID, o.WorkerID}, "")
}

func (a *api) offerDecline(w http.ResponseWriter, r *http.Request, p params) error {
	var in struct {
		RetryOfferAt *time.Time `json:"retryOfferAt,omitempty"`
	}
	if err := a.action(w, r, &in); err != nil {
		return err
	}
	o, err := a.offerFor(r, p["workerId"], p["offerId"])
	if err != nil {
		return err
	}
	if err := a.c.Decline(r.Context(), o, in.RetryOfferAt); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty, "")
}

// offerCacheSize bounds the offers remembered from worker reads (oldest forgotten
// first): about 100 bytes each.
const offerCacheSize = 10000

// offerCache remembers which job an offer was for, from reads of workers: an offer
// that ended (another worker accepted the job) is no longer outstanding, and its
// accept must still reach the router to be answered "already assigned".
type offerCache struct {
	mu    sync.Mutex
	max   int
	order []string
	m     map[string][2]string // offer id -> worker id, job id
}

func newOfferCache(max int) *offerCache {
	return &offerCache{max: max, m: map[string][2]string{}}
}

func (c *offerCache) put(offerID, workerID, jobID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[offerID]; ok {
		return
	}
	if len(c.order) >= c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, offerID)
	c.m[offerID] = [2]string{workerID, jobID}
}

func (c *offerCache) get(offerID, workerID string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[offerID]
	if !ok || v[0] != workerID {
		return "", false
	}
	return v[1], true
}
