package events

import "encoding/json"

// Bounds of a job's history (io.patchbay.query.history, the Go client's JobHistory).
const (
	// HistoryLimitDefault is how many events a history returns when the request names
	// no limit. A job's ordinary life is a handful of events (received, queued, an
	// offer issued and accepted, assigned, completed, closed); a job declined or left
	// to expire by hundreds of workers has two events per offer.
	HistoryLimitDefault = 1000
	// MaxHistoryLimit is the largest limit a history request may name. The answer is
	// also cut to one NATS message (the broker's max payload), whichever is smaller.
	MaxHistoryLimit = 10000
)

// QueryHistory is the data of io.patchbay.query.history: the stored events of one
// job, its offers included, oldest first.
type QueryHistory struct {
	JobID string `json:"jobId"`
	// Limit caps the number of events (default HistoryLimitDefault, at most
	// MaxHistoryLimit).
	Limit int `json:"limit,omitempty"`
}

// JobHistory answers io.patchbay.query.history: the job's events as the stream
// PATCHBAY_EVENTS stores them (each a structured CloudEvent), oldest first.
type JobHistory struct {
	Events []json.RawMessage `json:"events"`
	// Truncated is true when more events are stored than the answer holds: the limit
	// was reached, or the answer had to fit in one NATS message. Events then holds the
	// oldest.
	Truncated bool `json:"truncated,omitempty"`
}

// HistoryLimit returns the number of events a history request for limit returns:
// HistoryLimitDefault for 0, or an error naming the field for a negative limit or one
// over MaxHistoryLimit.
func HistoryLimit(limit int) (int, error) {
	switch {
	case limit == 0:
		return HistoryLimitDefault, nil
	case limit < 0:
		return 0, Errorf(CodeInvalidData, "limit", "limit %d: want 1 to %d (0: %d)", limit, MaxHistoryLimit, HistoryLimitDefault)
	case limit > MaxHistoryLimit:
		return 0, Errorf(CodeInvalidData, "limit", "limit is %d; the limit is %d", limit, MaxHistoryLimit)
	}
	return limit, nil
}
