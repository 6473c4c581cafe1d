package patchbay

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/patchbay/patchbay/events"
)

// OfferNotice is one offer event for a worker: issued, or the end of an offer the
// worker did not answer (expired, revoked).
type OfferNotice struct {
	Type  events.Type
	Offer Offer
	// Recovered is set on an issued offer that FollowOffers found by asking the router
	// (its offer.issued event was lost while the connection was down, or published
	// before the worker started) rather than received as its event. Its Offer.Job is
	// the job as it is now.
	Recovered bool
}

// OnOffer calls fn for every offer event of a worker (issued, expired, revoked,
// accepted, declined) until the returned subscription is unsubscribed. fn runs on
// one goroutine, one notice at a time. Offer events are core NATS messages: an event
// published while the connection is down is lost. FollowOffers also recovers those.
func (c *Client) OnOffer(workerID string, fn func(OfferNotice)) (*nats.Subscription, error) {
	if err := events.CheckID("workerId", workerID); err != nil {
		return nil, err
	}
	sub, err := c.nc.Subscribe(events.OfferWorkerAll(workerID), func(m *nats.Msg) {
		if n, err := decodeOffer(m); err == nil {
			fn(n)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := c.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	return sub, nil
}

// Offers is an iterator over the offers issued to one worker.
type Offers struct {
	sub *nats.Subscription
}

// Offers subscribes to a worker's offers; Next returns them one by one. Subscribe
// before registering the worker.
func (c *Client) Offers(workerID string) (*Offers, error) {
	if err := events.CheckID("workerId", workerID); err != nil {
		return nil, err
	}
	sub, err := c.nc.SubscribeSync(events.OfferTypeAll(workerID, events.TypeOfferIssued))
	if err != nil {
		return nil, err
	}
	if err := c.nc.Flush(); err != nil {
		return nil, err
	}
	return &Offers{sub: sub}, nil
}

// Next waits for the next offer issued to the worker.
func (o *Offers) Next(ctx context.Context) (Offer, error) {
	for {
		m, err := o.sub.NextMsgWithContext(ctx)
		if err != nil {
			return Offer{}, err
		}
		n, err := decodeOffer(m)
		if err != nil {
			continue
		}
		return n.Offer, nil
	}
}

// Stop ends the subscription.
func (o *Offers) Stop() error { return o.sub.Unsubscribe() }

func decodeOffer(m *nats.Msg) (OfferNotice, error) {
	ev, err := events.DecodeOutbound(m.Header, m.Data)
	if err != nil {
		return OfferNotice{}, err
	}
	var n OfferNotice
	n.Type = events.Type(ev.Type())
	if err := ev.DataAs(&n.Offer); err != nil {
		return OfferNotice{}, fmt.Errorf("offer event data: %w", err)
	}
	if n.Offer.OfferID == "" {
		return OfferNotice{}, errors.New("offer event without an offer id")
	}
	return n, nil
}
