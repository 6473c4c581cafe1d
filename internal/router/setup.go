package router

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/transient"
)

// storage is where the streams and buckets keep their messages.
const storage = jetstream.FileStorage

// buckets lists the KV buckets the router keeps its state in.
var buckets = []string{events.BucketJobs, events.BucketWorkers, events.BucketOffers, events.BucketQueues,
	events.BucketPolicies, events.BucketRouter}

// setup creates or updates the streams and KV buckets.
// It is idempotent: running it against an existing deployment changes only what
// the configuration changed.
func (r *Router) setup(ctx context.Context) error {
	// A server without JetStream has nobody on the JetStream API: every request
	// would find no responders, which says nothing. Ask once, and say what is wrong.
	err := r.retry(ctx, func(ctx context.Context) error {
		_, err := r.js.AccountInfo(ctx)
		return err
	})
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return fmt.Errorf("the NATS server has no JetStream for this connection's account: run nats-server with -js (or enable JetStream for the account): %w", err)
	}
	if err != nil {
		return fmt.Errorf("jetstream account: %w", err)
	}
	if err := r.ensureStreams(ctx); err != nil {
		return err
	}
	r.kv = map[string]jetstream.KeyValue{}
	for _, b := range buckets {
		history := uint8(1)
		if b == events.BucketRouter {
			history = walHistory // the pending records are read back from it
		}
		cfg := jetstream.KeyValueConfig{
			Bucket:   b,
			History:  history,
			Storage:  storage,
			Replicas: r.cfg.Replicas,
			// A removed key leaves a marker only this long (and the router's removals
			// carry a TTL), so the buckets hold live keys, not history.
			LimitMarkerTTL: markerTTL,
		}
		var kv jetstream.KeyValue
		err := r.retry(ctx, func(ctx context.Context) (err error) {
			kv, err = r.ensureBucket(ctx, cfg)
			return err
		})
		if err == nil {
			// On a cluster a bucket just created has no replica serving reads for a
			// moment, and a read then finds no responders: the router's first read
			// is the lease, and the start should not fail on that.
			err = r.retry(ctx, func(ctx context.Context) error {
				_, err := kv.Get(ctx, leaseKey)
				if errors.Is(err, jetstream.ErrKeyNotFound) {
					return nil
				}
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("kv bucket %s: %w", b, err)
		}
		r.kv[b] = kv
	}
	return nil
}

// ensureStreams creates or updates the router's streams. The start-up runs it, and so
// does a reload after a failure: a stream deleted under the running router (say
// PATCHBAY_EVENTS, to drop the history) is made again rather than failing every
// write for ever. (The buckets hold the state: one deleted is not made again.)
func (r *Router) ensureStreams(ctx context.Context) error {
	streams := []jetstream.StreamConfig{{
		Name:        events.StreamIn,
		Description: "patchbay inbound commands (job created, worker register, offer accept, ...)",
		Subjects:    []string{events.SubjectInAll},
		Retention:   jetstream.WorkQueuePolicy,
	}, {
		Name:        events.StreamEvents,
		Description: "patchbay outbound events, one per state change",
		Subjects:    []string{events.SubjectEventsAll},
		MaxAge:      r.cfg.EventsMaxAge,
	}, {
		Name:        events.StreamDead,
		Description: "patchbay commands set aside: their effects could not be stored (see the Patchbay-Dead-Reason header)",
		Subjects:    []string{events.SubjectDeadAll},
		MaxAge:      r.cfg.EventsMaxAge,
	}}
	for _, cfg := range streams {
		cfg.Storage, cfg.Replicas, cfg.Duplicates = storage, r.cfg.Replicas, 2*time.Minute
		err := r.retry(ctx, func(ctx context.Context) error {
			_, err := r.ensureStream(ctx, cfg)
			return err
		})
		if err != nil {
			return fmt.Errorf("stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// requestAttempt bounds one request to the JetStream API while the router sets up
// its streams, buckets and consumer (at start-up, and again after a failure). During
// a leader election a request can go unanswered; it is made again rather than left
// to use up the whole deadline.
const requestAttempt = 5 * time.Second

// retry runs f until it succeeds, fails with an error another try cannot mend, or ctx
// ends; each attempt has requestAttempt.
func (r *Router) retry(ctx context.Context, f func(context.Context) error) error {
	warned := false
	for {
		actx, cancel := context.WithTimeout(ctx, requestAttempt)
		err := f(actx)
		cancel()
		if err == nil || !transient.Is(err) || ctx.Err() != nil {
			return err
		}
		if !warned {
			r.log.Warn().Err(err).Msg("the broker did not answer; trying again")
			warned = true
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// takeConsumer deletes the matcher's consumer and creates it again, once this router
// holds the lease. A predecessor that is paused or cut off may still have pull
// requests waiting on the old consumer, which would take commands and sit on them
// until their ack wait ran out; with the consumer gone they end at once, and every
// unacknowledged command is delivered to this router (the stream is a work queue:
// acknowledged commands are gone, the others stay).
func (r *Router) takeConsumer(ctx context.Context) (jetstream.Consumer, error) {
	if err := r.js.DeleteConsumer(ctx, events.StreamIn, events.ConsumerMatcher); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("consumer %s: %w", events.ConsumerMatcher, err)
	}
	return r.makeConsumer(ctx)
}

// makeConsumer creates the matcher's consumer, or binds to it when it exists.
func (r *Router) makeConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := r.js.CreateOrUpdateConsumer(ctx, events.StreamIn, jetstream.ConsumerConfig{
		Durable:       events.ConsumerMatcher,
		Description:   "patchbay matcher: applies commands one at a time",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.cfg.AckWait,
		MaxAckPending: r.cfg.BatchMax,
		MaxDeliver:    -1,
		Replicas:      r.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", events.ConsumerMatcher, err)
	}
	return cons, nil
}

// consumeHeartbeat is how often the broker tells a waiting pull that the consumer is
// there; two missed in a row make the router look the consumer up (consumerLost).
const consumeHeartbeat = 5 * time.Second

// consume pulls the commands from the matcher's consumer.
func (r *Router) consume(cons jetstream.Consumer) (jetstream.MessagesContext, error) {
	return cons.Messages(jetstream.PullMaxMessages(r.cfg.BatchMax), jetstream.PullHeartbeat(consumeHeartbeat),
		jetstream.WithMessagesErrOnMissingHeartbeat(true))
}

// consumerLost reports whether err, from the consumer's messages, means the consumer
// is gone: the broker said it was deleted, or heartbeats stopped and it is not there
// any more (its stream was deleted, which the broker does not announce to a pull).
func (r *Router) consumerLost(ctx context.Context, err error) bool {
	if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return true
	}
	if !errors.Is(err, jetstream.ErrNoHeartbeat) {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, requestAttempt)
	defer cancel()
	_, err = r.js.Consumer(cctx, events.StreamIn, events.ConsumerMatcher)
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)
}

// reconsume makes the matcher's consumer again after it was deleted under the
// router, and returns its messages. Whoever deleted it, the lease says whether this
// router may go on: a router that takes the lease over writes it before it deletes
// the consumer, so a renewal (a compare-and-set) fails then and this router stops.
// Otherwise (an operator deleted it) the consumer is made again: the work-queue
// stream still holds every command not acknowledged, and delivers them again, oldest
// first. It returns false when the router stops or failed.
func (r *Router) reconsume(ctx context.Context) (jetstream.MessagesContext, bool) {
	wait := backoff{min: CommitRetryDefault / 5, max: commitRetryMax}
	for ctx.Err() == nil {
		msgs, err := r.tryReconsume(ctx)
		switch {
		case err == nil:
			r.log.Warn().Msg("the matcher's consumer was deleted; made it again")
			return msgs, true
		case isWrongLastSeq(err):
			r.fail(fmt.Errorf("the matcher's consumer was deleted and another router took the lease: %w", err))
			return nil, false
		case errors.Is(err, errStopping):
			return nil, false
		}
		r.log.Warn().Err(err).Dur("retry_in", wait.next).Msg("the matcher's consumer was deleted; making it again")
		wait.pause(nil)
	}
	return nil, false
}

// errStopping says the router stopped or failed meanwhile.
var errStopping = errors.New("router stopping")

func (r *Router) tryReconsume(ctx context.Context) (jetstream.MessagesContext, error) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.LeaseTTL/2)
	defer cancel()
	if err := r.renew(cctx); err != nil {
		return nil, err
	}
	if err := r.ensureStreams(cctx); err != nil { // the consumer goes with its stream
		return nil, err
	}
	cons, err := r.makeConsumer(cctx)
	if err != nil {
		return nil, err
	}
	msgs, err := r.consume(cons)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.Err() != nil {
		msgs.Stop()
		return nil, errStopping
	}
	r.msgs = msgs
	return msgs, nil
}

// ensureStream creates a stream, or updates it when its configuration differs from
// cfg. An update of a stream holding many messages costs the broker time; a start
// that changes nothing does not ask for one.
func (r *Router) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := r.js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return r.js.CreateStream(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	cur := s.CachedInfo().Config
	if cur.Description == cfg.Description && slices.Equal(cur.Subjects, cfg.Subjects) && cur.Retention == cfg.Retention &&
		cur.MaxAge == cfg.MaxAge && cur.Storage == cfg.Storage && cur.Replicas == cfg.Replicas && cur.Duplicates == cfg.Duplicates {
		return s, nil
	}
	return r.js.UpdateStream(ctx, cfg)
}

// ensureBucket is ensureStream for a KV bucket.
func (r *Router) ensureBucket(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := r.js.KeyValue(ctx, cfg.Bucket)
	if err == nil {
		st, err := kv.Status(ctx)
		if err != nil {
			return nil, err
		}
		if s, ok := st.(*jetstream.KeyValueBucketStatus); ok {
			c := s.StreamInfo().Config
			if st.History() == int64(cfg.History) && c.Storage == cfg.Storage && c.Replicas == cfg.Replicas &&
				st.LimitMarkerTTL() == cfg.LimitMarkerTTL {
				return kv, nil
			}
		}
	} else if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, err
	}
	return r.js.CreateOrUpdateKeyValue(ctx, cfg)
}
