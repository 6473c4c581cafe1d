package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/bench"
)

func init() { clientCommands = append(clientCommands, newBenchCmd) }

func newBenchCmd() *cobra.Command {
	cfg := bench.Config{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench [flags]",
		Short: "Measure the full job lifecycle (create, offer, accept, complete, close)",
		Long: `Measure the full job lifecycle. Simulated workers accept, complete and close every
offer at once while several producers create --jobs jobs. The report gives the
throughput (jobs per second from the first create to the last job closed) and
the latencies from a create to the worker receiving its offer and to its assignment.

Without --nats-url it starts an embedded NATS server (in a temporary directory) and
a router in-process; with --nats-url it uses the router running there, on a queue and
worker ids of its own.`,
		Example: `  patchbay bench
  patchbay bench --jobs 10000 --workers 50 --capacity 2 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Jobs < 1 || cfg.Workers < 1 || cfg.Capacity < 1 || cfg.Producers < 1 {
				return fmt.Errorf("--jobs, --workers, --capacity and --producers must be at least 1")
			}
			if cfg.RequestTimeout <= 0 {
				return fmt.Errorf("--timeout must be positive (got %s)", cfg.RequestTimeout)
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
	f.IntVar(&cfg.Producers, "producers", bench.ProducersDefault, "goroutines creating jobs concurrently")
	f.Float64Var(&cfg.Rate, "rate", 0, "create this many jobs per second in all (0: as fast as possible); below the workers' capacity created->offer is the router's latency")
	f.StringVar(&cfg.URL, "nats-url", "", "NATS server of a running router (default: embed a server and a router)")
	f.DurationVar(&cfg.RequestTimeout, "timeout", bench.RequestTimeoutDefault, "how long each request may wait for the router")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
