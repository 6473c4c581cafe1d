package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

func init() { clientCommands = append(clientCommands, newWorkerCmd) }

func newWorkerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a demo worker, or register, update, deregister and look at workers",
		Args:  cobra.NoArgs,
	}
	cf := addClientFlags(cmd.PersistentFlags())
	cmd.AddCommand(newWorkerRunCmd(cf), newWorkerRegisterCmd(cf), newWorkerUpdateCmd(cf), newWorkerDeregisterCmd(cf), newWorkerGetCmd(cf), newWorkerListCmd(cf))
	return cmd
}

// workerFlags are the flags that describe a worker (run, register, update).
type workerFlags struct {
	id          string
	queues      []string
	channels    []string
	capacity    int
	labels      []string
	tags        []string
	unavailable bool
	activity    string
}

// ChannelDefault is the channel a worker serves when --channel is not given: voice,
// one capacity per job, at most one voice job at a time.
const ChannelDefault = "voice:1:1"

func (f *workerFlags) add(fs *pflag.FlagSet, register bool) {
	fs.StringVar(&f.id, "id", "", "worker id (required)")
	chDefault := []string{ChannelDefault}
	capDefault := 1
	if !register {
		chDefault, capDefault = nil, 0
	}
	fs.StringArrayVar(&f.queues, "queue", nil, "queue the worker takes jobs from (repeatable; at least one to register)")
	fs.StringArrayVar(&f.channels, "channel", chDefault, "channel capacity channel:costPerJob[:maxJobs] (repeatable)")
	fs.IntVar(&f.capacity, "capacity", capDefault, "total capacity; each job takes its channel's costPerJob from it")
	fs.StringArrayVar(&f.labels, "label", nil, "routing label key=value, matched by job selectors (repeatable)")
	fs.StringArrayVar(&f.tags, "tag", nil, "free-form tag key=value (repeatable)")
	fs.StringVar(&f.activity, "activity", "", "activity: available, offline, break, or one defined by a policy of kind activity (sets whether it takes offers)")
}

// spec turns the flags into a worker. For an update (full false) only the flags the
// user set are sent; changed reports whether a flag was set.
func (f *workerFlags) spec(full bool, changed func(string) bool) (patchbay.WorkerSpec, error) {
	spec := patchbay.WorkerSpec{WorkerID: f.id}
	if err := checkIDFlag("id", f.id); err != nil {
		return spec, err
	}
	if full && len(f.queues) == 0 {
		return spec, errors.New("--queue is required (at least one)")
	}
	if full || changed("queue") {
		for _, q := range f.queues {
			if err := checkIDFlag("queue", q); err != nil {
				return spec, err
			}
		}
		spec.Queues = f.queues
	}
	if full || changed("channel") {
		if len(f.channels) == 0 {
			return spec, errors.New("--channel: a worker needs at least one channel")
		}
		for _, s := range f.channels {
			ch, err := parseChannel(s)
			if err != nil {
				return spec, err
			}
			spec.Channels = append(spec.Channels, ch)
		}
	}
	if full || changed("capacity") {
		if f.capacity < 1 {
			return spec, fmt.Errorf("--capacity %d: want at least 1", f.capacity)
		}
		spec.TotalCapacity = &f.capacity
	}
	var err error
	if full || changed("label") {
		if spec.Labels, err = parseKeyValues("label", f.labels); err != nil {
			return spec, err
		}
	}
	if full || changed("tag") {
		if spec.Tags, err = parseKeyValues("tag", f.tags); err != nil {
			return spec, err
		}
	}
	if changed("activity") {
		if err := checkIDFlag("activity", f.activity); err != nil {
			return spec, err
		}
		spec.Activity = f.activity
	}
	return spec, nil
}

// parseChannel reads channel:costPerJob[:maxJobs]; a bare channel id costs 1.
func parseChannel(s string) (patchbay.ChannelConfig, error) {
	parts := strings.Split(s, ":")
	c := patchbay.ChannelConfig{ChannelID: parts[0], CapacityCostPerJob: 1}
	if len(parts) > 3 {
		return c, fmt.Errorf("--channel %q: want channel:costPerJob[:maxJobs], e.g. voice:1:1", s)
	}
	if !events.ValidID(c.ChannelID) {
		return c, fmt.Errorf("--channel %q: %q is not a valid channel id (letters, digits, '-' or '_')", s, c.ChannelID)
	}
	if len(parts) > 1 {
		n, err := strconv.Atoi(parts[1])
		if err != nil || n < 1 {
			return c, fmt.Errorf("--channel %q: the cost per job %q must be a whole number of at least 1", s, parts[1])
		}
		c.CapacityCostPerJob = n
	}
	if len(parts) > 2 {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 0 {
			return c, fmt.Errorf("--channel %q: the maximum number of jobs %q must be a whole number, 0 for no cap", s, parts[2])
		}
		c.MaxNumberOfJobs = n
	}
	return c, nil
}

// demoConfig is how the demo worker behaves.
type demoConfig struct {
	work, wrapUp time.Duration
	disposition  string
	declineEvery int
	heartbeat    time.Duration
}

func newWorkerRunCmd(cf *clientFlags) *cobra.Command {
	f := &workerFlags{}
	d := &demoConfig{}
	cmd := &cobra.Command{
		Use:   "run --id W --queue Q [flags]",
		Short: "Run a demo worker that accepts, works on, completes and closes its jobs",
		Long: `Run a demo worker. It subscribes to its offers, registers, and then for each offer:
accepts it, works for --work, completes the job, wraps up for --wrap-up and closes
the job with --disposition. It holds as many jobs at once as its capacity allows.
With --decline-every N it declines every Nth offer instead. Its accept, complete and
close are resent (same command id) while the router cannot answer, for as long as it
runs, so a router restart does not strand the jobs it holds.

It sends a heartbeat every --heartbeat (3s): if it is killed or cut off, the router
marks it lost within 10s (three heartbeats and a second), revokes its offers and
gives their jobs to the next worker; when its heartbeats come back it is offered
work again.

When it starts, and after every reconnect to NATS, it asks the router for its
outstanding offers and the jobs it holds (patchbay worker get): it takes the offers
it missed while its connection was down, and a worker restarted mid-job completes and
closes the jobs it held, as it would have.

It registers in the activity available, or in the one --activity names; in one that
takes no offers (break, say) it waits for offers until it is moved to one that does
('patchbay worker update --id W --activity available').

Ctrl-C deregisters the worker (its open offers are revoked), completes and closes
the jobs it holds at once (within --timeout), and exits.`,
		Example: `  patchbay worker run --id alice --queue support
  patchbay worker run --id bob --queue support --queue sales --channel voice:1:1 \
      --channel chat:1:3 --capacity 3 --label language=en --label skill=7 --work 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := f.spec(true, cmd.Flags().Changed)
			if err != nil {
				return err
			}
			if d.work < 0 || d.wrapUp < 0 {
				return errors.New("--work and --wrap-up must not be negative")
			}
			if d.declineEvery < 0 {
				return fmt.Errorf("--decline-every %d: want 0 (never) or more", d.declineEvery)
			}
			if d.heartbeat < 0 || patchbay.HeartbeatSeconds(d.heartbeat) > events.MaxHeartbeatSeconds {
				return fmt.Errorf("--heartbeat %s: want 0 (presence not tracked) up to %ds", d.heartbeat, events.MaxHeartbeatSeconds)
			}
			if d.heartbeat > 0 {
				hb := patchbay.HeartbeatSeconds(d.heartbeat)
				spec.HeartbeatSeconds = &hb
			}
			// No retry deadline of the client's own: the worker's requests carry
			// their bounds (see run), so that a router restart never strands a job
			// the worker holds.
			c, closeConn, err := cf.connect("worker "+f.id, patchbay.WithRetryDeadline(0), patchbay.AsWorker(f.id))
			if err != nil {
				return err
			}
			defer closeConn()
			w := &demoWorker{c: c, spec: spec, cfg: *d, timeout: cf.timeout, out: &lineWriter{w: cmd.OutOrStdout()}}
			return w.run(cmd.Context())
		},
	}
	f.add(cmd.Flags(), true)
	fl := cmd.Flags()
	fl.DurationVar(&d.work, "work", 2*time.Second, "how long each job takes before it is completed")
	fl.DurationVar(&d.wrapUp, "wrap-up", time.Second, "how long after the completion the job is closed")
	fl.StringVar(&d.disposition, "disposition", "Resolved", "disposition code the jobs are closed with")
	fl.IntVar(&d.declineEvery, "decline-every", 0, "decline every Nth offer (0: accept them all)")
	fl.DurationVar(&d.heartbeat, "heartbeat", patchbay.HeartbeatDefault, "send a heartbeat this often; the router marks the worker lost after 3 missed and a second (0: presence not tracked)")
	return cmd
}

// demoWorker is the worker `worker run` runs.
type demoWorker struct {
	c       *patchbay.Client
	spec    patchbay.WorkerSpec
	cfg     demoConfig
	timeout time.Duration
	out     *lineWriter

	mu       sync.Mutex
	stopping bool
	offers   int // offers issued to the worker
	jobs     sync.WaitGroup
	closed   int
	declined int
	// held are the jobs this process is working on, from the offer it takes until the
	// job is closed (or given up): a resync does not start them a second time.
	held map[string]bool
}

func (w *demoWorker) logf(format string, args ...any) {
	w.out.printf(time.Now().Format("15:04:05.000")+" "+w.spec.WorkerID+": "+format, args...)
}

// run subscribes, registers, serves offers until ctx ends, then deregisters and
// finishes the jobs it holds.
func (w *demoWorker) run(ctx context.Context) error {
	// Accept, decline, complete and close are resent (same CloudEvent id) while the
	// router cannot answer, for as long as the worker runs, so a router restart never
	// strands a job it holds; a Ctrl-C gives them --timeout more to finish, and does
	// not abandon an accept the router may already have applied. Waits end with ctx.
	reqCtx, cancelReqs := outlive(ctx, w.timeout)
	defer cancelReqs()
	// The feed hands over the offers published while the connection was down, or
	// before this process started, and each resync the jobs the worker holds (from
	// an earlier run, when it was restarted mid-job).
	w.held = map[string]bool{}
	feed, err := w.c.FollowOffers(w.spec.WorkerID, func(n patchbay.OfferNotice) { w.notice(ctx, reqCtx, n) },
		patchbay.FollowOptions{
			OnResync: func(info *patchbay.WorkerInfo) { w.resume(ctx, reqCtx, info) },
			OnError:  func(err error) { w.logf("could not ask for its offers and jobs: %v", err) },
		})
	if err != nil {
		return fmt.Errorf("subscribe to offers: %w", err)
	}
	defer func() { _ = feed.Stop() }()
	if w.cfg.heartbeat > 0 {
		// until Ctrl-C: the deregistration that follows ends the tracking
		if err := w.c.KeepPresent(ctx, w.spec.WorkerID, w.cfg.heartbeat); err != nil {
			return err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, w.timeout)
	res, err := w.c.RegisterWorker(rctx, w.spec)
	cancel()
	if err != nil {
		return fmt.Errorf("register worker %s: %w", w.spec.WorkerID, err)
	}
	status := res.Status
	if w.spec.Activity != "" {
		status += ", activity " + w.spec.Activity
	}
	w.logf("registered (%s) on queues %s, capacity %d; waiting for offers (Ctrl-C to stop)",
		status, strings.Join(w.spec.Queues, ","), *w.spec.TotalCapacity)
	<-ctx.Done()

	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	dctx, cancel := withoutCancel(ctx, w.timeout)
	defer cancel()
	_, derr := w.c.DeregisterWorker(dctx, w.spec.WorkerID)
	if derr != nil {
		derr = fmt.Errorf("deregister worker %s: %w", w.spec.WorkerID, derr)
	}
	w.jobs.Wait()
	if derr == nil {
		w.logf("deregistered; %d jobs closed, %d offers declined", w.closed, w.declined)
	}
	return derr
}

// notice handles one offer event; it runs on the subscription's goroutine and must
// not block, so each offer is served on its own goroutine.
func (w *demoWorker) notice(ctx, reqCtx context.Context, n patchbay.OfferNotice) {
	o := n.Offer
	switch n.Type {
	case events.TypeOfferIssued:
	case events.TypeOfferExpired:
		w.logf("offer %s for job %s expired", o.OfferID, o.JobID)
		return
	case events.TypeOfferRevoked:
		w.logf("offer %s for job %s revoked (%s)", o.OfferID, o.JobID, o.Reason)
		return
	default:
		return
	}
	if n.Recovered {
		w.logf("found offer %s for job %s, missed while away", o.OfferID, o.JobID)
	}
	w.mu.Lock()
	if w.stopping || w.held[o.JobID] {
		w.mu.Unlock()
		return // deregistering revokes it
	}
	w.offers++
	decline := w.cfg.declineEvery > 0 && w.offers%w.cfg.declineEvery == 0
	if !decline {
		w.held[o.JobID] = true
	}
	w.jobs.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.jobs.Done()
		if decline {
			w.declineOffer(reqCtx, o)
			return
		}
		defer w.release(o.JobID)
		w.serve(ctx, reqCtx, o)
	}()
}

// resume takes up the jobs the router says the worker holds and this process is not
// working on: those of an earlier run of the worker, restarted mid-job. It runs on
// the feed's goroutine and must not block. A job whose close is scheduled is being
// closed already.
func (w *demoWorker) resume(ctx, reqCtx context.Context, info *patchbay.WorkerInfo) {
	for _, j := range info.Jobs {
		if j.Assignment == nil || j.ScheduledCloseAt != nil {
			continue
		}
		w.mu.Lock()
		if w.stopping || w.held[j.JobID] {
			w.mu.Unlock()
			continue
		}
		w.held[j.JobID] = true
		w.jobs.Add(1)
		w.mu.Unlock()
		go func() {
			defer w.jobs.Done()
			defer w.release(j.JobID)
			w.logf("resuming job %s (%s), assignment %s", j.JobID, j.Status, j.Assignment.AssignmentID)
			w.finish(ctx, reqCtx, j.JobID, j.Assignment.AssignmentID, j.Status)
		}()
	}
	if info.Truncated {
		w.logf("holds more offers and jobs than one answer carries; the rest come at the next resync")
	}
}

// release forgets a job the worker is done with.
func (w *demoWorker) release(jobID string) {
	w.mu.Lock()
	delete(w.held, jobID)
	w.mu.Unlock()
}

func (w *demoWorker) declineOffer(ctx context.Context, o patchbay.Offer) {
	if err := w.c.Decline(ctx, o, nil); err != nil {
		w.logf("decline offer %s for job %s: %v", o.OfferID, o.JobID, err)
		return
	}
	w.mu.Lock()
	w.declined++
	w.mu.Unlock()
	w.logf("declined offer %s for job %s", o.OfferID, o.JobID)
}

// serve accepts an offer, works, completes, wraps up and closes the job. When ctx
// ends the waits are cut short so the job is closed at once.
func (w *demoWorker) serve(ctx, reqCtx context.Context, o patchbay.Offer) {
	aid, err := w.c.Accept(reqCtx, o)
	if err != nil {
		w.logf("accept offer %s for job %s: %v", o.OfferID, o.JobID, err)
		return
	}
	queue, channel := o.QueueID, o.ChannelID
	w.logf("accepted offer %s: job %s (queue %s, channel %s), assignment %s", o.OfferID, o.JobID, queue, channel, aid)
	w.finish(ctx, reqCtx, o.JobID, aid, string(lifecycle.JobAssigned))
}

// finish works on a job the worker holds, in the given status, until it is closed:
// an assigned job is worked on and completed, then wrapped up and closed.
func (w *demoWorker) finish(ctx, reqCtx context.Context, jobID, aid, status string) {
	if status == string(lifecycle.JobAssigned) {
		wait(ctx, w.cfg.work)
		if err := w.c.Complete(reqCtx, jobID, aid, ""); err != nil {
			w.logf("complete job %s: %v", jobID, err)
			return
		}
		w.logf("completed job %s", jobID)
	}
	wait(ctx, w.cfg.wrapUp)
	if err := w.c.Close(reqCtx, jobID, aid, patchbay.CloseOptions{DispositionCode: w.cfg.disposition}); err != nil {
		w.logf("close job %s: %v", jobID, err)
		return
	}
	w.mu.Lock()
	w.closed++
	w.mu.Unlock()
	w.logf("closed job %s (%s)", jobID, w.cfg.disposition)
}

// wait waits for d or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func newWorkerRegisterCmd(cf *clientFlags) *cobra.Command {
	f := &workerFlags{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "register --id W --queue Q [flags]",
		Short: "Register (or replace) a worker and make it available for offers",
		Long: `Register a worker, or replace a registered one. Its offers are published on
patchbay.events.offer.<id>.<job>.issued; subscribe to them before registering, or an offer
made at once expires unanswered. 'patchbay worker run' does both.

It registers in the activity available (offline with --unavailable), or in the one
--activity names.`,
		Example: `  patchbay worker register --id alice --queue support --channel voice:1:1 --capacity 1 --label skill=7
  patchbay worker register --id bob --queue support --activity break`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := f.spec(true, cmd.Flags().Changed)
			if err != nil {
				return err
			}
			if f.unavailable {
				no := false
				spec.AvailableForOffers = &no
			}
			c, closeConn, err := cf.connect("worker register")
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.RegisterWorker(cmd.Context(), spec)
			if err != nil {
				return fmt.Errorf("register worker %s: %w", f.id, err)
			}
			return printWorkerResult(cmd, asJSON, res, "registered")
		},
	}
	f.add(cmd.Flags(), true)
	cmd.Flags().BoolVar(&f.unavailable, "unavailable", false, "register without taking offers yet")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's reply as JSON")
	return cmd
}

func newWorkerUpdateCmd(cf *clientFlags) *cobra.Command {
	f := &workerFlags{}
	var available, asJSON bool
	cmd := &cobra.Command{
		Use:   "update --id W [flags]",
		Short: "Change some of a worker's fields (only the flags given are changed)",
		Long: `Change a registered worker. Only the flags given are changed; --queue, --channel,
--label and --tag replace the whole list. --activity moves the worker to an activity
(available, offline, break, or one defined by a policy of kind activity), which says
whether it takes offers. --available=false deregisters the worker (activity offline,
unless its activity already takes no offers), --available=true registers it again
(activity available, unless its activity already takes offers).`,
		Example: `  patchbay worker update --id alice --capacity 2 --channel voice:1:1 --channel chat:1:2
  patchbay worker update --id alice --activity break
  patchbay worker update --id alice --available=false`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			changed := cmd.Flags().Changed
			spec, err := f.spec(false, changed)
			if err != nil {
				return err
			}
			if changed("available") {
				spec.AvailableForOffers = &available
			}
			c, closeConn, err := cf.connect("worker update")
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.UpdateWorker(cmd.Context(), spec)
			if err != nil {
				return fmt.Errorf("update worker %s: %w", f.id, err)
			}
			return printWorkerResult(cmd, asJSON, res, "updated")
		},
	}
	f.add(cmd.Flags(), false)
	cmd.Flags().BoolVar(&available, "available", true, "whether the worker takes offers")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's reply as JSON")
	return cmd
}

func newWorkerDeregisterCmd(cf *clientFlags) *cobra.Command {
	var id string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "deregister W",
		Short: "Make a worker unavailable for offers (its open offers are revoked)",
		Long: `Deregister a worker: it gets no more offers and its open offers are revoked. Jobs
it holds stay assigned to it until it completes and closes them.`,
		Example: `  patchbay worker deregister alice`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if id != "" && id != args[0] {
					return fmt.Errorf("worker %q and --id %q differ: give one", args[0], id)
				}
				id = args[0]
			}
			if err := checkIDFlag("id", id); err != nil {
				return err
			}
			c, closeConn, err := cf.connect("worker deregister")
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.DeregisterWorker(cmd.Context(), id)
			if err != nil {
				return fmt.Errorf("deregister worker %s: %w", id, err)
			}
			return printWorkerResult(cmd, asJSON, res, "deregistered")
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "worker id (or give it as the argument)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's reply as JSON")
	return cmd
}

func printWorkerResult(cmd *cobra.Command, asJSON bool, res *patchbay.Result, verb string) error {
	out := cmd.OutOrStdout()
	if asJSON {
		return printJSON(out, res)
	}
	if res.Duplicate {
		fmt.Fprintf(out, "worker %s was already %s (%s)\n", res.WorkerID, verb, res.Status)
		return nil
	}
	fmt.Fprintf(out, "worker %s %s (%s)\n", res.WorkerID, verb, res.Status)
	return nil
}
