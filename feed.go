package patchbay

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go"

	"github.com/patchbay/patchbay/events"
)

// FollowOptions configure FollowOffers.
type FollowOptions struct {
	// OnResync, when set, is called after each resync with the router's answer: the
	// worker, its outstanding offers and the jobs it holds (Jobs), which a restarted
	// worker resumes. It is not called while the worker is not registered yet, nor
	// when the resync failed. It runs like fn: one call at a time, never at the same
	// time as fn.
	OnResync func(*WorkerInfo)
	// OnError, when set, is told why a resync failed (the router could not be reached
	// within the client's retry deadline, the connection closed); the next reconnect,
	// or Resync, tries again.
	OnError func(error)
}

// OfferFeed delivers a worker's offer events and recovers those a lost connection
// or a restart made it miss. See FollowOffers.
type OfferFeed struct {
	c        *Client
	workerID string
	fn       func(OfferNotice)
	opts     FollowOptions
	sub      *nats.Subscription
	status   chan nats.Status
	kick     chan struct{}
	ctx      context.Context // ends at Stop: cuts a resync in flight short
	cancel   context.CancelFunc
	stopped  atomic.Bool
	stopOnce sync.Once

	// mu serialises the calls of fn and OnResync, and guards the fields below.
	mu sync.Mutex
	// seen holds the ids of the issued offers delivered and not known to have ended:
	// an offer is delivered once, whether its event or a resync brings it first. An
	// id leaves when its end event comes, or at the next resync that no longer lists
	// it (its end event was lost too), so seen is bounded by the worker's outstanding
	// offers and those that ended since the last resync.
	seen map[string]struct{}
	// While a resync is in flight, ended and fresh hold the ids whose end event and
	// whose issued event came meanwhile: the answer may be older than those events.
	resyncing bool
	ended     map[string]struct{}
	fresh     map[string]struct{}
	dropped   int // messages the subscription dropped (slow consumer), last seen
}

// FollowOffers calls fn for every offer event of a worker, like OnOffer, and also
// for the offers it would otherwise miss: right after subscribing, and after every
// reconnect of the client's NATS connection, it asks the router for the worker's
// outstanding offers (WorkerInfo) and delivers those it has not delivered yet, as
// issued notices with Recovered set. Each issued offer is delivered once, whichever
// way it comes first. So a worker whose connection blinked while an offer was
// published, or a worker restarted while offers were out for it, still sees them
// before they expire. A worker not registered yet has nothing to recover: subscribe
// with FollowOffers, then register.
//
// The reconnects are observed with the connection's status listener
// (nats.Conn.StatusChanged), which adds a listener and leaves the application's own
// ReconnectHandler (a connection has one, and SetReconnectHandler replaces it) alone.
// The subscription is re-established before the client sends anything on the new
// connection, so every offer issued after the router answered the resync reaches
// the worker as its event: nothing falls between the two. Call Resync to resync at
// other times (the feed itself does when its subscription dropped messages as a slow
// consumer).
//
// fn and opts.OnResync are called one at a time; they should not block for long (an
// accept is best sent from a goroutine of its own). The feed ends with Stop, or when
// the connection is closed.
func (c *Client) FollowOffers(workerID string, fn func(OfferNotice), opts FollowOptions) (*OfferFeed, error) {
	if err := events.CheckID("workerId", workerID); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, errors.New("patchbay: FollowOffers needs a function to call")
	}
	f := &OfferFeed{c: c, workerID: workerID, fn: fn, opts: opts, kick: make(chan struct{}, 1), seen: map[string]struct{}{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	// Listen for reconnects before subscribing: a reconnect in between is not missed.
	f.status = c.nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
	sub, err := c.nc.Subscribe(events.OfferWorkerAll(workerID), f.receive)
	if err == nil {
		err = c.nc.Flush()
	}
	if err != nil {
		if sub != nil {
			_ = sub.Unsubscribe()
		}
		c.nc.RemoveStatusListener(f.status)
		f.cancel()
		return nil, err
	}
	f.sub = sub
	go f.run()
	return f, nil
}

// Resync asks the router for the worker's outstanding offers again and delivers
// those not delivered yet, in the feed's goroutine; it returns at once. Resyncs asked
// for while one is in flight are done once, after it.
func (f *OfferFeed) Resync() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Stop ends the feed: its subscription, its status listener, and a resync in
// flight. A notice already being handed to fn may still arrive; none is handed over
// after that. fn may call Stop. It is safe to call twice.
func (f *OfferFeed) Stop() error {
	var err error
	f.stopOnce.Do(func() {
		f.stopped.Store(true)
		f.cancel()
		err = f.sub.Unsubscribe()
		f.c.nc.RemoveStatusListener(f.status)
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
			err = nil // already gone with its connection
		}
	})
	return err
}

// run resyncs once, then after every reconnect and every Resync, until Stop or the
// connection closes.
func (f *OfferFeed) run() {
	f.resync()
	for {
		select {
		case <-f.ctx.Done():
			return
		case s, ok := <-f.status:
			if !ok || s == nats.CLOSED {
				return
			}
			f.resync() // CONNECTED after the first: a reconnect
		case <-f.kick:
			f.resync()
		}
	}
}

// receive handles one offer event from the subscription.
func (f *OfferFeed) receive(m *nats.Msg) {
	if n, err := m.Sub.Dropped(); err == nil && n > f.dropped {
		f.dropped = n // only this goroutine touches it
		f.Resync()    // events were lost: the router has them
	}
	n, err := decodeOffer(m)
	if err != nil {
		return
	}
	id := n.Offer.OfferID
	f.mu.Lock()
	defer f.mu.Unlock()
	if n.Type == events.TypeOfferIssued {
		if _, dup := f.seen[id]; dup {
			return // a resync delivered it first
		}
		f.seen[id] = struct{}{}
		if f.resyncing {
			f.fresh[id] = struct{}{}
		}
	} else {
		delete(f.seen, id)
		if f.resyncing {
			f.ended[id] = struct{}{}
		}
	}
	f.deliver(n)
}

// resync asks the router for the worker's offers and delivers the ones not
// delivered yet.
func (f *OfferFeed) resync() {
	f.mu.Lock()
	f.resyncing, f.ended, f.fresh = true, map[string]struct{}{}, map[string]struct{}{}
	f.mu.Unlock()
	info, err := f.c.WorkerInfo(f.ctx, f.workerID)
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() { f.resyncing, f.ended, f.fresh = false, nil, nil }()
	switch {
	case f.stopped.Load():
		return
	case errors.Is(err, ErrUnknownWorker):
		info = &WorkerInfo{} // not registered yet: nothing is out for it
	case err != nil:
		if f.opts.OnError != nil {
			f.opts.OnError(err)
		}
		return
	}
	listed := make(map[string]struct{}, len(info.Offers))
	for _, o := range info.Offers {
		listed[o.OfferID] = struct{}{}
		_, dup := f.seen[o.OfferID]
		_, gone := f.ended[o.OfferID]
		if dup || gone {
			continue
		}
		f.seen[o.OfferID] = struct{}{}
		f.deliver(OfferNotice{Type: events.TypeOfferIssued, Offer: o, Recovered: true})
	}
	if !info.Truncated {
		// What the answer does not list ended before it (its end event was lost), unless
		// its event came after the answer was made.
		for id := range f.seen {
			_, ok := listed[id]
			_, isFresh := f.fresh[id]
			if !ok && !isFresh {
				delete(f.seen, id)
			}
		}
	}
	if f.opts.OnResync != nil && err == nil && !f.stopped.Load() {
		f.opts.OnResync(info)
	}
}

// deliver calls fn, unless the feed was stopped. f.mu is held.
func (f *OfferFeed) deliver(n OfferNotice) {
	if !f.stopped.Load() {
		f.fn(n)
	}
}
