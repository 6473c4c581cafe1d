package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

func init() { jobSubcommands = append(jobSubcommands, newJobExplainCmd) }

func newJobExplainCmd(cf *clientFlags) *cobra.Command {
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "explain JOB",
		Short: "Say why a job is, or is not, offered to each worker of its queue",
		Long: `Say where a job stands and, for each worker of its queue (the first --limit by id),
why it is not offered the job: unavailable (its activity), lost (presence), not in the
queue, a selector that fails (the worker's value), no capacity or a full channel (the
numbers, and the job whose offer outranked it), declined (until when), its cap of
offers; or that nothing stops it. For an offered or assigned job, also what chose
its worker (the distribution mode, score or order_by values, idle time). The router
answers with the matcher's own eligibility rule, as things are now.`,
		Example: `  patchbay job explain call-4711
  patchbay job explain call-4711 --limit 200 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			jobID := args[0]
			if err := checkIDArg("job", jobID); err != nil {
				return err
			}
			if limit < 0 || limit > events.MaxExplainWorkers {
				return fmt.Errorf("--limit must be between 1 and %d (got %d)", events.MaxExplainWorkers, limit)
			}
			c, closeConn, err := cf.connect("job explain")
			if err != nil {
				return err
			}
			defer closeConn()
			x, err := c.ExplainJob(cmd.Context(), jobID, limit)
			if err != nil {
				return fmt.Errorf("explain job %s: %w", jobID, err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), x)
			}
			return printExplanation(cmd.OutOrStdout(), x)
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("describe at most N workers, the first by id (1-%d; the router's default is %d)", events.MaxExplainWorkers, events.DefaultExplainWorkers))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's answer as JSON")
	return cmd
}

// printExplanation prints the job's lines, then a table of the workers' reasons.
func printExplanation(w io.Writer, x *patchbay.Explanation) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "job:\t%s (%s, queue %s, channel %s)\n", x.JobID, x.Status, x.QueueID, x.ChannelID)
	fmt.Fprintf(tw, "summary:\t%s\n", x.Summary)
	if d := x.Distribution; d != nil {
		line := fmt.Sprintf("%s, %d of at most %d offers out (first offered to at least %d)", d.Mode, d.OffersOut, d.MaxConcurrentOffers, d.MinConcurrentOffers)
		if d.BypassSelectors {
			line += ", selectors bypassed"
		}
		if d.OrderBy != "" {
			line += ", order_by " + d.OrderBy
		}
		fmt.Fprintf(tw, "distribution:\t%s\n", line)
	}
	for _, c := range x.Chosen {
		fmt.Fprintf(tw, "chosen:\t%s: %s\n", c.WorkerID, c.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(x.Workers) == 0 && x.MoreWorkers == 0 {
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tREASON\tWHY")
	for _, we := range x.Workers {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", we.WorkerID, we.Reason, we.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if x.MoreWorkers > 0 {
		more := fmt.Sprintf("and %d more workers", x.MoreWorkers)
		if x.Truncated {
			more += " (cut to fit one answer)"
		} else {
			more += " (raise --limit)"
		}
		_, err := fmt.Fprintln(w, more)
		return err
	}
	return nil
}
