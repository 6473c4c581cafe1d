// Package bench measures patchbay's full job lifecycle against raw JetStream on the
// same server, in the same run.
//
// A run first measures the baseline on a scratch stream (asynchronous publish
// throughput, and publish-to-acknowledgement latency of synchronous publishes at the
// run's rate), deletes it, registers the simulated workers, and then takes jobs
// through their lifecycle: the bench publishes the commands straight onto the
// inbound stream (patchbay.in.<name>, asynchronously, as producers and workers may)
// and follows the router's events, so what it measures is the router rather than a
// request round trip. Simulated workers accept every offer at once (one wildcard
// subscription to patchbay.events.offer.*.*.issued serves them all), and complete and
// close every assignment at once.
//
// Three modes: flat out (at most MaxOpen jobs open at once), a fixed Rate of creates,
// and Backlog (the jobs are created while no worker is available, then the workers
// become available and drain them). The report gives the throughput, the latencies
// from a job's create to its offer and to its assignment, from a worker's close to
// its next offer, the ratios to the baseline, and the messages every patchbay stream
// took per job.
//
// Run uses a running router through Config.URL, or starts an embedded NATS server
// (in a temporary directory) and an in-process router when URL is empty. Each run
// uses its own queue and worker ids, so it never touches other jobs or workers.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natsserver"
	"github.com/patchbay/patchbay/internal/router"
)

// Defaults and bounds.
const (
	JobsDefault     = 2000
	WorkersDefault  = 20
	CapacityDefault = 1
	// MaxOpenDefault bounds the jobs created and not yet closed when the run goes
	// flat out.
	MaxOpenDefault = 1000
	// RegisterParallelDefault is how many worker registrations (and deregistrations)
	// are in flight at once.
	RegisterParallelDefault = 64
	// RequestTimeoutDefault bounds each request (registrations) and each publish's
	// acknowledgement.
	RequestTimeoutDefault = 30 * time.Second
	// PublishMaxPending is how many asynchronous publishes may await their
	// acknowledgement at once, for the commands and for the baseline alike.
	PublishMaxPending = 4096
	// ProgressEvery is how often progress is written.
	ProgressEvery = time.Second
	// BaselineMsgsMin and BaselineMsgsMax bound the default number of baseline
	// messages (the run's jobs); BaselineSyncSeconds bounds the synchronous part at a
	// fixed rate.
	BaselineMsgsMin     = 1000
	BaselineMsgsMax     = 20000
	BaselineSyncMax     = 5000
	BaselineSyncSeconds = 10
)

// Config configures a run. Zero values take the defaults.
type Config struct {
	// Jobs is how many jobs go through their lifecycle (Backlog, when set, instead).
	Jobs int
	// Workers is how many simulated workers take them.
	Workers int
	// Capacity is each worker's total capacity (jobs at once).
	Capacity int
	// MaxOpen bounds the jobs created and not yet closed when neither Rate nor
	// Backlog is set.
	MaxOpen int
	// Rate paces the creates at this many jobs per second in all (0: flat out). Below
	// the workers' capacity, created -> offer is the router's latency rather than the
	// time a job waits for a free worker.
	Rate float64
	// Backlog, when positive, is the backlog mode: this many jobs are created while
	// no worker is available (the workers are registered unavailable), and once they
	// are all queued the workers become available and drain them.
	Backlog int
	// URL is the NATS server of a running router; empty starts an embedded server
	// and an in-process router for the run.
	URL string
	// Replicas of the baseline's scratch stream (0: those of PATCHBAY_IN, which are
	// those of every patchbay stream).
	Replicas int
	// Baseline is how many messages the baseline publishes asynchronously (0: the
	// run's jobs, within BaselineMsgsMin and BaselineMsgsMax; negative: no
	// baseline). The synchronous part publishes at most BaselineSyncMax, and at a
	// fixed rate at most BaselineSyncSeconds' worth.
	Baseline int
	// ChainNoRecord runs the raw relay chain without its record write: the floor of
	// any design that takes commands from a stream and publishes events, write-ahead
	// record or not.
	ChainNoRecord bool
	// RegisterParallel is how many registrations are in flight at once.
	RegisterParallel int
	// RequestTimeout bounds each request and each publish's acknowledgement.
	RequestTimeout time.Duration
	// Progress, when set, gets a line about every ProgressEvery while the run goes.
	Progress io.Writer
}

// Validate says what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"jobs", c.Jobs}, {"workers", c.Workers}, {"capacity", c.Capacity}, {"max open", c.MaxOpen},
		{"backlog", c.Backlog}, {"replicas", c.Replicas}, {"register parallel", c.RegisterParallel}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s must be positive (got %d)", f.name, f.v))
		}
	}
	if c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas must be between 1 and 5 (got %d)", c.Replicas))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate must not be negative (got %g)", c.Rate))
	}
	if c.Rate > 0 && c.Backlog > 0 {
		errs = append(errs, errors.New("rate and backlog exclude each other: a backlog is created at once"))
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout must not be negative (got %s)", c.RequestTimeout))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Jobs == 0 {
		c.Jobs = JobsDefault
	}
	if c.Backlog > 0 {
		c.Jobs = c.Backlog
	}
	if c.Workers == 0 {
		c.Workers = WorkersDefault
	}
	if c.Capacity == 0 {
		c.Capacity = CapacityDefault
	}
	if c.MaxOpen == 0 {
		c.MaxOpen = MaxOpenDefault
	}
	if c.RegisterParallel == 0 {
		c.RegisterParallel = RegisterParallelDefault
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = RequestTimeoutDefault
	}
	if c.Baseline == 0 {
		c.Baseline = min(max(c.Jobs, BaselineMsgsMin), BaselineMsgsMax)
	}
	return c
}

// mode names what the run measures.
func (c Config) mode() string {
	switch {
	case c.Backlog > 0:
		return ModeBacklog
	case c.Rate > 0:
		return ModeRate
	}
	return ModeFlatOut
}

// Modes.
const (
	ModeFlatOut = "flat-out"
	ModeRate    = "rate"
	ModeBacklog = "backlog"
)

// Run measures the baseline, registers cfg.Workers workers, takes cfg.Jobs jobs (or
// cfg.Backlog) to closed and reports what it measured. It returns when every job is
// closed, or with an error (and the partial report) when ctx ends first.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	cfg = cfg.withDefaults()
	url := cfg.URL
	if url == "" {
		rt, stop, u, err := embedded(ctx)
		if err != nil {
			return Report{}, err
		}
		defer stop()
		url = u
		// A router that stops by itself (it lost its lease) ends the run.
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			select {
			case <-rt.Failed():
				cancel(fmt.Errorf("the embedded router stopped: %w", rt.Err()))
			case <-ctx.Done():
			}
		}()
	}
	r := &run{cfg: cfg, runID: "bench-" + strings.ToLower(nuid.Next())}
	r.report = Report{Mode: cfg.mode(), Jobs: cfg.Jobs, Workers: cfg.Workers, Capacity: cfg.Capacity,
		Rate: cfg.Rate, Embedded: cfg.URL == ""}
	if r.report.Mode == ModeFlatOut {
		r.report.MaxOpen = cfg.MaxOpen
	}
	return r.run(ctx, url)
}

// embedded starts a NATS server in a temporary directory and a router on it.
func embedded(ctx context.Context) (rt *router.Router, stop func(), url string, err error) {
	dir, err := os.MkdirTemp("", "patchbay-bench-")
	if err != nil {
		return nil, nil, "", err
	}
	ns, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: dir})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, "", err
	}
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("patchbay bench router"))
	if err == nil {
		rt, err = router.New(nc, router.Config{})
	}
	if err == nil {
		err = rt.Start(ctx)
	}
	stop = func() {
		if rt != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = rt.Stop(sctx)
			cancel()
		}
		if nc != nil {
			nc.Close()
		}
		ns.Shutdown()
		ns.WaitForShutdown()
		_ = os.RemoveAll(dir)
	}
	if err != nil {
		stop()
		return nil, nil, "", fmt.Errorf("embedded router: %w", err)
	}
	return rt, stop, ns.ClientURL(), nil
}

// connect opens a named connection to url.
func connect(url, role string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name("patchbay bench "+role))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}

func (r *run) run(ctx context.Context, url string) (rep Report, err error) {
	// Commands and requests on one connection, events on another.
	cmdConn, err := connect(url, "commands")
	if err != nil {
		return r.report, err
	}
	defer cmdConn.Close()
	evConn, err := connect(url, "events")
	if err != nil {
		return r.report, err
	}
	defer evConn.Close()
	r.ctx = ctx
	r.js, err = jetstream.New(cmdConn, jetstream.WithPublishAsyncMaxPending(PublishMaxPending),
		jetstream.WithPublishAsyncTimeout(r.cfg.RequestTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			r.fail("publish", err)
			go r.publish(m) // the same Nats-Msg-Id: the stream drops a copy it already has
		}))
	if err != nil {
		return r.report, err
	}
	if r.client, err = patchbay.New(cmdConn, patchbay.WithSource(source), patchbay.WithTimeout(r.cfg.RequestTimeout)); err != nil {
		return r.report, err
	}
	stopProgress := r.startProgress()
	defer stopProgress()

	in, err := r.js.Stream(ctx, events.StreamIn)
	if err != nil {
		return r.report, fmt.Errorf("no patchbay router at %s (stream %s: %w)", url, events.StreamIn, err)
	}
	replicas := r.cfg.Replicas
	if replicas == 0 {
		replicas = max(in.CachedInfo().Config.Replicas, 1)
	}
	r.report.Replicas = replicas

	if r.cfg.Baseline > 0 {
		if err := r.baseline(ctx, cmdConn, url, replicas); err != nil {
			return r.report, err
		}
	}

	if err := r.subscribe(evConn); err != nil {
		return r.report, err
	}
	defer r.unsubscribe()

	began := time.Now()
	r.setPhase("registering workers", r.registrationProgress)
	registered, err := r.register(ctx)
	r.report.RegisterDuration = time.Since(began)
	defer func() {
		if !r.report.Embedded {
			r.setPhase("deregistering workers", r.deregistrationProgress)
			began := time.Now()
			r.deregister(ctx, registered)
			rep.DeregisterDuration = time.Since(began)
		}
	}()
	if err != nil {
		return r.report, err
	}

	before, err := lastSeqs(ctx, r.js)
	if err != nil {
		return r.report, err
	}
	r.setPhase("running", r.runProgress)
	end, err := r.lifecycles(ctx)
	rep = r.finish(end)
	if err != nil {
		return rep, err
	}
	after, err := lastSeqs(ctx, r.js)
	if err != nil {
		return rep, err
	}
	rep.Writes = writes(before, after, rep.Jobs)
	r.report = rep
	return rep, nil
}

// baseline measures raw JetStream on the scratch stream, then (except in backlog mode)
// the raw relay chain at the run's pace.
func (r *run) baseline(ctx context.Context, nc *nats.Conn, url string, replicas int) error {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(PublishMaxPending),
		jetstream.WithPublishAsyncTimeout(r.cfg.RequestTimeout))
	if err != nil {
		return err
	}
	msg, err := r.createMessage(r.jobID(0))
	if err != nil {
		return err
	}
	syncMsgs := min(r.cfg.Baseline, BaselineSyncMax)
	if r.cfg.Rate > 0 {
		syncMsgs = min(syncMsgs, max(int(r.cfg.Rate*BaselineSyncSeconds), 100))
	}
	name := "PATCHBAY_BENCH_" + strings.ToUpper(strings.TrimPrefix(r.runID, "bench-"))
	r.setPhase("baseline", nil)
	b, err := measureBaseline(ctx, js, name, replicas, r.cfg.Baseline, syncMsgs, r.cfg.Rate, msg.Data, r.cfg.RequestTimeout, r.say)
	if err != nil {
		return err
	}
	r.report.Baseline = &b
	if r.cfg.Backlog > 0 {
		return nil
	}
	relay, err := connect(url, "relay")
	if err != nil {
		return err
	}
	defer relay.Close()
	c, err := measureChain(ctx, nc, relay, chainSpec{name: name + "_CHAIN", replicas: replicas, jobs: syncMsgs, rate: r.cfg.Rate,
		maxOpen: r.cfg.MaxOpen, msg: msg.Data, timeout: r.cfg.RequestTimeout, noRecord: r.cfg.ChainNoRecord}, r.say)
	if err != nil {
		return err
	}
	b.Chain = &c
	return nil
}

// register registers the workers, cfg.RegisterParallel at a time, and returns the
// ids registered. In backlog mode they are registered unavailable.
func (r *run) register(ctx context.Context) ([]string, error) {
	ids := make(chan string)
	var mu sync.Mutex
	var registered []string
	var firstErr error
	var wg sync.WaitGroup
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(r.cfg.RegisterParallel, r.cfg.Workers) {
		wg.Go(func() {
			for id := range ids {
				capacity := r.cfg.Capacity
				spec := patchbay.WorkerSpec{WorkerID: id, Queues: []string{r.queue()}, TotalCapacity: &capacity,
					Channels: []patchbay.ChannelConfig{{ChannelID: channel, CapacityCostPerJob: 1}}}
				if r.cfg.Backlog > 0 {
					spec.AvailableForOffers = new(false)
				}
				_, err := r.client.RegisterWorker(rctx, spec)
				mu.Lock()
				if err == nil {
					registered = append(registered, id)
					r.registered++
				} else if firstErr == nil {
					firstErr = fmt.Errorf("register worker %s: %w", id, err)
					cancel()
				}
				mu.Unlock()
			}
		})
	}
	for i := range r.cfg.Workers {
		select {
		case ids <- r.worker(i):
			continue
		case <-rctx.Done():
		}
		break
	}
	close(ids)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("register workers: %w", context.Cause(ctx))
	}
	return registered, firstErr
}

// deregister deregisters the run's workers from a router that outlives the run,
// cfg.RegisterParallel at a time.
func (r *run) deregister(ctx context.Context, ids []string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(r.cfg.RequestTimeout, time.Minute))
	defer cancel()
	next := make(chan string)
	var wg sync.WaitGroup
	for range min(r.cfg.RegisterParallel, len(ids)) {
		wg.Go(func() {
			for id := range next {
				_, err := r.client.DeregisterWorker(dctx, id)
				if err != nil {
					r.fail("deregister", err)
				}
				r.mu.Lock()
				r.deregistered++
				r.mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
}

// lifecycles creates the jobs the way the mode says and returns when the last one
// is closed, with its time.
func (r *run) lifecycles(ctx context.Context) (time.Time, error) {
	r.mu.Lock()
	r.start = time.Now()
	r.mu.Unlock()
	if r.cfg.Backlog > 0 {
		if err := r.createBacklog(ctx); err != nil {
			return time.Now(), err
		}
	} else {
		r.produce(ctx)
	}
	select {
	case end := <-r.allClosed:
		return end, nil
	case <-ctx.Done():
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		return time.Now(), fmt.Errorf("bench: %d of %d jobs closed: %w", closed, r.cfg.Jobs, context.Cause(ctx))
	}
}

// produce publishes the creates: paced at cfg.Rate, or flat out with at most
// cfg.MaxOpen jobs open.
func (r *run) produce(ctx context.Context) {
	start := time.Now()
	for i := range r.cfg.Jobs {
		if !waitTurn(ctx, start, i, r.cfg.Rate, r.window) {
			return
		}
		r.create(i)
	}
	r.mu.Lock()
	r.createdAll = time.Now()
	r.mu.Unlock()
}

// waitTurn waits until item i of a run that began at start may go: at start + i/rate
// when rate is positive, else once window has room (nil: at once). It reports false
// when ctx ended.
func waitTurn(ctx context.Context, start time.Time, i int, rate float64, window chan<- struct{}) bool {
	switch {
	case rate > 0:
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
	case window != nil:
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
		}
	}
	return ctx.Err() == nil
}

// createBacklog publishes every create, waits until the router has queued them all,
// then makes the workers available; the drain is timed from there.
func (r *run) createBacklog(ctx context.Context) error {
	for i := range r.cfg.Jobs {
		if ctx.Err() != nil {
			break
		}
		r.create(i)
	}
	r.mu.Lock()
	r.createdAll = time.Now()
	r.mu.Unlock()
	select {
	case <-r.allQueued:
	case <-ctx.Done():
		r.mu.Lock()
		queued := r.queued
		r.mu.Unlock()
		return fmt.Errorf("bench: %d of %d jobs queued: %w", queued, r.cfg.Jobs, context.Cause(ctx))
	}
	r.mu.Lock()
	r.report.BacklogQueued = time.Since(r.start)
	r.drainStart = time.Now()
	r.mu.Unlock()
	for i := range r.cfg.Workers {
		id := r.worker(i)
		r.send(events.TypeWorkerUpdate, r.runID+"-available-"+id, id,
			&events.WorkerRegister{WorkerID: id, AvailableForOffers: new(true)})
	}
	return nil
}

// finish fills in the report; end is when the last job was closed.
func (r *run) finish(end time.Time) Report {
	rep := r.report
	r.mu.Lock()
	defer r.mu.Unlock()
	from := r.start
	if !r.drainStart.IsZero() {
		from = r.drainStart
	}
	rep.Duration = end.Sub(from)
	if !r.createdAll.IsZero() {
		rep.CreateDuration = r.createdAll.Sub(r.start)
	}
	rep.Closed = r.closed
	if rep.Duration > 0 {
		rep.Throughput = float64(rep.Closed) / rep.Duration.Seconds()
	}
	rep.Failures = maps.Clone(r.failures)
	rep.Errors = sum(r.failures)
	rep.CreatedToOffer = latency(r.toOffer)
	rep.CreatedToAssigned = latency(r.toAssign)
	rep.FreedToOffer = latency(r.freedToOffer)
	if b := rep.Baseline; b != nil {
		if b.AsyncPublish > 0 {
			rep.ThroughputVsRaw = 100 * rep.Throughput / b.AsyncPublish
		}
		if raw := float64(b.PublishAck.P99); raw > 0 {
			if rep.Mode == ModeRate {
				rep.OfferP99VsRaw = float64(rep.CreatedToOffer.P99) / raw
			}
			rep.FreedP99VsRaw = float64(rep.FreedToOffer.P99) / raw
		}
		if c := b.Chain; c != nil {
			if rep.Mode == ModeRate && c.CreatedToOffer.P99 > 0 {
				rep.OfferP99VsChain = float64(rep.CreatedToOffer.P99) / float64(c.CreatedToOffer.P99)
			}
			if rep.Mode == ModeFlatOut && c.Throughput > 0 {
				rep.ThroughputVsChain = 100 * rep.Throughput / c.Throughput
			}
		}
	}
	return rep
}
