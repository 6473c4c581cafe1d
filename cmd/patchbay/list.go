package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/lifecycle"
)

// The list commands: job list, worker list, queue list, policy list, and policy get.
// They ask the router (patchbay.query.jobs, ...) and change nothing.
func init() { jobSubcommands = append(jobSubcommands, newJobListCmd) }

// listFlags are the flags every list command shares.
type listFlags struct {
	limit  int
	after  string
	all    bool
	asJSON bool
}

func (f *listFlags) add(fs *pflag.FlagSet, what string) {
	fs.IntVar(&f.limit, "limit", 0, fmt.Sprintf("list at most N %s (1-%d; the router's default is %d); with --all, per page", what, events.MaxListLimit, events.DefaultListLimit))
	fs.StringVar(&f.after, "after", "", "continue after this cursor (printed when more follow)")
	fs.BoolVar(&f.all, "all", false, "follow the pages to the end of the list")
	fs.BoolVar(&f.asJSON, "json", false, "print one JSON object per line, as the router answers each item")
}

// check refuses a limit the router would refuse, before connecting.
func (f *listFlags) check() error {
	if f.limit < 0 || f.limit > events.MaxListLimit {
		return fmt.Errorf("--limit must be between 1 and %d (got %d)", events.MaxListLimit, f.limit)
	}
	return nil
}

// listPages prints the pages fetch returns: one page, or with --all every page until
// the last. The table has a header and one row per item; --json prints each item as a
// line of JSON. When more follow and --all was not given, it says how to go on (on
// errw, so that the output stays a table or JSON lines).
func listPages[T any](cmd *cobra.Command, f *listFlags, fetch func(after string) ([]T, string, error), header string, row func(T) string) error {
	out := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if !f.asJSON {
		fmt.Fprintln(tw, header)
	}
	after := f.after
	for {
		items, next, err := fetch(after)
		if err != nil {
			return err
		}
		for _, it := range items {
			if f.asJSON {
				if err := printJSON(out, it); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintln(tw, row(it))
		}
		if next == "" {
			break
		}
		if !f.all {
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "more follow: add --after %s, or --all\n", next)
			return nil
		}
		after = next
	}
	if f.asJSON {
		return nil
	}
	return tw.Flush()
}

// cols joins a row's cells for the table.
func cols(cells ...string) string { return strings.Join(cells, "\t") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newJobListCmd(cf *clientFlags) *cobra.Command {
	var f listFlags
	var status, queue, worker string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, oldest first: by status, queue or assigned worker",
		Long: `List the jobs the router holds (live ones, and closed or cancelled ones within the
retention), oldest created first, as a table or (--json) one job query answer per line.
Filter by status (` + strings.Join(jobStatuses(), ", ") + `), by queue and by
the worker the job is assigned to. The router answers a page at a time; --all
follows the pages to the end.`,
		Example: `  patchbay job list
  patchbay job list --status queued --queue support
  patchbay job list --worker alice --all --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			for flag, v := range map[string]string{"queue": queue, "worker": worker} {
				if v != "" {
					if err := checkIDFlag(flag, v); err != nil {
						return err
					}
				}
			}
			c, closeConn, err := cf.connect("job list")
			if err != nil {
				return err
			}
			defer closeConn()
			fetch := func(after string) ([]patchbay.JobInfo, string, error) {
				l, err := c.ListJobs(cmd.Context(), patchbay.ListJobsOptions{Status: status, QueueID: queue, WorkerID: worker, Limit: f.limit, After: after})
				if err != nil {
					return nil, "", fmt.Errorf("list jobs: %w", err)
				}
				return l.Jobs, l.Next, nil
			}
			return listPages(cmd, &f, fetch, cols("JOB", "STATUS", "QUEUE", "CHANNEL", "PRIORITY", "POSITION", "WORKER", "CREATED"),
				func(info patchbay.JobInfo) string {
					j := info.Job
					worker, position := "-", "-"
					if j.Assignment != nil {
						worker = j.Assignment.WorkerID
					}
					if info.Position > 0 {
						position = strconv.Itoa(info.Position)
					}
					return cols(j.JobID, j.Status, j.QueueID, j.ChannelID, strconv.Itoa(j.Priority), position, worker, j.CreatedAt.UTC().Format(time.RFC3339))
				})
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only jobs in this status")
	cmd.Flags().StringVar(&queue, "queue", "", "only jobs of this queue")
	cmd.Flags().StringVar(&worker, "worker", "", "only jobs assigned to this worker")
	f.add(cmd.Flags(), "jobs")
	return cmd
}

func jobStatuses() []string {
	var out []string
	for _, s := range lifecycle.JobStatuses() {
		out = append(out, string(s))
	}
	return out
}

func newWorkerListCmd(cf *clientFlags) *cobra.Command {
	var f listFlags
	var queue, activity string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workers by id: activity, state, presence, capacity, offers and jobs",
		Long: `List the workers the router knows (deregistered ones until they are forgotten), by
id, with their activity, state, presence, the capacity they use, their outstanding
offers and the jobs they hold; --json prints each with its load per channel. Filter
by queue and by activity. --all follows the pages to the end.`,
		Example: `  patchbay worker list
  patchbay worker list --queue support --activity available`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			for flag, v := range map[string]string{"queue": queue, "activity": activity} {
				if v != "" {
					if err := checkIDFlag(flag, v); err != nil {
						return err
					}
				}
			}
			c, closeConn, err := cf.connect("worker list")
			if err != nil {
				return err
			}
			defer closeConn()
			fetch := func(after string) ([]patchbay.WorkerSummary, string, error) {
				l, err := c.ListWorkers(cmd.Context(), patchbay.ListWorkersOptions{QueueID: queue, Activity: activity, Limit: f.limit, After: after})
				if err != nil {
					return nil, "", fmt.Errorf("list workers: %w", err)
				}
				return l.Workers, l.Next, nil
			}
			return listPages(cmd, &f, fetch, cols("WORKER", "ACTIVITY", "STATE", "PRESENCE", "CAPACITY", "OFFERS", "JOBS", "QUEUES"),
				func(s patchbay.WorkerSummary) string {
					w := s.Worker
					return cols(w.WorkerID, w.Activity, w.State, orDash(w.Presence), fmt.Sprintf("%d/%d", w.UsedCapacity, w.TotalCapacity),
						strconv.Itoa(s.OutstandingOffers), strconv.Itoa(s.AssignedJobs), strings.Join(w.Queues, ","))
				})
		},
	}
	cmd.Flags().StringVar(&queue, "queue", "", "only workers of this queue")
	cmd.Flags().StringVar(&activity, "activity", "", "only workers in this activity")
	f.add(cmd.Flags(), "workers")
	return cmd
}

func newQueueListCmd(cf *clientFlags) *cobra.Command {
	var f listFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List queues by id: length, longest wait, available and idle workers",
		Long: `List the queues the router knows (those with a queue policy, a queued job or a
worker), by id, with their length, the longest wait, and their available and idle
workers; --json prints each as 'queue stats --json' does. --all follows the pages to
the end.`,
		Example: `  patchbay queue list
  patchbay queue list --all --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			c, closeConn, err := cf.connect("queue list")
			if err != nil {
				return err
			}
			defer closeConn()
			fetch := func(after string) ([]patchbay.QueueInfo, string, error) {
				l, err := c.ListQueues(cmd.Context(), patchbay.ListOptions{Limit: f.limit, After: after})
				if err != nil {
					return nil, "", fmt.Errorf("list queues: %w", err)
				}
				return l.Queues, l.Next, nil
			}
			return listPages(cmd, &f, fetch, cols("QUEUE", "LENGTH", "LONGEST WAIT", "AVAILABLE", "IDLE"),
				func(q patchbay.QueueInfo) string {
					return cols(q.QueueID, strconv.Itoa(q.Length), seconds(q.LongestWaitSeconds), strconv.Itoa(q.AvailableWorkers), strconv.Itoa(q.IdleWorkers))
				})
		},
	}
	f.add(cmd.Flags(), "queues")
	return cmd
}

func newPolicyListCmd(cf *clientFlags) *cobra.Command {
	var f listFlags
	var kind string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the stored policies by kind, then id, with their revisions",
		Long: `List the stored routing policies, by kind then id, with their revision and when they
last changed; --json prints each with its spec. --kind keeps one kind (` + strings.Join(policyKinds(), ", ") + `).
--all follows the pages to the end.`,
		Example: `  patchbay policy list
  patchbay policy list --kind queue --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.check(); err != nil {
				return err
			}
			c, closeConn, err := cf.connect("policy list")
			if err != nil {
				return err
			}
			defer closeConn()
			fetch := func(after string) ([]patchbay.PolicyInfo, string, error) {
				l, err := c.ListPolicies(cmd.Context(), events.PolicyKind(kind), patchbay.ListOptions{Limit: f.limit, After: after})
				if err != nil {
					return nil, "", fmt.Errorf("list policies: %w", err)
				}
				return l.Policies, l.Next, nil
			}
			return listPages(cmd, &f, fetch, cols("KIND", "ID", "REVISION", "UPDATED"),
				func(p patchbay.PolicyInfo) string {
					return cols(string(p.Kind), p.ID, strconv.FormatUint(p.Revision, 10), p.UpdatedAt.UTC().Format(time.RFC3339))
				})
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "only policies of this kind")
	f.add(cmd.Flags(), "policies")
	return cmd
}

func policyKinds() []string {
	var out []string
	for _, k := range events.PolicyKinds() {
		out = append(out, string(k))
	}
	return out
}

func newPolicyGetCmd(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get KIND ID",
		Short: "Show a stored policy: its revision, when it changed, and its spec",
		Example: `  patchbay policy get queue support
  patchbay policy get distributionPolicy fast --json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeConn, err := cf.connect("policy get")
			if err != nil {
				return err
			}
			defer closeConn()
			p, err := c.GetPolicy(cmd.Context(), events.PolicyKind(args[0]), args[1])
			if err != nil {
				return fmt.Errorf("get policy %s %s: %w", args[0], args[1], err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), p)
			}
			return printPolicy(cmd.OutOrStdout(), p)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's answer as JSON")
	return cmd
}

// printPolicy prints a policy, one "name: value" line each, then its spec as indented
// JSON.
func printPolicy(w io.Writer, p *patchbay.PolicyInfo) error {
	var spec bytes.Buffer
	if err := json.Indent(&spec, p.Spec, "", "  "); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "kind:\t%s\n", p.Kind)
	fmt.Fprintf(tw, "id:\t%s\n", p.ID)
	fmt.Fprintf(tw, "revision:\t%d\n", p.Revision)
	fmt.Fprintf(tw, "updated:\t%s\n", p.UpdatedAt.UTC().Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "spec: %s\n", spec.String())
	return err
}
