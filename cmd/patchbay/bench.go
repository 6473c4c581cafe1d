package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/bench"
)

func init() { clientCommands = append(clientCommands, newBenchCmd) }

func newBenchCmd() *cobra.Command {
	cfg := bench.Config{}
	var asJSON, quiet, noBaseline bool
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure the full job lifecycle against raw JetStream on the same server",
		Long: `Measure the full job lifecycle (create, offer, accept, complete, close) and compare it
with raw JetStream measured on the same server in the same run.

First the baseline: asynchronous publishes of job.created-sized messages to a scratch
stream (file storage, the replicas of patchbay's streams or --replicas), then
synchronous publishes at --rate (flat out without it) for the publish -> ack
latency; the stream is deleted afterwards. Then (but in backlog mode) the raw relay
chain: the router's path with no routing in it (a relay consumes commands a batch at
a time, writes a record key, publishes the KV writes and events, waits for their
acks, acks the commands; 4 commands, 7 events and 3 KV writes per job), at the run's
pace, on scratch streams deleted afterwards (--chain-no-record: without the record
write, the floor of any design that takes commands from a stream). Then --workers simulated workers register
(--register-parallel at a time) and jobs go through their lifecycle: the bench
publishes the commands straight onto the inbound stream and follows the router's
events; every offer is accepted, every assignment completed and closed at once.

Modes: flat out (at most --max-open jobs open at once), --rate (fixed creates per
second: created -> offer is the router's latency below the workers' capacity), and
--backlog N (N jobs are created while the workers are unavailable; once all are
queued the workers become available, and the drain is measured).

The report gives the throughput (also as a percentage of raw async publishes and,
flat out, of the raw chain's), the created -> offer (also as a multiple of the raw
publish -> ack p99 and of the raw chain's created -> offer p99), created ->
assigned and freed worker -> next offer latencies (p50, p99, p99.9, max), and the
messages every patchbay stream and bucket took per job (writes/job). Progress goes
to stderr every second (--quiet: none).

Without --nats-url it starts an embedded NATS server (in a temporary directory) and
a router in-process; with --nats-url it uses the router running there (for example
'patchbay serve --nats-url ...' in its own process), on a queue and worker ids of its
own, and deregisters its workers at the end.`,
		Example: `  patchbay bench --jobs 5000 --workers 50
  patchbay bench --jobs 5000 --workers 1000 --rate 500
  patchbay bench --backlog 20000 --workers 100
  patchbay bench --jobs 20000 --workers 100000 --rate 1000
  patchbay bench --nats-url nats://n1:4222,nats://n2:4222 --replicas 3 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Jobs < 1 || cfg.Workers < 1 || cfg.Capacity < 1 || cfg.MaxOpen < 1 || cfg.RegisterParallel < 1 {
				return fmt.Errorf("--jobs, --workers, --capacity, --max-open and --register-parallel must be at least 1")
			}
			if cfg.RequestTimeout <= 0 {
				return fmt.Errorf("--timeout must be positive (got %s)", cfg.RequestTimeout)
			}
			if noBaseline {
				cfg.Baseline = -1
			}
			if !quiet {
				cfg.Progress = cmd.ErrOrStderr()
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil && rep.Jobs == 0 {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if perr := printJSON(out, rep); perr != nil {
					return perr
				}
			} else {
				fmt.Fprint(out, rep.String())
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Jobs, "jobs", bench.JobsDefault, "jobs to run through their lifecycle")
	f.IntVar(&cfg.Workers, "workers", bench.WorkersDefault, "simulated workers")
	f.IntVar(&cfg.Capacity, "capacity", bench.CapacityDefault, "each worker's capacity (jobs at once)")
	f.IntVar(&cfg.MaxOpen, "max-open", bench.MaxOpenDefault, "flat out: at most this many jobs created and not yet closed")
	f.Float64Var(&cfg.Rate, "rate", 0, "create this many jobs per second in all (0: flat out); below the workers' capacity created->offer is the router's latency")
	f.IntVar(&cfg.Backlog, "backlog", 0, "backlog mode: create this many jobs with no worker available, then make the workers available and measure the drain (instead of --jobs)")
	f.StringVar(&cfg.URL, "nats-url", "", "NATS server of a running router (default: embed a server and a router)")
	f.IntVar(&cfg.Replicas, "replicas", 0, "replicas of the baseline's scratch stream (default: those of patchbay's streams)")
	f.IntVar(&cfg.Baseline, "baseline", 0, "messages the baseline publishes (default: --jobs, within 1000 and 20000)")
	f.BoolVar(&noBaseline, "no-baseline", false, "skip the raw JetStream baseline")
	f.BoolVar(&cfg.ChainNoRecord, "chain-no-record", false, "run the raw relay chain without its record write (the floor of any design that takes commands from a stream)")
	f.IntVar(&cfg.RegisterParallel, "register-parallel", bench.RegisterParallelDefault, "worker registrations in flight at once")
	f.DurationVar(&cfg.RequestTimeout, "timeout", bench.RequestTimeoutDefault, "how long each request or publish may wait for its answer")
	f.BoolVar(&quiet, "quiet", false, "no progress on stderr")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
