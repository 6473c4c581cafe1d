// Package bench measures patchbay's full job lifecycle: it creates jobs, lets
// simulated workers accept, complete and close them, and reports the throughput
// (jobs per second from the first create to the last job closed, seen on its
// job.closed event or in the answer to its close, whichever comes first) and the
// latencies from a job's create to its offer and to its assignment.
//
// Run uses a running router through Config.URL, or starts an embedded NATS server
// (in a temporary directory) and an in-process router when URL is empty. Each run
// uses its own queue and worker ids, so it never touches other jobs or workers.
package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natsserver"
	"github.com/patchbay/patchbay/internal/router"
)

// Defaults.
const (
	JobsDefault      = 2000
	WorkersDefault   = 20
	CapacityDefault  = 1
	ProducersDefault = 16
	// RequestTimeoutDefault bounds each request of the simulated producers and workers.
	RequestTimeoutDefault = 30 * time.Second
)

// Config configures a run. Zero values take the defaults.
type Config struct {
	// Jobs is how many jobs go through their lifecycle.
	Jobs int
	// Workers is how many simulated workers take them.
	Workers int
	// Capacity is each worker's total capacity (jobs at once).
	Capacity int
	// Producers is how many goroutines create jobs concurrently.
	Producers int
	// Rate paces the creates at this many jobs per second in all (0: as fast as the
	// producers can). Below the workers' capacity, created -> offer is the router's
	// latency rather than the time a job waits for a free worker.
	Rate float64
	// URL is the NATS server of a running router; empty starts an embedded server
	// and an in-process router for the run.
	URL string
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration
}

// Validate says what is wrong with c.
func (c Config) Validate() error {
	var errs []error
	if c.Jobs < 0 {
		errs = append(errs, fmt.Errorf("jobs must be positive (got %d)", c.Jobs))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers must be positive (got %d)", c.Workers))
	}
	if c.Capacity < 0 {
		errs = append(errs, fmt.Errorf("capacity must be positive (got %d)", c.Capacity))
	}
	if c.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate must not be negative (got %g)", c.Rate))
	}
	if c.Producers < 0 {
		errs = append(errs, fmt.Errorf("producers must be positive (got %d)", c.Producers))
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
	if c.Workers == 0 {
		c.Workers = WorkersDefault
	}
	if c.Capacity == 0 {
		c.Capacity = CapacityDefault
	}
	if c.Producers == 0 {
		c.Producers = ProducersDefault
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = RequestTimeoutDefault
	}
	return c
}

// Latency summarises a set of durations.
type Latency struct {
	Count int           `json:"count"`
	P50   time.Duration `json:"p50Ns"`
	P99   time.Duration `json:"p99Ns"`
	Max   time.Duration `json:"maxNs"`
}

func (l Latency) String() string {
	return fmt.Sprintf("p50 %-9s p99 %-9s max %s", round(l.P50), round(l.P99), round(l.Max))
}

// latency computes the percentiles of ds (which it sorts).
func latency(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	return Latency{Count: len(ds), P50: percentile(ds, 50), P99: percentile(ds, 99), Max: ds[len(ds)-1]}
}

// percentile is the nearest-rank percentile of sorted ds.
func percentile(ds []time.Duration, p int) time.Duration {
	rank := (p*len(ds) + 99) / 100 // ceil(p/100 * n)
	return ds[max(rank, 1)-1]
}

// Report is what a run measured.
type Report struct {
	Jobs      int     `json:"jobs"`
	Workers   int     `json:"workers"`
	Capacity  int     `json:"capacity"`
	Producers int     `json:"producers"`
	Rate      float64 `json:"rate,omitempty"`
	Embedded  bool    `json:"embedded"`
	// Closed is how many jobs were closed.
	Closed int `json:"closed"`
	// Errors counts the requests that failed: refused (an accept that lost to an
	// offer expiry, ...) or unanswered within the request timeout (then retried).
	Errors int `json:"errors"`
	// Failures counts the failed requests by call and error code, e.g.
	// "accept: offer_expired" or "close: no answer".
	Failures map[string]int `json:"failures,omitempty"`
	// Duration is from the first create sent to the last job seen closed.
	Duration time.Duration `json:"durationNs"`
	// CreateDuration is from the first create sent to the last create answered.
	CreateDuration time.Duration `json:"createDurationNs"`
	// Throughput is Closed / Duration, in jobs per second.
	Throughput float64 `json:"jobsPerSecond"`
	// CreatedToOffer is from a create sent to the worker receiving the offer.
	CreatedToOffer Latency `json:"createdToOffer"`
	// CreatedToAssigned is from a create sent to the worker's accept answered.
	CreatedToAssigned Latency `json:"createdToAssigned"`
}

// String is the report for people.
func (r Report) String() string {
	var b strings.Builder
	where := "a running router"
	if r.Embedded {
		where = "an embedded server and router"
	}
	pace := "as fast as they can"
	if r.Rate > 0 {
		pace = fmt.Sprintf("at %g jobs/s", r.Rate)
	}
	fmt.Fprintf(&b, "patchbay bench: %d jobs, %d workers x capacity %d, %d producers %s, on %s\n",
		r.Jobs, r.Workers, r.Capacity, r.Producers, pace, where)
	fmt.Fprintf(&b, "  closed               %d/%d jobs (%d failed requests)\n", r.Closed, r.Jobs, r.Errors)
	for _, k := range slices.Sorted(maps.Keys(r.Failures)) {
		fmt.Fprintf(&b, "    %-18s %d\n", k, r.Failures[k])
	}
	fmt.Fprintf(&b, "  total duration       %s (creates sent in %s)\n", round(r.Duration), round(r.CreateDuration))
	fmt.Fprintf(&b, "  throughput           %.1f jobs/s (created -> closed)\n", r.Throughput)
	fmt.Fprintf(&b, "  created -> offer     %s\n", r.CreatedToOffer)
	fmt.Fprintf(&b, "  created -> assigned  %s\n", r.CreatedToAssigned)
	return b.String()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// Run creates cfg.Jobs jobs, has cfg.Workers auto-accepting workers take them to
// closed, and reports what it measured. It returns when every job is closed, or with
// an error (and the partial report) when ctx ends first.
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
	r.report = Report{Jobs: cfg.Jobs, Workers: cfg.Workers, Capacity: cfg.Capacity, Producers: cfg.Producers, Rate: cfg.Rate, Embedded: cfg.URL == ""}
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

// run is one benchmark run's state.
type run struct {
	cfg    Config
	runID  string
	report Report

	inflight sync.WaitGroup // offers being served

	mu       sync.Mutex
	failures map[string]int
	stopping bool
	sent     map[string]time.Time // job id -> create sent
	offered  map[string]bool      // job ids offered at least once
	closed   map[string]bool      // job ids closed
	// allClosed gets the time the last job was closed.
	allClosed chan time.Time
	toOffer   []time.Duration
	toAssign  []time.Duration
}

func (r *run) queue() string       { return r.runID }
func (r *run) jobID(i int) string  { return fmt.Sprintf("%s-j%d", r.runID, i) }
func (r *run) worker(i int) string { return fmt.Sprintf("%s-w%d", r.runID, i) }

func (r *run) run(ctx context.Context, url string) (Report, error) {
	r.sent = make(map[string]time.Time, r.cfg.Jobs)
	r.offered = make(map[string]bool, r.cfg.Jobs)
	r.closed = make(map[string]bool, r.cfg.Jobs)
	r.allClosed = make(chan time.Time, 1)
	var producer, workers, watcher *patchbay.Client
	for _, c := range []struct {
		role   string
		client **patchbay.Client
	}{{"producer", &producer}, {"workers", &workers}, {"watch", &watcher}} {
		nc, err := nats.Connect(url, nats.Name("patchbay bench "+c.role))
		if err != nil {
			return r.report, fmt.Errorf("connect to NATS at %s: %w", url, err)
		}
		defer nc.Close()
		if *c.client, err = patchbay.New(nc, patchbay.WithSource("/patchbay/bench"), patchbay.WithTimeout(r.cfg.RequestTimeout)); err != nil {
			return r.report, err
		}
	}

	// Watch the closed events of this run's queue before anything happens; the close
	// answers count too, so a job is seen closed by whichever comes first.
	w, err := watcher.Watch(ctx, patchbay.WatchOptions{
		Subjects: []string{events.JobQueueType(r.queue(), events.TypeJobClosed)},
	})
	if err != nil {
		return r.report, err
	}
	defer w.Stop()
	go func() {
		for {
			ev, _, err := w.Next()
			if err != nil {
				return // stopped
			}
			r.closedJob(ev.Subject())
		}
	}()

	// The workers' requests outlive ctx so that a job they accepted is closed.
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		r.mu.Lock()
		r.stopping = true
		r.mu.Unlock()
		stopWorkers()
		r.inflight.Wait()
	}()
	var registered []string
	defer func() {
		if !r.report.Embedded {
			r.deregister(ctx, workers, registered)
		}
	}()
	for i := range r.cfg.Workers {
		id := r.worker(i)
		sub, err := workers.OnOffer(id, func(n patchbay.OfferNotice) {
			if n.Type != events.TypeOfferIssued {
				return
			}
			if !r.offer(n.Offer.JobID, time.Now()) {
				return
			}
			go func() {
				defer r.inflight.Done()
				r.serve(wctx, workers, n.Offer)
			}()
		})
		if err != nil {
			return r.report, err
		}
		defer func() { _ = sub.Unsubscribe() }()
		capacity := r.cfg.Capacity
		if _, err := workers.RegisterWorker(ctx, patchbay.WorkerSpec{
			WorkerID: id, Queues: []string{r.queue()}, TotalCapacity: &capacity,
			Channels: []patchbay.ChannelConfig{{ChannelID: "bench", CapacityCostPerJob: 1}},
		}); err != nil {
			return r.report, fmt.Errorf("register worker %s: %w", id, err)
		}
		registered = append(registered, id)
	}

	start := time.Now()
	created, err := r.produce(ctx, producer)
	r.report.CreateDuration = created.Sub(start)
	if err != nil {
		return r.finish(time.Since(start)), err
	}
	select {
	case end := <-r.allClosed:
		return r.finish(end.Sub(start)), nil
	case <-ctx.Done():
		rep := r.finish(time.Since(start))
		return rep, fmt.Errorf("bench: %d of %d jobs closed: %w", rep.Closed, r.cfg.Jobs, context.Cause(ctx))
	}
}

// deregister deregisters the run's workers from a router that outlives the run, all
// at once and within one request timeout.
func (r *run) deregister(ctx context.Context, c *patchbay.Client, ids []string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.RequestTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() { _, _ = c.DeregisterWorker(dctx, id) })
	}
	wg.Wait()
}

// produce creates the jobs from cfg.Producers goroutines and returns when the last
// create was answered.
func (r *run) produce(ctx context.Context, c *patchbay.Client) (time.Time, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, r.cfg.Producers)
	start := time.Now()
	for range r.cfg.Producers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= r.cfg.Jobs || ctx.Err() != nil {
					return
				}
				if r.cfg.Rate > 0 { // job i is due at start + i/rate
					time.Sleep(time.Until(start.Add(time.Duration(float64(i) / r.cfg.Rate * float64(time.Second)))))
				}
				id := r.jobID(i)
				r.mu.Lock()
				r.sent[id] = time.Now()
				r.mu.Unlock()
				spec := patchbay.JobSpec{JobID: id, QueueID: r.queue(), ChannelID: "bench"}
				if err := r.call(ctx, "create", func() error {
					// The job id is the command id: a retry is answered as a duplicate.
					_, err := c.CreateJob(ctx, spec, patchbay.WithID(id))
					return err
				}); err != nil {
					errs <- fmt.Errorf("create job %s: %w", id, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return time.Now(), <-errs
}

// offer records the first offer of a job and counts the offer in flight; it reports
// false once the run stops.
func (r *run) offer(jobID string, at time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return false
	}
	r.inflight.Add(1)
	if sent, ok := r.sent[jobID]; ok && !r.offered[jobID] {
		r.offered[jobID] = true
		r.toOffer = append(r.toOffer, at.Sub(sent))
	}
	return true
}

// serve is a simulated worker's answer to an offer: accept, complete, close at once.
// Each call is retried while the router does not answer (it may be stalled); the
// retries carry the same command id, so a command is never applied twice.
func (r *run) serve(ctx context.Context, c *patchbay.Client, o patchbay.Offer) {
	var aid string
	if err := r.call(ctx, "accept", func() (err error) {
		// Accepting an offer already accepted is answered with its assignment.
		aid, err = c.Accept(ctx, o)
		return err
	}); err != nil {
		return
	}
	at := time.Now()
	r.mu.Lock()
	if sent, ok := r.sent[o.JobID]; ok {
		r.toAssign = append(r.toAssign, at.Sub(sent))
	}
	r.mu.Unlock()
	if err := r.call(ctx, "complete", func() error {
		_, err := c.Request(ctx, events.TypeJobComplete, aid+"-complete", o.JobID,
			events.JobComplete{JobID: o.JobID, AssignmentID: aid})
		return err
	}); err != nil {
		return
	}
	_ = r.call(ctx, "close", func() error {
		res, err := c.Request(ctx, events.TypeJobClose, aid+"-close", o.JobID,
			events.JobClose{JobID: o.JobID, AssignmentID: aid, DispositionCode: "Benchmarked"})
		if err == nil && res.Status == "closed" {
			r.closedJob(o.JobID)
		}
		return err
	})
}

// closedJob records that a job is closed, seen on its job.closed event or in the
// answer to its close, whichever comes first; the last one ends the run.
func (r *run) closedJob(jobID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sent[jobID]; !ok || r.closed[jobID] {
		return
	}
	r.closed[jobID] = true
	if len(r.closed) == r.cfg.Jobs {
		r.allClosed <- time.Now()
	}
}

// call runs f until it succeeds, is refused, or ctx ends, counting every failure.
func (r *run) call(ctx context.Context, name string, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		r.fail(name, err)
		if !unanswered(err) || ctx.Err() != nil {
			return err
		}
	}
}

// unanswered reports whether err means the router gave no answer (rather than a
// refusal), so the command may be sent again.
func unanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders)
}

// fail counts a failed request by call and error code.
func (r *run) fail(call string, err error) {
	code := string(events.AsError(err).Code)
	if unanswered(err) {
		code = "no answer"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures == nil {
		r.failures = map[string]int{}
	}
	r.failures[call+": "+code]++
}

// finish fills in the report.
func (r *run) finish(d time.Duration) Report {
	rep := r.report
	rep.Duration = d
	r.mu.Lock()
	rep.Closed = len(r.closed)
	if d > 0 {
		rep.Throughput = float64(rep.Closed) / d.Seconds()
	}
	rep.Failures = maps.Clone(r.failures)
	for _, n := range r.failures {
		rep.Errors += n
	}
	rep.CreatedToOffer = latency(slices.Clone(r.toOffer))
	rep.CreatedToAssigned = latency(slices.Clone(r.toAssign))
	r.mu.Unlock()
	return rep
}

// verb is the last segment of a type, the last token of its event subjects.
