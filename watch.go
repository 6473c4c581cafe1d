package patchbay

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/patchbay/patchbay/events"
)

// WatchOptions choose which events Watch returns.
type WatchOptions struct {
	// Subjects filter the events (default every event, "patchbay.events.>"); see
	// events.JobQueueAll, events.OfferWorkerAll and the README's subject list.
	Subjects []string
	// FromStart replays the stored history first; otherwise only new events come.
	FromStart bool
}

// Watcher is an iterator over outbound events.
type Watcher struct {
	it jetstream.MessagesContext
}

// Watch follows the router's event stream (an ordered consumer: no state is left on
// the server when it stops). It stops when ctx ends or Stop is called; Next then
// returns an error.
func (c *Client) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: opts.Subjects, DeliverPolicy: jetstream.DeliverNewPolicy}
	if len(cfg.FilterSubjects) == 0 {
		cfg.FilterSubjects = []string{events.SubjectEventsAll}
	}
	if opts.FromStart {
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamEvents, cfg)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", events.StreamEvents, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, err
	}
	w := &Watcher{it: it}
	go func() {
		<-ctx.Done()
		w.Stop()
	}()
	return w, nil
}

// Next returns the next event and the subject it was published on.
func (w *Watcher) Next() (Event, string, error) {
	for {
		m, err := w.it.Next()
		if err != nil {
			return Event{}, "", err
		}
		ev, err := events.DecodeOutbound(m.Headers(), m.Data())
		if err != nil {
			continue
		}
		return ev, m.Subject(), nil
	}
}

// Stop ends the watch; a Next in progress returns an error.
func (w *Watcher) Stop() { w.it.Stop() }
