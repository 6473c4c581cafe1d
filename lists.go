package patchbay

import (
	"context"

	"github.com/patchbay/patchbay/events"
)

// List answers and their items.
type (
	JobList       = events.JobList
	WorkerList    = events.WorkerList
	WorkerSummary = events.WorkerSummary
	ChannelLoad   = events.ChannelLoad
	QueueList     = events.QueueList
	PolicyList    = events.PolicyList
	PolicyInfo    = events.PolicyInfo
)

// ListOptions pages through a list: at most Limit items (0: events.DefaultListLimit,
// at most events.MaxListLimit), after the cursor After ("" for the first page; then
// the previous answer's Next). An answer may hold fewer items than Limit when more
// would not fit in one message; its Next is "" only on the last page.
type ListOptions struct {
	Limit int
	After string
}

// ListJobsOptions filters a job list: by status ("queued", "assigned", ...; "" for
// any), queue and assigned
// worker.
type ListJobsOptions struct {
	Status   string
	QueueID  string
	WorkerID string
	Limit    int
	After    string
}

// ListWorkersOptions filters a worker list: by queue and activity.
type ListWorkersOptions struct {
	QueueID  string
	Activity string
	Limit    int
	After    string
}

// ListJobs returns a page of the jobs the router holds (live, and ended within the
// retention), oldest created first, each as JobInfo describes it.
func (c *Client) ListJobs(ctx context.Context, o ListJobsOptions) (*JobList, error) {
	var out JobList
	q := events.QueryJobs{Status: o.Status, QueueID: o.QueueID, WorkerID: o.WorkerID, Limit: o.Limit, After: o.After}
	if err := c.query(ctx, events.TypeQueryJobs, q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWorkers returns a page of the workers the router knows, by id, each with its
// load per channel and its number of outstanding offers and held jobs.
func (c *Client) ListWorkers(ctx context.Context, o ListWorkersOptions) (*WorkerList, error) {
	var out WorkerList
	q := events.QueryWorkers{QueueID: o.QueueID, Activity: o.Activity, Limit: o.Limit, After: o.After}
	if err := c.query(ctx, events.TypeQueryWorkers, q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListQueues returns a page of the queues the router knows (with a policy, a queued
// job or a worker), by id, each as QueueInfo describes it.
func (c *Client) ListQueues(ctx context.Context, o ListOptions) (*QueueList, error) {
	var out QueueList
	if err := c.query(ctx, events.TypeQueryQueues, events.QueryQueues{Limit: o.Limit, After: o.After}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPolicies returns a page of the stored policies of kind ("" for every kind), by
// kind then id.
func (c *Client) ListPolicies(ctx context.Context, kind PolicyKind, o ListOptions) (*PolicyList, error) {
	var out PolicyList
	if err := c.query(ctx, events.TypeQueryPolicies, events.QueryPolicies{Kind: kind, Limit: o.Limit, After: o.After}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPolicy returns a stored policy; one that does not exist is ErrUnknownPolicy.
func (c *Client) GetPolicy(ctx context.Context, kind PolicyKind, id string) (*PolicyInfo, error) {
	var out PolicyInfo
	if err := c.query(ctx, events.TypeQueryPolicy, events.QueryPolicy{Kind: kind, ID: id}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
