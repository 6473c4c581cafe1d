package patchbay

import (
	"context"

	"github.com/patchbay/patchbay/events"
)

// Explanation answers ExplainJob.
type (
	Explanation     = events.Explanation
	WorkerExplained = events.WorkerExplained
	ChosenWorker    = events.ChosenWorker
)

// ExplainJob says why a job is, or is not, offered to each worker of its queue: for a
// queued job each worker's reason (unavailable, lost, a failing selector with the
// worker's value, no capacity with the numbers, declined until when, outranked by
// which job, ...) or that it would be offered; for an offered or assigned job also
// what chose its workers. limit is how many workers to describe, the first by id (0:
// events.DefaultExplainWorkers, at most events.MaxExplainWorkers); the rest are
// counted in MoreWorkers. A job the router does not know is ErrUnknownJob.
func (c *Client) ExplainJob(ctx context.Context, jobID string, limit int) (*Explanation, error) {
	var out Explanation
	if err := c.query(ctx, events.TypeQueryExplain, events.QueryExplain{JobID: jobID, Limit: limit}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
