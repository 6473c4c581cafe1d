// Package router is the only part of patchbay that talks to NATS: it creates the
// streams and KV buckets, consumes inbound commands one at a time with explicit acks,
// feeds them to the matcher engine, persists each result (write-ahead record, KV
// writes, events) before it acknowledges, answers requests, and runs the engine's
// timers. See docs/design.md for the invariants it keeps.
package router

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
)

// Defaults.
const (
	AckWaitDefault      = 5 * time.Second
	EventsMaxAgeDefault = 7 * 24 * time.Hour
	ReplicasDefault     = 1
	// CommitRetryDefault is the pause before retrying a command whose result could not
	// be persisted.
	CommitRetryDefault = 500 * time.Millisecond
	// BatchMaxDefault is the most commands applied under one write-ahead record.
	BatchMaxDefault = 128
)

// Config configures a Router.
type Config struct {
	Engine matcher.Config
	// AckWait is how long the stream waits for the router to acknowledge a command
	// before it redelivers it (AckWaitDefault when zero).
	AckWait time.Duration
	// EventsMaxAge is how long outbound events are kept (EventsMaxAgeDefault when
	// zero; negative keeps them forever).
	EventsMaxAge time.Duration
	// Replicas of streams and buckets (1 when zero; 3 on a three-node cluster).
	Replicas int
	// Logger is where the router logs (a disabled logger when nil).
	Logger *zerolog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// BatchMax is how many waiting commands the router applies under one write-ahead
	// record (BatchMaxDefault when zero). 1 applies them one at a time.
	BatchMax int
	// LeaseTTL is how long the router's lease lasts without renewal
	// (LeaseTTLDefault when zero): how soon a standby takes over from a router that
	// died without releasing it.
	LeaseTTL time.Duration
	// OwnsStore says that no other router can be running on this deployment: the
	// router's process holds the embedded server's data directory. A predecessor's
	// lease is then taken over at once instead of waiting for it to expire.
	OwnsStore bool
	// ReplyPrefixes are the subject prefixes a command's answer may be sent to (its
	// request reply subject or Patchbay-Reply-To header); ReplyPrefixesDefault
	// (NATS's inbox prefix) when empty. Anything else is refused, never published to.
	ReplyPrefixes []string
	// TracerProvider, when set, records the router's spans of every command (receive,
	// apply, persist, publish: see tracing.go). Nil records none, at no cost.
	TracerProvider trace.TracerProvider
}

// ReplyPrefixesDefault: the inboxes NATS clients make for requests by default.
var ReplyPrefixesDefault = []string{"_INBOX."}

// Validate says what is wrong with c.
func (c Config) Validate() error {
	if c.AckWait < 0 {
		return fmt.Errorf("ack wait must not be negative (got %s)", c.AckWait)
	}
	if c.LeaseTTL < 0 || (c.LeaseTTL > 0 && c.LeaseTTL < 300*time.Millisecond) {
		return fmt.Errorf("lease TTL must be at least 300ms (got %s)", c.LeaseTTL)
	}
	if c.BatchMax < 0 || c.BatchMax > 1000 {
		return fmt.Errorf("batch max must be between 1 and 1000 (got %d)", c.BatchMax)
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("replicas must be between 1 and 5 (got %d)", c.Replicas)
	}
	for _, p := range c.ReplyPrefixes {
		if err := checkReplyPrefix(p); err != nil {
			return err
		}
	}
	return c.Engine.Validate()
}

// Router routes jobs to workers.
type Router struct {
	cfg    Config
	log    zerolog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
	kv     map[string]jetstream.KeyValue
	engine *matcher.Engine

	// lastWAL is the last record written or recovered; walRev its revision (the
	// condition of the next record's write) and walSeq its number.
	lastWAL *walRecord
	walMu   sync.Mutex // guards lastWAL: written by the persister, read by the engine goroutine
	walRev  uint64
	walSeq  uint64
	walBuf  []byte // the last record's encoding, its buffer used again by the next
	// revs is the revision of every key this router wrote or loaded: the condition of
	// its next write of that key.
	revs map[kvKey]uint64
	// pending holds the KV writes of the last records written that are not made yet
	// (see commit); the last record written names those records.
	pending pendingWrites
	// stale says the engine may hold changes that were not stored: it is reloaded from
	// KV before anything else is applied.
	stale bool
	// hook, when set (tests only), is called at named points of a commit; an error
	// fails the commit there, as a storage failure would.
	hook     atomic.Pointer[func(point string) error]
	tickWait backoff

	id         string // this router's name in the lease
	leaseMu    sync.Mutex
	leaseRev   uint64
	leaseUntil time.Time

	failOnce sync.Once
	failed   chan struct{}
	err      error

	state   atomic.Value // State
	metrics *metrics
	spans   *spans // nil when no spans are recorded

	// abortStart ends a Start that is still setting up or standing by, so Stop does
	// not wait for the lease (guarded by startMu: Start holds mu while it waits).
	startMu    sync.Mutex
	abortStart context.CancelFunc

	mu       sync.Mutex
	started  bool
	starting atomic.Bool // Start is running (it holds mu)
	cancel   context.CancelFunc
	done     chan struct{}
	reqSub   *nats.Subscription
	qrySub   *nats.Subscription
	hbSub    *nats.Subscription
	beats    *beats
	msgs     jetstream.MessagesContext
	// reads are queries' reads of the engine, run on the router's goroutine.
	reads chan func()
	// histories holds a token per history query reading the events stream.
	histories chan struct{}
	// forwards are the requests being stored on the stream.
	forwards chan forwarded
	// persistQ hands records to the persister; inflight is the one it stores now, open
	// the one the next commands are applied into (engine goroutine only).
	persistQ chan *pending
	inflight *pending
	open     *pending
}

// New returns a router that will use nc. It does nothing until Start.
func New(nc *nats.Conn, cfg Config) (*Router, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = AckWaitDefault
	}
	if cfg.EventsMaxAge == 0 {
		cfg.EventsMaxAge = EventsMaxAgeDefault
	} else if cfg.EventsMaxAge < 0 {
		cfg.EventsMaxAge = 0
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = ReplicasDefault
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = LeaseTTLDefault
	}
	if cfg.BatchMax == 0 {
		cfg.BatchMax = BatchMaxDefault
	}
	if len(cfg.ReplyPrefixes) == 0 {
		cfg.ReplyPrefixes = ReplyPrefixesDefault
	}
	log := zerolog.Nop()
	if cfg.Logger != nil {
		log = *cfg.Logger
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	engine, err := matcher.New(cfg.Engine)
	if err != nil {
		return nil, err
	}
	r := &Router{cfg: cfg, log: log, nc: nc, js: js, engine: engine, id: nuid.Next(), revs: map[kvKey]uint64{}, failed: make(chan struct{}), reads: make(chan func()), histories: make(chan struct{}, historyReadsMax), forwards: make(chan forwarded, forwardsMax), beats: newBeats(),
		tickWait: backoff{min: CommitRetryDefault / 5, max: commitRetryMax}, metrics: newMetrics(), spans: newSpans(cfg.TracerProvider)}
	r.state.Store(StateStarting)
	return r, nil
}

// State is where a router is in its life.
type State string

// The states of a router.
const (
	// StateStarting: Start was not called yet, or it is creating the streams and
	// buckets.
	StateStarting State = "starting"
	// StateStandby: it waits for the lease while another router is active.
	StateStandby State = "standby"
	// StateActive: it holds the lease and consumes commands.
	StateActive State = "active"
	// StateStopped: Stop was called, or Start failed.
	StateStopped State = "stopped"
	// StateFailed: it stopped by itself (Failed, Err).
	StateFailed State = "failed"
)

// Status is a router's state and its broker connection, as a readiness check reads
// them.
type Status struct {
	State State `json:"status"`
	// Broker is "connected", or the connection's state ("reconnecting", "closed").
	Broker string `json:"broker"`
	// Error is why the router failed.
	Error string `json:"error,omitempty"`
}

// Ready says whether the router would answer a command now: it is active, or a
// standby ready to take over, and connected to the broker.
func (s Status) Ready() bool {
	return (s.State == StateActive || s.State == StateStandby) && s.Broker == "connected"
}

// Status reads the router's state; it is safe to call from any goroutine.
func (r *Router) Status() Status {
	s := Status{State: r.state.Load().(State), Broker: "connected"}
	if err := r.Err(); err != nil {
		s.State, s.Error = StateFailed, err.Error()
	}
	if !r.nc.IsConnected() {
		s.Broker = strings.ToLower(r.nc.Status().String())
	}
	return s
}

// Start creates or updates the streams and buckets, waits for the router lease (while
// another router is active this one stands by), recovers the state, and starts
// consuming commands and answering requests. It returns once the router is running,
// or when ctx ends while it stands by.
func (r *Router) Start(ctx context.Context) error {
	ctx, abort := context.WithCancel(ctx)
	defer abort()
	r.startMu.Lock()
	r.abortStart = abort
	r.startMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("router already started")
	}
	r.starting.Store(true)
	err := r.start(ctx)
	r.starting.Store(false)
	if err != nil {
		if r.Err() == nil {
			r.state.Store(StateStopped)
		}
		return err
	}
	r.state.Store(StateActive)
	return nil
}

func (r *Router) start(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	start := r.cfg.Now()
	err := r.setup(sctx)
	setUp := r.cfg.Now()
	cancel()
	if err != nil {
		return err
	}
	r.state.Store(StateStandby)
	if err := r.acquire(ctx); err != nil {
		return err
	}
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := r.cfg.Now()
	var cons jetstream.Consumer
	err = r.retry(ctx, func(ctx context.Context) (err error) {
		cons, err = r.takeConsumer(ctx)
		return err
	})
	if err != nil {
		return err
	}
	tookConsumer := r.cfg.Now()
	if err := r.recoverWAL(ctx); err != nil {
		return err
	}
	recovered := r.cfg.Now()
	state, err := r.loadState(ctx)
	if err != nil {
		return err
	}
	if err := r.engine.Load(state); err != nil {
		return err
	}
	if res := r.engine.Resume(r.cfg.Now()); res != nil {
		stampNewTraces(res.Events)
		r.logDecisions("", nil, res.Events)
		if err := r.commit(ctx, &walRecord{Ops: res.Ops, Events: res.Events}); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
	}
	msgs, err := r.consume(cons)
	if err != nil {
		return fmt.Errorf("consume %s: %w", events.StreamIn, err)
	}
	r.msgs = msgs
	r.reqSub, err = r.nc.QueueSubscribe(events.SubjectReqAll, events.QueueGroup, r.forward)
	if err != nil {
		msgs.Stop()
		return fmt.Errorf("subscribe %s: %w", events.SubjectReqAll, err)
	}
	r.qrySub, err = r.nc.QueueSubscribe(events.SubjectQueryAll, events.QueueGroup, r.query)
	if err != nil {
		msgs.Stop()
		_ = r.reqSub.Unsubscribe()
		return fmt.Errorf("subscribe %s: %w", events.SubjectQueryAll, err)
	}
	r.hbSub, err = r.nc.Subscribe(events.SubjectPresenceAll, r.heartbeat)
	if err != nil {
		msgs.Stop()
		_ = r.reqSub.Unsubscribe()
		_ = r.qrySub.Unsubscribe()
		return fmt.Errorf("subscribe %s: %w", events.SubjectPresenceAll, err)
	}
	runCtx, runCancel := context.WithCancel(context.Background())
	r.cancel, r.done, r.started = runCancel, make(chan struct{}), true
	r.persistQ = make(chan *pending, 1)
	go r.persister()
	go r.run(runCtx, msgs)
	go r.watchForwards(runCtx)
	go r.keepLease(runCtx)
	r.log.Info().Int("jobs", len(state.Jobs)).Int("workers", len(state.Workers)).
		Dur("setup", setUp.Sub(start)).Dur("lease", began.Sub(setUp)).Dur("consumer", tookConsumer.Sub(began)).Dur("recover", recovered.Sub(tookConsumer)).Dur("load", r.cfg.Now().Sub(recovered)).
		Msg("router started")
	return nil
}

// Stop stops taking requests, finishes the command in hand, and stops. It is safe to
// call twice. A Start still standing by for the lease gives up and returns an error.
func (r *Router) Stop(ctx context.Context) error {
	r.startMu.Lock()
	if r.abortStart != nil {
		r.abortStart() // a Start standing by gives up; one that holds the lease is done with it
	}
	r.startMu.Unlock()
	r.mu.Lock()
	if !r.started {
		r.mu.Unlock()
		return nil
	}
	r.started = false
	r.state.Store(StateStopped)
	done := r.done
	if r.reqSub != nil {
		_ = r.reqSub.Drain()
	}
	if r.qrySub != nil {
		_ = r.qrySub.Drain()
	}
	if r.hbSub != nil {
		_ = r.hbSub.Unsubscribe()
	}
	r.msgs.Stop()
	r.cancel()
	r.mu.Unlock()
	select {
	case <-done:
		if r.holdsLease() {
			r.release(ctx)
		}
		r.log.Info().Msg("router stopped")
		return nil
	case <-ctx.Done():
		return fmt.Errorf("router stop: %w", ctx.Err())
	}
}

// Failed is closed when the router stopped by itself (it lost its lease); Err says why.
func (r *Router) Failed() <-chan struct{} { return r.failed }

// Err is why the router stopped by itself, once Failed is closed.
func (r *Router) Err() error {
	select {
	case <-r.failed:
		return r.err
	default:
		return nil
	}
}

// fail stops the router's work: it applies nothing more.
func (r *Router) fail(err error) {
	r.failOnce.Do(func() {
		r.log.Error().Err(err).Msg("router stopping")
		r.err = err
		r.state.Store(StateFailed)
		if r.starting.Load() {
			// Called from Start, which holds mu and has started nothing that needs
			// stopping yet: it returns the error.
			close(r.failed)
			return
		}
		r.mu.Lock()
		if r.msgs != nil {
			r.msgs.Stop()
		}
		if r.reqSub != nil {
			_ = r.reqSub.Unsubscribe()
		}
		if r.qrySub != nil {
			_ = r.qrySub.Unsubscribe()
		}
		if r.hbSub != nil {
			_ = r.hbSub.Unsubscribe()
		}
		if r.cancel != nil {
			r.cancel()
		}
		r.mu.Unlock()
		close(r.failed)
	})
}

// run is the router's one goroutine that touches the engine: commands from the
// stream and timers, one at a time.
func (r *Router) run(ctx context.Context, msgs jetstream.MessagesContext) {
	defer close(r.done)
	defer func() {
		_ = r.drain() // the records in hand are finished; unacknowledged commands are redelivered
		close(r.persistQ)
	}()
	incoming := make(chan jetstream.Msg, r.cfg.BatchMax)
	go func() {
		defer close(incoming)
		for {
			m, err := msgs.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				if r.consumerLost(ctx, err) {
					msgs.Stop()
					next, ok := r.reconsume(ctx)
					if !ok {
						return
					}
					msgs = next
					continue
				}
				r.log.Warn().Err(err).Msg("consume")
				continue
			}
			select {
			case incoming <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// idle fires once the router has been idle flushIdleAfter with KV writes pending
	// (idleC is nil while it is not set). After a failure the writes are made by the
	// reload the next command or timer brings (it replays the records naming them).
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	var idleC <-chan time.Time
	// The command in hand is finished even when a stop is asked for meanwhile: its
	// work runs on a context of its own, not on ctx.
	work := context.Background()
	for {
		r.resetTimer(timer)
		if idleC == nil && r.mayFlush() {
			idle.Reset(flushIdleAfter)
			idleC = idle.C
		}
		select {
		case <-ctx.Done():
			return
		case m, ok := <-incoming:
			if !ok {
				return
			}
			r.handleBatch(takeBatch(m, incoming, r.cfg.BatchMax))
		case <-r.inflightDone():
			var pe *pipelineError
			if err := r.handOver(); errors.As(err, &pe) {
				r.handleBatch(pe.msgs)
			}
		case <-idleC:
			idleC = nil
			r.flush() // unless something came meanwhile: then the timer is set again once idle
		case <-timer.C:
			r.tick(work)
		case read := <-r.reads:
			read()
		case <-r.beats.ready:
			var pe *pipelineError
			if err := r.applyHeartbeats(); errors.As(err, &pe) {
				r.handleBatch(pe.msgs)
			}
		}
	}
}

// takeBatch is first plus whatever else is already waiting, up to max messages.
func takeBatch(first jetstream.Msg, incoming <-chan jetstream.Msg, max int) []jetstream.Msg {
	batch := []jetstream.Msg{first}
	for len(batch) < max {
		select {
		case m, ok := <-incoming:
			if !ok {
				return batch
			}
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

func (r *Router) resetTimer(t *time.Timer) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	d := time.Hour
	if at, ok := r.engine.NextDeadline(); ok {
		d = at.Sub(r.cfg.Now())
		if d < 0 {
			d = 0
		}
	}
	t.Reset(d)
}

// tick fires the engine's due timers and persists what they did. When that fails the
// engine is reloaded before anything else (timers are derived from the stored state,
// so they fire again), after a growing pause.
func (r *Router) tick(ctx context.Context) {
	var pe *pipelineError
	if err := r.drain(); errors.As(err, &pe) { // timers see only stored state
		r.handleBatch(pe.msgs)
		return
	}
	if !r.ensureLease() || !r.fresh() {
		r.tickWait.pause(nil)
		return
	}
	res := r.engine.Tick(r.cfg.Now())
	if res == nil {
		return
	}
	stampNewTraces(res.Events) // a timer starts a new trace
	r.logDecisions("", nil, res.Events)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.commit(cctx, &walRecord{Ops: res.Ops, Events: res.Events}); err != nil {
		r.stale = true
		if !errors.Is(err, errDeposed) {
			r.log.Error().Err(err).Msg("timers: persist failed; reloading state")
			r.tickWait.pause(nil)
		}
		return
	}
	r.tickWait.reset()
}

// reload rebuilds the engine from KV after finishing the WAL record, once the
// streams are there (a stream deleted under the router is made again).
func (r *Router) reload(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := r.ensureStreams(cctx); err != nil {
		return err
	}
	if err := r.recoverWAL(cctx); err != nil {
		return err
	}
	state, err := r.loadState(cctx)
	if err != nil {
		return err
	}
	return r.engine.Load(state)
}
