package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// The read-only commands: they ask the router (patchbay.query.*) and change nothing.
func init() {
	clientCommands = append(clientCommands, newQueueCmd)
	jobSubcommands = append(jobSubcommands, newJobGetCmd)
}

func newQueueCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queue",
		Short: "Look at queues",
		Args:  cobra.NoArgs,
	}
	cf := addClientFlags(cmd.PersistentFlags())
	cmd.AddCommand(newQueueStatsCmd(cf), newQueueListCmd(cf))
	return cmd
}

func newQueueStatsCmd(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats QUEUE",
		Short: "Show a queue's length, longest wait, workers and estimated wait per priority",
		Long: `Show a queue's statistics, as the router sees them now: the number of queued jobs,
how long the oldest has waited, the workers available for offers (and those of them
with room for one more job), how many of its workers are in each activity, the recent
assignment rate, and per priority how many queued jobs a new job would wait behind
and how long it would wait.

The estimates come from the queue's assignments of the last 15 minutes; they are
"unknown" until the queue has some. A queue nobody used yet is shown empty.`,
		Example: `  patchbay queue stats support
  patchbay queue stats support --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			queueID := args[0]
			if err := checkIDArg("queue", queueID); err != nil {
				return err
			}
			c, closeConn, err := cf.connect("queue stats")
			if err != nil {
				return err
			}
			defer closeConn()
			info, err := c.QueueInfo(cmd.Context(), queueID)
			if err != nil {
				return fmt.Errorf("queue stats %s: %w", queueID, err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), info)
			}
			return printQueueInfo(cmd.OutOrStdout(), info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's answer as JSON")
	return cmd
}

func newJobGetCmd(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get JOB",
		Short: "Show a job: status, queue, assignment, and its place in the queue while queued",
		Long: `Show a job as the router sees it now: its status, queue, channel and priority, its
assignment once a worker accepted it, and while it is queued its position in the
queue's dispatch order (1 is next), the queue's length and an estimate of its wait
("unknown" until the queue has recent assignments to go by).`,
		Example: `  patchbay job get call-4711
  patchbay job get call-4711 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			jobID := args[0]
			if err := checkIDArg("job", jobID); err != nil {
				return err
			}
			c, closeConn, err := cf.connect("job get")
			if err != nil {
				return err
			}
			defer closeConn()
			info, err := c.JobInfo(cmd.Context(), jobID)
			if err != nil {
				return fmt.Errorf("get job %s: %w", jobID, err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), info)
			}
			return printJobInfo(cmd.OutOrStdout(), info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's answer as JSON")
	return cmd
}

func newWorkerGetCmd(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get WORKER",
		Short: "Show a worker: state, capacity, its outstanding offers and the jobs it holds",
		Long: `Show a worker as the router sees it now: its state and presence, the capacity it
uses, its outstanding offers (oldest first, with their jobs) and the jobs it holds
(assigned or completed, not yet closed, with their assignment ids, in the order they
were assigned). This is what a worker asks after a reconnect or a restart to find its
work again. If the lists would not fit in one message they are cut short, the oldest
kept, and it says so.`,
		Example: `  patchbay worker get alice
  patchbay worker get alice --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			workerID := args[0]
			if err := checkIDArg("worker", workerID); err != nil {
				return err
			}
			c, closeConn, err := cf.connect("worker get")
			if err != nil {
				return err
			}
			defer closeConn()
			info, err := c.WorkerInfo(cmd.Context(), workerID)
			if err != nil {
				return fmt.Errorf("get worker %s: %w", workerID, err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), info)
			}
			return printWorkerInfo(cmd.OutOrStdout(), info)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's answer as JSON")
	return cmd
}

// checkIDArg checks that a positional argument is a valid patchbay id.
func checkIDArg(what, v string) error {
	if !events.ValidID(v) {
		return fmt.Errorf("%s %q: an id is 1-128 letters, digits, '-' or '_', starting with a letter or digit", what, v)
	}
	return nil
}

// printQueueInfo prints a queue's statistics, one "name: value" line each, then one
// line per priority.
func printQueueInfo(w io.Writer, q *patchbay.QueueInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "queue:\t%s\n", q.QueueID)
	fmt.Fprintf(tw, "length:\t%d\n", q.Length)
	fmt.Fprintf(tw, "longest wait:\t%s\n", seconds(q.LongestWaitSeconds))
	fmt.Fprintf(tw, "available workers:\t%d\n", q.AvailableWorkers)
	fmt.Fprintf(tw, "idle workers:\t%d\n", q.IdleWorkers)
	if len(q.WorkersByActivity) > 0 {
		fmt.Fprintf(tw, "workers by activity:\t%s\n", byActivity(q.WorkersByActivity))
	}
	fmt.Fprintf(tw, "assignments per minute:\t%s\n", perMinute(q.AssignmentsPerMinute))
	for _, p := range q.EstimatedWait {
		fmt.Fprintf(tw, "priority %d:\t%d ahead, estimated wait %s\n", p.Priority, p.Ahead, estimatedWait(p.EstimatedWaitSeconds))
	}
	return tw.Flush()
}

// byActivity shows counts per activity, by activity name: "available 3, break 1".
func byActivity(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for a := range counts {
		names = append(names, a)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, a := range names {
		parts[i] = a + " " + strconv.Itoa(counts[a])
	}
	return strings.Join(parts, ", ")
}

// printJobInfo prints a job, one "name: value" line each.
func printJobInfo(w io.Writer, info *patchbay.JobInfo) error {
	j := info.Job
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "job:\t%s\n", j.JobID)
	fmt.Fprintf(tw, "status:\t%s\n", j.Status)
	fmt.Fprintf(tw, "queue:\t%s\n", j.QueueID)
	fmt.Fprintf(tw, "channel:\t%s\n", j.ChannelID)
	fmt.Fprintf(tw, "priority:\t%d\n", j.Priority)
	if j.DispositionCode != "" {
		fmt.Fprintf(tw, "disposition:\t%s\n", j.DispositionCode)
	}
	if a := j.Assignment; a != nil {
		fmt.Fprintf(tw, "worker:\t%s\n", a.WorkerID)
		fmt.Fprintf(tw, "assignment:\t%s\n", a.AssignmentID)
	}
	if info.Position > 0 {
		fmt.Fprintf(tw, "position:\t%d of %d\n", info.Position, info.QueueLength)
		fmt.Fprintf(tw, "estimated wait:\t%s\n", estimatedWait(info.EstimatedWaitSeconds))
	}
	return tw.Flush()
}

// printWorkerInfo prints a worker, one "name: value" line each, then one line per
// offer and per job.
func printWorkerInfo(w io.Writer, info *patchbay.WorkerInfo) error {
	wk := info.Worker
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "worker:\t%s\n", wk.WorkerID)
	fmt.Fprintf(tw, "state:\t%s\n", wk.State)
	if wk.Presence != "" {
		fmt.Fprintf(tw, "presence:\t%s\n", wk.Presence)
	}
	fmt.Fprintf(tw, "capacity:\t%d of %d used\n", wk.UsedCapacity, wk.TotalCapacity)
	for _, o := range info.Offers {
		fmt.Fprintf(tw, "offer:\t%s for job %s (queue %s, channel %s), expires %s\n",
			o.OfferID, o.JobID, o.QueueID, o.ChannelID, o.ExpiresAt.Local().Format(time.TimeOnly))
	}
	for _, j := range info.Jobs {
		fmt.Fprintf(tw, "job:\t%s %s (queue %s, channel %s), assignment %s\n",
			j.JobID, j.Status, j.QueueID, j.ChannelID, j.Assignment.AssignmentID)
	}
	if info.Truncated {
		fmt.Fprintf(tw, "truncated:\tonly the oldest %d offers and %d jobs fit in one answer (of %d and %d)\n",
			len(info.Offers), len(info.Jobs), len(wk.OfferIDs), len(wk.AssignedJobIDs))
	}
	return tw.Flush()
}

// estimatedWait shows an estimate in seconds, or "unknown" when there is none.
func estimatedWait(s *float64) string {
	if s == nil {
		return "unknown"
	}
	return seconds(*s)
}

// perMinute shows a rate with at most two decimals: 4, 0.07.
func perMinute(r float64) string {
	return strconv.FormatFloat(math.Round(r*100)/100, 'f', -1, 64)
}

// seconds shows a number of seconds as a duration: 2.5s, 45s, 1m30s.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
