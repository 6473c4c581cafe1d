package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/transient"
)

// LeaseTTLDefault is how long a router's lease lasts without renewal.
const LeaseTTLDefault = 10 * time.Second

const leaseKey = "leader"

// lease is the record in the router bucket that names the one router allowed to apply
// commands. Only its holder loads the state and consumes; a second router waits as a
// standby and takes over when the lease is released or expires. Every change is a
// compare-and-set on the key's revision, so two routers can never both hold it.
type lease struct {
	Holder string    `json:"holder"`
	Until  time.Time `json:"until"`
}

// acquire waits until this router holds the lease. While another router holds it,
// this one stands by. A read or write of the lease that fails on the way (no replica
// answers, the connection is being re-established) is tried again: a standby rides
// out a broker restart or a leader election instead of exiting.
func (r *Router) acquire(ctx context.Context) error {
	standing, failing := false, false
	for {
		actx, cancel := context.WithTimeout(ctx, r.cfg.LeaseTTL/2)
		held, err := r.tryLease(actx)
		cancel()
		switch {
		case err == nil && held == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("waiting for the lease: %w", ctx.Err())
		case err == nil:
			if !standing {
				r.log.Info().Str("holder", held.Holder).Time("until", held.Until).Msg("another router is active; standing by")
				standing = true
			}
			failing = false
		case !transient.Is(err):
			return err
		case !failing:
			r.log.Warn().Err(err).Msg("could not read the lease; trying again")
			failing = true
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the lease: %w", ctx.Err())
		case <-time.After(r.cfg.LeaseTTL / 10):
		}
	}
}

// tryLease takes the lease when it is free, ours, or (with OwnsStore) held by a
// predecessor. It returns the lease another router holds, or nil once it is ours.
// Losing a race for the key to another router is no error: the next try reads who won.
func (r *Router) tryLease(ctx context.Context) (*lease, error) {
	kv := r.kv[events.BucketRouter]
	now := r.cfg.Now()
	val, _ := json.Marshal(lease{Holder: r.id, Until: now.Add(r.cfg.LeaseTTL)})
	e, err := kv.Get(ctx, leaseKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		rev, err := kv.Create(ctx, leaseKey, val)
		if err == nil {
			r.leaseRev, r.leaseUntil = rev, now.Add(r.cfg.LeaseTTL)
			return nil, nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			return &lease{}, nil
		}
		return nil, fmt.Errorf("take lease: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("read lease: %w", err)
	}
	var cur lease
	_ = json.Unmarshal(e.Value(), &cur)
	free := cur.Holder == r.id || !cur.Until.After(now) || len(e.Value()) == 0
	// With OwnsStore no other router can be alive on this store: the holder is a
	// predecessor that died without releasing the lease.
	if !free && !r.cfg.OwnsStore {
		return &cur, nil
	}
	rev, err := kv.Update(ctx, leaseKey, val, e.Revision())
	if isWrongLastSeq(err) {
		return &cur, nil // another router wrote it first
	}
	if err != nil {
		return nil, fmt.Errorf("take lease: %w", err)
	}
	if !free {
		r.log.Info().Str("holder", cur.Holder).Time("until", cur.Until).
			Msg("took over the lease of a router that died (this process owns the store)")
	}
	r.leaseRev, r.leaseUntil = rev, now.Add(r.cfg.LeaseTTL)
	return nil, nil
}

// renew extends the lease. It fails when another router has taken it.
func (r *Router) renew(ctx context.Context) error {
	now := r.cfg.Now()
	return r.writeLease(ctx, lease{Holder: r.id, Until: now.Add(r.cfg.LeaseTTL)})
}

// writeLease writes the lease by compare-and-set on the revision this router last
// wrote. A write whose ack was lost (the connection dropped, a stream leader changed)
// may have landed all the same: the key then names this router at a revision it
// never learnt, and the compare-and-set fails. Only this router writes its own name,
// so that is no rival: the write is made again on the revision read. When the key
// names another router, the error is the lost compare-and-set (isWrongLastSeq).
func (r *Router) writeLease(ctx context.Context, l lease) error {
	kv := r.kv[events.BucketRouter]
	val, _ := json.Marshal(l)
	r.leaseMu.Lock()
	last := r.leaseRev
	r.leaseMu.Unlock()
	rev, err := kv.Update(ctx, leaseKey, val, last)
	if isWrongLastSeq(err) {
		if e, gerr := kv.Get(ctx, leaseKey); gerr == nil {
			var cur lease
			if json.Unmarshal(e.Value(), &cur) == nil && cur.Holder == r.id {
				r.log.Info().Uint64("revision", e.Revision()).Msg("the lease holds a renewal whose ack was lost; renewing on its revision")
				rev, err = kv.Update(ctx, leaseKey, val, e.Revision())
			}
		}
	}
	if err != nil {
		return err
	}
	r.leaseMu.Lock()
	r.leaseRev, r.leaseUntil = rev, l.Until
	r.leaseMu.Unlock()
	return nil
}

// ensureLease reports whether the router may apply commands now. The lease must be
// ours with a margin by the local clock; when it is not (the router was paused, or
// could not renew), one renewal is tried: it is a compare-and-set on our revision, so
// it succeeds only if no other router took the lease meanwhile. When another did, the
// router stops.
func (r *Router) ensureLease() bool {
	if r.holdsLease() {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.LeaseTTL/2)
	defer cancel()
	err := r.renew(ctx)
	if err == nil {
		return true
	}
	if isWrongLastSeq(err) {
		r.fail(fmt.Errorf("another router took the lease: %w", err))
	} else {
		r.log.Warn().Err(err).Msg("lease ran out and could not be renewed; waiting")
	}
	return false
}

// holdsLease reports whether the lease is still ours with a margin, judged by the
// local clock.
func (r *Router) holdsLease() bool {
	r.leaseMu.Lock()
	defer r.leaseMu.Unlock()
	return r.cfg.Now().Before(r.leaseUntil.Add(-r.cfg.LeaseTTL / 5))
}

// release gives the lease up so a standby takes over at once.
func (r *Router) release(ctx context.Context) {
	if err := r.writeLease(ctx, lease{Holder: r.id}); err != nil {
		r.log.Warn().Err(err).Msg("release lease")
	}
}

// keepLease renews the lease until ctx ends. When another router has taken it the
// router stops with an error; other failures are retried (meanwhile ensureLease keeps
// the router from applying anything once the lease has run out).
func (r *Router) keepLease(ctx context.Context) {
	t := time.NewTicker(r.cfg.LeaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cctx, cancel := context.WithTimeout(ctx, r.cfg.LeaseTTL/3)
			err := r.renew(cctx)
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
			if isWrongLastSeq(err) {
				r.fail(fmt.Errorf("another router took the lease: %w", err))
				return
			}
			r.log.Warn().Err(err).Msg("renew lease; retrying")
		}
	}
}
