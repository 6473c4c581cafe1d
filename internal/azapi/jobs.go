package azapi

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// routerJob is Azure's RouterJob.
type routerJob struct {
	ETag                     string                   `json:"etag,omitempty"`
	ID                       string                   `json:"id"`
	ChannelReference         string                   `json:"channelReference,omitempty"`
	Status                   string                   `json:"status"`
	EnqueuedAt               *time.Time               `json:"enqueuedAt,omitempty"`
	ChannelID                string                   `json:"channelId"`
	ClassificationPolicyID   string                   `json:"classificationPolicyId,omitempty"`
	QueueID                  string                   `json:"queueId,omitempty"`
	Priority                 int                      `json:"priority"`
	DispositionCode          string                   `json:"dispositionCode,omitempty"`
	RequestedWorkerSelectors []workerSelector         `json:"requestedWorkerSelectors,omitempty"`
	Labels                   map[string]any           `json:"labels,omitempty"`
	Assignments              map[string]jobAssignment `json:"assignments,omitempty"`
	Tags                     map[string]any           `json:"tags,omitempty"`
	Notes                    []jobNote                `json:"notes,omitempty"`
	ScheduledAt              *time.Time               `json:"scheduledAt,omitempty"`
	MatchingMode             *matchingMode            `json:"matchingMode,omitempty"`
}

// jobInput is Azure's RouterJobCreateOrUpdate.
type jobInput struct {
	ChannelReference         string           `json:"channelReference,omitempty"`
	ChannelID                string           `json:"channelId,omitempty"`
	ClassificationPolicyID   string           `json:"classificationPolicyId,omitempty"`
	QueueID                  string           `json:"queueId,omitempty"`
	Priority                 int              `json:"priority,omitempty"`
	RequestedWorkerSelectors []workerSelector `json:"requestedWorkerSelectors,omitempty"`
	Labels                   map[string]any   `json:"labels,omitempty"`
	Tags                     map[string]any   `json:"tags,omitempty"`
	Notes                    []jobNote        `json:"notes,omitempty"`
	MatchingMode             *matchingMode    `json:"matchingMode,omitempty"`
}

type workerSelector struct {
	Key                 string     `json:"key"`
	LabelOperator       string     `json:"labelOperator"`
	Value               any        `json:"value,omitempty"`
	ExpiresAfterSeconds float64    `json:"expiresAfterSeconds,omitempty"`
	Expedite            bool       `json:"expedite,omitempty"`
	Status              string     `json:"status,omitempty"`
	ExpiresAt           *time.Time `json:"expiresAt,omitempty"`
}

type jobAssignment struct {
	AssignmentID string     `json:"assignmentId"`
	WorkerID     string     `json:"workerId,omitempty"`
	AssignedAt   time.Time  `json:"assignedAt"`
	CompletedAt  *time.Time `json:"completedAt,omitempty"`
	ClosedAt     *time.Time `json:"closedAt,omitempty"`
}

type jobNote struct {
	Message string     `json:"message"`
	AddedAt *time.Time `json:"addedAt,omitempty"`
}

type matchingMode struct {
	Kind       string     `json:"kind"`
	ScheduleAt *time.Time `json:"scheduleAt,omitempty"`
}

// jobStatus maps a patchbay job status to Azure's: a suspended job is
// waitingForActivation (Azure: "in a suspended state and waiting for an update").
func jobStatus(s string) string {
	if s == string(lifecycle.JobSuspended) {
		return string(lifecycle.JobWaitingForActivation)
	}
	return s
}

func fromJob(j events.Job) routerJob {
	out := routerJob{
		ID: j.JobID, ChannelReference: j.ChannelReference, Status: jobStatus(j.Status), EnqueuedAt: j.EnqueuedAt,
		ChannelID: j.ChannelID, ClassificationPolicyID: j.ClassificationPolicyID, QueueID: j.QueueID,
		Priority: j.Priority, DispositionCode: j.DispositionCode, Labels: j.Labels, Tags: j.Tags,
	}
	for _, s := range j.WorkerSelectors {
		out.RequestedWorkerSelectors = append(out.RequestedWorkerSelectors, workerSelector{
			Key: s.Key, LabelOperator: s.Operator, Value: s.Value, ExpiresAfterSeconds: s.ExpiresAfterSeconds,
			Expedite: s.Expedite, Status: "active", ExpiresAt: s.ExpiresAt,
		})
	}
	if a := j.Assignment; a != nil {
		out.Assignments = map[string]jobAssignment{a.AssignmentID: {
			AssignmentID: a.AssignmentID, WorkerID: a.WorkerID, AssignedAt: a.AssignedAt,
			CompletedAt: a.CompletedAt, ClosedAt: a.ClosedAt,
		}}
	}
	created := j.CreatedAt
	if j.Notes != "" {
		out.Notes = append(out.Notes, jobNote{Message: j.Notes, AddedAt: &created})
	}
	if a := j.Assignment; a != nil {
		if a.CompletionNote != "" {
			out.Notes = append(out.Notes, jobNote{Message: a.CompletionNote, AddedAt: a.CompletedAt})
		}
		if a.CloseNote != "" {
			out.Notes = append(out.Notes, jobNote{Message: a.CloseNote, AddedAt: a.ClosedAt})
		}
	}
	if j.CancelNote != "" {
		out.Notes = append(out.Notes, jobNote{Message: j.CancelNote})
	}
	mode := matchingMode{Kind: events.MatchQueueAndMatch}
	if j.MatchingMode != nil {
		mode = matchingMode{Kind: j.MatchingMode.Kind, ScheduleAt: j.MatchingMode.ScheduleAt}
		out.ScheduledAt = j.MatchingMode.ScheduleAt
	}
	out.MatchingMode = &mode
	return out
}

// withETag fills in a job's ETag (a hash of the rest) and returns it.
func (j *routerJob) withETag() string {
	j.ETag = ""
	j.ETag = hashETag(j)
	return j.ETag
}

// readOnlyJobFields are RouterJob's fields that a request may carry only unchanged.
var readOnlyJobFields = []string{"status", "enqueuedAt", "assignments", "attachedWorkerSelectors", "scheduledAt", "dispositionCode"}

// getJob reads a job; nil when it does not exist.
func (a *api) getJob(r *http.Request, id string) (*routerJob, error) {
	info, err := a.c.JobInfo(r.Context(), id)
	if errors.Is(err, patchbay.ErrUnknownJob) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	j := fromJob(info.Job)
	j.withETag()
	return &j, nil
}

func (a *api) jobGet(w http.ResponseWriter, r *http.Request, p params) error {
	j, err := a.getJob(r, p["jobId"])
	if err != nil {
		return err
	}
	if j == nil {
		return notFound("job", p["jobId"])
	}
	return writeJSON(w, http.StatusOK, j, j.ETag)
}

func notFound(what, id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: "NotFound", msg: fmt.Sprintf("no %s %q", what, id)}
}

// jobUpsert creates a job (201) or changes an existing one (200). An existing job's
// only changeable field is its matchingMode (patchbay's job.update); every other
// field must stay as it is.
func (a *api) jobUpsert(w http.ResponseWriter, r *http.Request, p params) error {
	id := p["jobId"]
	cur, patch, err := readUpsertOf(w, r, func() (*routerJob, error) { return a.getJob(r, id) }, func(j *routerJob) string { return j.ETag })
	if err != nil {
		return err
	}
	if cur == nil {
		return a.jobCreate(w, r, id, patch)
	}
	return a.jobUpdate(w, r, cur, patch)
}

func (a *api) jobCreate(w http.ResponseWriter, r *http.Request, id string, patch map[string]any) error {
	merged := mergePatch(map[string]any{}, patch).(map[string]any)
	if err := checkID(merged, id); err != nil {
		return err
	}
	for _, f := range readOnlyJobFields {
		if _, ok := merged[f]; ok {
			return badRequest(f, "%s is read-only: the router sets it", f)
		}
	}
	in := jobInput{}
	if err := decodeStrict(mustJSON(merged), &in); err != nil {
		return err
	}
	spec := patchbay.JobSpec{
		JobID: id, QueueID: in.QueueID, ClassificationPolicyID: in.ClassificationPolicyID, ChannelID: in.ChannelID,
		ChannelReference: in.ChannelReference, Priority: in.Priority, Labels: in.Labels, Tags: in.Tags,
	}
	for i, s := range in.RequestedWorkerSelectors {
		if s.Status != "" || s.ExpiresAt != nil {
			return badRequest(fmt.Sprintf("requestedWorkerSelectors/%d", i), "requestedWorkerSelectors/%d: status and expiresAt are read-only", i)
		}
		spec.WorkerSelectors = append(spec.WorkerSelectors, events.WorkerSelector{
			Key: s.Key, Operator: s.LabelOperator, Value: s.Value, ExpiresAfterSeconds: s.ExpiresAfterSeconds, Expedite: s.Expedite,
		})
	}
	switch len(in.Notes) {
	case 0:
	case 1:
		spec.Notes = in.Notes[0].Message
	default:
		return badRequest("notes", "notes: patchbay keeps one note per job (got %d)", len(in.Notes))
	}
	if m := in.MatchingMode; m != nil && !(m.Kind == events.MatchQueueAndMatch && m.ScheduleAt == nil) {
		spec.MatchingMode = &events.MatchingMode{Kind: m.Kind, ScheduleAt: m.ScheduleAt}
	}
	if _, err := a.c.CreateJob(r.Context(), spec); err != nil {
		return err
	}
	j, err := a.getJob(r, id)
	if err != nil {
		return err
	}
	if j == nil {
		return notFound("job", id)
	}
	return writeJSON(w, http.StatusCreated, j, j.ETag)
}

func (a *api) jobUpdate(w http.ResponseWriter, r *http.Request, cur *routerJob, patch map[string]any) error {
	before := *cur
	before.ETag = ""
	old, err := toMap(before)
	if err != nil {
		return err
	}
	merged := mergePatch(old, patch).(map[string]any)
	if err := checkID(merged, cur.ID); err != nil {
		return err
	}
	delete(old, "id")
	for _, k := range changedKeys(old, merged) {
		if k != "matchingMode" {
			return badRequest(k, "%s cannot be changed on an existing job: patchbay changes a job only through its actions and its matchingMode", k)
		}
	}
	if !reflect.DeepEqual(old["matchingMode"], merged["matchingMode"]) {
		var in struct {
			MatchingMode *matchingMode `json:"matchingMode"`
		}
		if err := decodeStrict(mustJSON(map[string]any{"matchingMode": merged["matchingMode"]}), &in); err != nil {
			return err
		}
		if in.MatchingMode == nil {
			return badRequest("matchingMode", "matchingMode cannot be removed")
		}
		mode := events.MatchingMode{Kind: in.MatchingMode.Kind, ScheduleAt: in.MatchingMode.ScheduleAt}
		if _, err := a.c.UpdateJob(r.Context(), cur.ID, mode); err != nil {
			return err
		}
	}
	j, err := a.getJob(r, cur.ID)
	if err != nil {
		return err
	}
	if j == nil {
		return notFound("job", cur.ID)
	}
	return writeJSON(w, http.StatusOK, j, j.ETag)
}

// checkID takes a body's read-only id out: it may only repeat the path's.
func checkID(m map[string]any, id string) error {
	if v, ok := m["id"]; ok {
		if v != id {
			return badRequest("id", "id %v does not match the path's %q", v, id)
		}
		delete(m, "id")
	}
	delete(m, "etag")
	return nil
}

// changedKeys lists, sorted, the members that differ between two objects.
func changedKeys(a, b map[string]any) []string {
	var out []string
	for k, v := range b {
		if !reflect.DeepEqual(a[k], v) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func mustJSON(v any) []byte {
	b, err := jsonMarshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// jobDelete: patchbay keeps a closed or cancelled job (its history) until the
// router's retention forgets it, so deleting one is acknowledged (204) and changes
// nothing; any other job must be cancelled or closed first (409).
func (a *api) jobDelete(w http.ResponseWriter, r *http.Request, p params) error {
	info, err := a.c.JobInfo(r.Context(), p["jobId"])
	if err != nil {
		return err
	}
	if !lifecycle.JobStatus(info.Job.Status).Terminal() {
		return &apiError{status: http.StatusConflict, code: "Conflict", inner: events.CodeInvalidTransition,
			msg: fmt.Sprintf("job %q is %s: cancel or close it before deleting it", info.Job.JobID, info.Job.Status)}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type cancelOptions struct {
	Note            string `json:"note,omitempty"`
	DispositionCode string `json:"dispositionCode,omitempty"`
}

func (a *api) jobCancel(w http.ResponseWriter, r *http.Request, p params) error {
	var in cancelOptions
	if err := a.action(w, r, &in); err != nil {
		return err
	}
	if err := a.c.Cancel(r.Context(), p["jobId"], in.DispositionCode, in.Note); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty, "")
}

func (a *api) jobComplete(w http.ResponseWriter, r *http.Request, p params) error {
	var in struct {
		Note string `json:"note,omitempty"`
	}
	if err := a.action(w, r, &in); err != nil {
		return err
	}
	if err := a.c.Complete(r.Context(), p["jobId"], p["assignmentId"], in.Note); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty, "")
}

func (a *api) jobClose(w http.ResponseWriter, r *http.Request, p params) error {
	var in struct {
		DispositionCode string     `json:"dispositionCode,omitempty"`
		CloseAt         *time.Time `json:"closeAt,omitempty"`
		Note            string     `json:"note,omitempty"`
	}
	if err := a.action(w, r, &in); err != nil {
		return err
	}
	opts := patchbay.CloseOptions{DispositionCode: in.DispositionCode, CloseAt: in.CloseAt, Note: in.Note}
	if err := a.c.Close(r.Context(), p["jobId"], p["assignmentId"], opts); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty, "")
}

func (a *api) jobUnassign(w http.ResponseWriter, r *http.Request, p params) error {
	var in struct {
		SuspendMatching bool `json:"suspendMatching,omitempty"`
	}
	if err := a.action(w, r, &in); err != nil {
		return err
	}
	if _, err := a.c.UnassignJob(r.Context(), p["jobId"], p["assignmentId"], in.SuspendMatching); err != nil {
		return err
	}
	info, err := a.c.JobInfo(r.Context(), p["jobId"])
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		JobID             string `json:"jobId"`
		UnassignmentCount int    `json:"unassignmentCount"`
	}{info.Job.JobID, info.Job.UnassignmentCount}, "")
}

// jobReclassify classifies a queued job again by the policy that classified it
// (Azure's body is empty).
func (a *api) jobReclassify(w http.ResponseWriter, r *http.Request, p params) error {
	if err := a.action(w, r, &struct{}{}); err != nil {
		return err
	}
	if _, err := a.c.ReclassifyJob(r.Context(), p["jobId"], "", nil); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty, "")
}

func (a *api) jobPosition(w http.ResponseWriter, r *http.Request, p params) error {
	info, err := a.c.JobInfo(r.Context(), p["jobId"])
	if err != nil {
		return err
	}
	if info.Job.Status != string(lifecycle.JobQueued) {
		return &apiError{status: http.StatusBadRequest, code: "BadRequest", inner: events.CodeInvalidTransition,
			msg: fmt.Sprintf("job %q is %s, not queued: it has no position", info.Job.JobID, info.Job.Status)}
	}
	return writeJSON(w, http.StatusOK, struct {
		JobID                    string  `json:"jobId"`
		Position                 int     `json:"position"`
		QueueID                  string  `json:"queueId"`
		QueueLength              int     `json:"queueLength"`
		EstimatedWaitTimeMinutes float64 `json:"estimatedWaitTimeMinutes"`
	}{info.Job.JobID, info.Position, info.Job.QueueID, info.QueueLength, minutesUp(info.EstimatedWaitSeconds)}, "")
}

// minutesUp is a wait in whole minutes, rounded up (0 when unknown).
func minutesUp(s *float64) float64 {
	if s == nil || *s <= 0 {
		return 0
	}
	m := float64(int64(*s / 60))
	if m*60 < *s {
		m++
	}
	return m
}

// action decodes an action's optional JSON body strictly into in.
func (a *api) action(w http.ResponseWriter, r *http.Request, in any) error {
	body, err := readBody(w, r, false)
	if err != nil {
		return err
	}
	return decodeStrict(body, in)
}
