// Package history reads one job's stored events, its offers included, from the
// events stream (PATCHBAY_EVENTS) in the order they were published. The Go client's
// JobHistory and the router's io.patchbay.query.history share it.
package history

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/patchbay/patchbay/events"
)

// Page is what Read returns: the job's events oldest first, each a structured
// CloudEvent, and whether more are stored than it holds.
type Page struct {
	Events    []json.RawMessage
	Truncated bool
}

// Read returns the events stored on the job's subjects (events.JobAll), oldest
// first: at most limit of them (1 to events.MaxHistoryLimit) and, when maxBytes > 0,
// only as many as fit in a JSON array of maxBytes bytes. It reads with an ordered
// consumer, which leaves nothing on the server, and stops at the events stored when
// it started. An unknown job (or one whose events the stream no longer keeps) has
// no events: that is not an error.
func Read(ctx context.Context, js jetstream.JetStream, jobID string, limit, maxBytes int) (*Page, error) {
	if err := events.CheckID("jobId", jobID); err != nil {
		return nil, err
	}
	if limit < 1 || limit > events.MaxHistoryLimit {
		return nil, fmt.Errorf("history of %s: limit %d is outside 1..%d", jobID, limit, events.MaxHistoryLimit)
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.JobAll(jobID)},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", jobID, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(min(limit+1, 256)))
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", jobID, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			it.Stop()
		case <-done:
		}
	}()
	defer it.Stop()
	page := &Page{Events: []json.RawMessage{}}
	info := cons.CachedInfo()
	if info == nil || info.NumPending == 0 {
		return page, nil
	}
	size := len(`[]`)
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("history of %s: %w", jobID, err)
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", jobID, err)
		}
		raw, err := structured(m)
		if err != nil {
			return nil, fmt.Errorf("history of %s: stream sequence %d: %w", jobID, md.Sequence.Stream, err)
		}
		if maxBytes > 0 && size+len(raw)+1 > maxBytes {
			page.Truncated = true
			return page, nil
		}
		size += len(raw) + 1
		page.Events = append(page.Events, raw)
		if md.NumPending == 0 {
			return page, nil
		}
		if len(page.Events) == limit {
			page.Truncated = true
			return page, nil
		}
	}
}

// structured returns a stored event as structured CloudEvent JSON: the body the
// router published (it publishes the structured mode), or the event re-encoded when
// it was stored in the binary mode.
func structured(m jetstream.Msg) (json.RawMessage, error) {
	h := m.Headers()
	binary := false
	for k := range h {
		binary = binary || strings.EqualFold(k, "ce-specversion")
	}
	if !binary {
		if !json.Valid(m.Data()) {
			return nil, fmt.Errorf("not a JSON CloudEvent")
		}
		return json.RawMessage(m.Data()), nil
	}
	ev, err := events.DecodeOutbound(h, m.Data())
	if err != nil {
		return nil, err
	}
	b, err := events.Structured(ev)
	if err != nil {
		return nil, err
	}
	return b, nil
}
