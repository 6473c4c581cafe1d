package patchbay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/history"
)

// History bounds (see events.HistoryLimitDefault and events.MaxHistoryLimit).
const (
	// HistoryLimitDefault is how many events JobHistory returns for limit 0.
	HistoryLimitDefault = events.HistoryLimitDefault
	// HistoryLimitMax is the largest limit JobHistory accepts.
	HistoryLimitMax = events.MaxHistoryLimit
)

// JobHistory is a job's whole life as the events stream stored it, oldest first:
// received (or classified), queued, each offer with its worker and outcome, assigned,
// completed, closed or cancelled.
type JobHistory struct {
	Events []Event
	// Truncated says more events are stored than Events holds (the oldest).
	Truncated bool
}

// JobHistory reads every stored event of a job, its offers included, in the order
// they were published, from the events stream (an ordered consumer on the job's
// subjects, events.JobAll: nothing is left on the server). limit caps the events
// (0: HistoryLimitDefault; at most HistoryLimitMax); Truncated says it was reached.
// It works after the router forgot the job, for as long as the stream keeps the
// events (serve --events-max-age, seven days by default). A job without stored events
// has an empty history, not an error. It needs the JetStream API (the admin and
// router credentials allow it); with producer or worker credentials use
// QueryJobHistory, which the router answers.
func (c *Client) JobHistory(ctx context.Context, jobID string, limit int) (*JobHistory, error) {
	n, err := events.HistoryLimit(limit)
	if err != nil {
		return nil, err
	}
	if err := events.CheckID("jobId", jobID); err != nil {
		return nil, err
	}
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	page, err := history.Read(ctx, js, jobID, n, 0)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("patchbay: %w (has the router run against this NATS server?)", err)
		}
		return nil, fmt.Errorf("patchbay: %w", err)
	}
	return decodeHistory(page.Events, page.Truncated)
}

// QueryJobHistory asks the router for a job's history (io.patchbay.query.history):
// the same events as JobHistory, for clients whose credentials do not allow the
// JetStream API. The answer is also cut to fit one NATS message (Truncated).
func (c *Client) QueryJobHistory(ctx context.Context, jobID string, limit int) (*JobHistory, error) {
	var h events.JobHistory
	if err := c.query(ctx, events.TypeQueryHistory, events.QueryHistory{JobID: jobID, Limit: limit}, &h); err != nil {
		return nil, err
	}
	return decodeHistory(h.Events, h.Truncated)
}

func decodeHistory(raw []json.RawMessage, truncated bool) (*JobHistory, error) {
	out := &JobHistory{Events: make([]Event, len(raw)), Truncated: truncated}
	for i, r := range raw {
		// json.Unmarshal rather than events.Decode: an event the router published may
		// be larger than a command may be (offer.issued embeds the job).
		if err := json.Unmarshal(r, &out.Events[i]); err != nil {
			return nil, fmt.Errorf("patchbay: history event %d: %w", i, err)
		}
	}
	return out, nil
}
