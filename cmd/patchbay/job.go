package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

func init() { clientCommands = append(clientCommands, newJobCmd) }

func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Create, look up, cancel, complete and close jobs",
		Args:  cobra.NoArgs,
	}
	cf := addClientFlags(cmd.PersistentFlags())
	cmd.AddCommand(newJobCreateCmd(cf), newJobCancelCmd(cf), newJobCompleteCmd(cf), newJobCloseCmd(cf))
	for _, add := range jobSubcommands {
		cmd.AddCommand(add(cf))
	}
	return cmd
}

// jobSubcommands are more `job` subcommands, defined in other files, that register
// here from an init function; each gets the job command's client flags.
var jobSubcommands []func(*clientFlags) *cobra.Command

// jobCreateFlags holds the flags of `job create`.
type jobCreateFlags struct {
	queue, channel, id, channelRef, notes string
	workflow, classification, scheduleAt  string
	ttl                                   time.Duration
	priority                              int
	labels, tags, selectors               []string
	json, quiet, suspend                  bool
}

func newJobCreateCmd(cf *clientFlags) *cobra.Command {
	f := &jobCreateFlags{}
	cmd := &cobra.Command{
		Use:   "create (--queue Q | --workflow W | --classification-policy P) --channel C [flags]",
		Short: "Create a job and print its id and status",
		Long: `Create a job in a queue. The router offers it to the best eligible worker.

Label and tag values that read as numbers or true/false are sent as numbers and
booleans; anything else, or a value in double quotes (tier="5"), is a string.

A worker selector is "key operator value". The operator is one of
` + strings.Join(events.Operators(), ", ") + `,
or the shorthands ==, !=, <, <=, >, >=. A selector needs spaces around the operator
unless it is a shorthand (skill>=5 works too). Every selector must hold for a worker
to be offered the job; the key "id" tests the worker id.

Instead of a queue, a job may name a workflow (--workflow) or a classification policy
(--classification-policy), which choose its queue. --ttl cancels it if it waits
longer; --schedule-at keeps it out of its queue until then (an RFC 3339 time or
+duration); --suspend creates it suspended ('patchbay job resume' queues it).`,
		Example: `  patchbay job create --queue support --channel voice
  patchbay job create --queue support --channel voice --id call-4711 --priority 10 \
      --label language=en --label vip=true --selector "skill >= 5" --selector "language == en"
  patchbay job create --workflow triage --channel chat --ttl 10m
  patchbay job create --queue callbacks --channel voice --schedule-at +2h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := f.spec()
			if err != nil {
				return err
			}
			c, closeConn, err := cf.connect("job create")
			if err != nil {
				return err
			}
			defer closeConn()
			var opts []patchbay.CallOption
			if f.id != "" {
				// The job id doubles as the command id, so creating it again after a
				// timeout is answered as a duplicate instead of job_exists.
				opts = append(opts, patchbay.WithID(f.id))
			}
			res, err := c.CreateJob(cmd.Context(), spec, opts...)
			if err != nil {
				return fmt.Errorf("create job: %w", err)
			}
			out := cmd.OutOrStdout()
			switch {
			case f.json:
				return printJSON(out, res)
			case f.quiet:
				fmt.Fprintln(out, res.JobID)
			case res.Duplicate:
				fmt.Fprintf(out, "job %s already exists (%s)\n", res.JobID, res.Status)
			default:
				fmt.Fprintf(out, "created job %s (%s)\n", res.JobID, res.Status)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.queue, "queue", "", "queue the job waits in (required)")
	fl.StringVar(&f.channel, "channel", "", "channel the job arrives on, e.g. voice or chat (required)")
	fl.StringVar(&f.id, "id", "", "job id (default: a fresh one); creating the same id again is answered as a duplicate")
	fl.IntVar(&f.priority, "priority", 0, "priority from -100 to 100; higher is dispatched first")
	fl.StringArrayVar(&f.labels, "label", nil, "routing label key=value; a JSON array or object value nests: skills=[\"support\"] (repeatable)")
	fl.StringArrayVar(&f.tags, "tag", nil, "free-form tag key=value, stored and echoed, never routed on (repeatable)")
	fl.StringArrayVar(&f.selectors, "selector", nil, `worker selector "key operator value", e.g. "skill >= 5" (repeatable)`)
	fl.StringVar(&f.channelRef, "channel-reference", "", "your reference for the interaction, e.g. a call id")
	fl.StringVar(&f.notes, "notes", "", "free text for the worker who takes the job")
	fl.BoolVar(&f.json, "json", false, "print the router's reply as JSON")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the job id")
	fl.StringVar(&f.workflow, "workflow", "", "workflow that chooses the job's queue (instead of --queue)")
	fl.StringVar(&f.classification, "classification-policy", "", "classification policy that chooses the job's queue, priority and selectors (instead of --queue)")
	fl.DurationVar(&f.ttl, "ttl", 0, "cancel the job if it is still waiting after this long (at most a week)")
	fl.StringVar(&f.scheduleAt, "schedule-at", "", "keep the job out of its queue until then: an RFC 3339 time or +duration")
	fl.BoolVar(&f.suspend, "suspend", false, "create the job suspended")
	_ = cmd.MarkFlagRequired("channel")
	cmd.MarkFlagsOneRequired("queue", "workflow", "classification-policy")
	cmd.MarkFlagsMutuallyExclusive("queue", "workflow", "classification-policy")
	cmd.MarkFlagsMutuallyExclusive("schedule-at", "suspend")
	cmd.MarkFlagsMutuallyExclusive("json", "quiet")
	return cmd
}

// spec turns the flags into a job, reporting the first flag that is wrong.
func (f *jobCreateFlags) spec() (patchbay.JobSpec, error) {
	spec := patchbay.JobSpec{
		JobID: f.id, QueueID: f.queue, WorkflowID: f.workflow, ClassificationPolicyID: f.classification,
		ChannelID: f.channel, ChannelReference: f.channelRef, Priority: f.priority, Notes: f.notes,
	}
	for _, id := range []struct{ flag, v string }{{"queue", f.queue}, {"workflow", f.workflow}, {"classification-policy", f.classification}} {
		if id.v != "" {
			if err := checkIDFlag(id.flag, id.v); err != nil {
				return spec, err
			}
		}
	}
	if f.ttl < 0 || f.ttl > events.MaxDurationSeconds*time.Second {
		return spec, fmt.Errorf("--ttl %s: want a positive duration of at most a week", f.ttl)
	}
	spec.TimeToLiveSeconds = f.ttl.Seconds()
	at, err := parseAt("schedule-at", f.scheduleAt, time.Now())
	if err != nil {
		return spec, err
	}
	switch {
	case at != nil:
		spec.MatchingMode = &events.MatchingMode{Kind: events.MatchScheduleAndSuspend, ScheduleAt: at}
	case f.suspend:
		spec.MatchingMode = &events.MatchingMode{Kind: events.MatchSuspend}
	}
	if err := checkIDFlag("channel", f.channel); err != nil {
		return spec, err
	}
	if f.id != "" {
		if err := checkIDFlag("id", f.id); err != nil {
			return spec, err
		}
	}
	if f.priority < -100 || f.priority > 100 {
		return spec, fmt.Errorf("--priority %d: want -100 to 100", f.priority)
	}
	labels, err := parseKeyValues("label", f.labels)
	if err != nil {
		return spec, err
	}
	spec.Labels = labels
	if spec.Tags, err = parseKeyValues("tag", f.tags); err != nil {
		return spec, err
	}
	for _, s := range f.selectors {
		sel, err := parseSelector(s)
		if err != nil {
			return spec, err
		}
		spec.WorkerSelectors = append(spec.WorkerSelectors, sel)
	}
	return spec, nil
}

// operatorShorthands maps the symbolic operators to the catalog's names, longest
// first so that "<=" is found before "<" in a selector without spaces.
var operatorShorthands = []struct{ sym, op string }{
	{"==", events.OpEqual},
	{"!=", events.OpNotEqual},
	{"<=", events.OpLessThanOrEqual},
	{">=", events.OpGreaterThanOrEqual},
	{"<", events.OpLessThan},
	{">", events.OpGreaterThan},
}

// parseOperator returns the catalog name of an operator given by name (any case) or
// by shorthand.
func parseOperator(s string) (string, bool) {
	for _, sh := range operatorShorthands {
		if s == sh.sym {
			return sh.op, true
		}
	}
	for _, op := range events.Operators() {
		if strings.EqualFold(s, op) {
			return op, true
		}
	}
	return "", false
}

// parseSelector reads "key operator value" (the value may contain spaces), or
// "key<shorthand>value" without spaces such as "skill>=5".
func parseSelector(s string) (patchbay.WorkerSelector, error) {
	bad := func(format string, args ...any) (patchbay.WorkerSelector, error) {
		return patchbay.WorkerSelector{}, fmt.Errorf("--selector %q: %s", s, fmt.Sprintf(format, args...))
	}
	const want = `want "key operator value", e.g. "skill >= 5"`
	fields := strings.Fields(s)
	var key, opText, value string
	if len(fields) >= 2 {
		if _, ok := parseOperator(fields[1]); ok {
			key, opText = fields[0], fields[1]
			rest := strings.TrimSpace(s)
			rest = strings.TrimSpace(rest[len(key):])
			value = rest[len(opText):]
		}
	}
	if opText == "" {
		key, opText, value = splitShorthand(s)
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	switch {
	case len(fields) > 0 && opText == "" && isOperator(fields[0]):
		return bad("no key before the operator %q", fields[0])
	case opText == "" && len(fields) >= 2:
		return bad("unknown operator %q (want one of %s, or ==, !=, <, <=, >, >=)", fields[1], strings.Join(events.Operators(), ", "))
	case opText == "" || key == "":
		return bad(want)
	case value == "":
		return bad("no value after the operator %q", opText)
	}
	op, _ := parseOperator(opText)
	return patchbay.WorkerSelector{Key: key, Operator: op, Value: parseValue(value)}, nil
}

func isOperator(s string) bool {
	_, ok := parseOperator(s)
	return ok
}

// splitShorthand splits s at its first symbolic operator ("skill>=5").
func splitShorthand(s string) (key, sym, value string) {
	for i := 1; i < len(s); i++ {
		for _, sh := range operatorShorthands {
			if strings.HasPrefix(s[i:], sh.sym) {
				return s[:i], sh.sym, s[i+len(sh.sym):]
			}
		}
	}
	return "", "", ""
}

func newJobCancelCmd(cf *clientFlags) *cobra.Command {
	var disposition, note string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "cancel JOB",
		Short:   "Cancel a queued or assigned job (its offers are revoked)",
		Example: `  patchbay job cancel call-4711 --disposition Abandoned --note "caller hung up"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeConn, err := cf.connect("job cancel")
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.Request(cmd.Context(), events.TypeJobCancel, "", args[0],
				events.JobCancel{JobID: args[0], DispositionCode: disposition, Note: note})
			if err != nil {
				return fmt.Errorf("cancel job %s: %w", args[0], err)
			}
			return printJobResult(cmd.OutOrStdout(), asJSON, res, "cancelled")
		},
	}
	cmd.Flags().StringVar(&disposition, "disposition", "", "disposition code recorded on the job")
	cmd.Flags().StringVar(&note, "note", "", "why the job was cancelled")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's reply as JSON")
	return cmd
}

func newJobCompleteCmd(cf *clientFlags) *cobra.Command {
	var note string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "complete JOB ASSIGNMENT",
		Short: "Mark an assigned job completed (the worker keeps its capacity until the close)",
		Example: `  patchbay job complete call-4711 4Hx0v1K9c2Qk7wLmNpRs3T
  (the assignment id is in the job.assigned event and the offer.accepted event)`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeConn, err := cf.connect("job complete")
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.Request(cmd.Context(), events.TypeJobComplete, "", args[0],
				events.JobComplete{JobID: args[0], AssignmentID: args[1], Note: note})
			if err != nil {
				return fmt.Errorf("complete job %s: %w", args[0], err)
			}
			return printJobResult(cmd.OutOrStdout(), asJSON, res, "completed")
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "note recorded on the job")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's reply as JSON")
	return cmd
}

func newJobCloseCmd(cf *clientFlags) *cobra.Command {
	var disposition, note, closeAt string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "close JOB ASSIGNMENT",
		Short: "Close a completed job and release the worker's capacity (now or at --close-at)",
		Example: `  patchbay job close call-4711 4Hx0v1K9c2Qk7wLmNpRs3T --disposition Resolved
  patchbay job close call-4711 4Hx0v1K9c2Qk7wLmNpRs3T --close-at +30s
  patchbay job close call-4711 4Hx0v1K9c2Qk7wLmNpRs3T --close-at 2030-01-02T15:04:05Z`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			at, err := parseCloseAt(closeAt, time.Now())
			if err != nil {
				return err
			}
			c, closeConn, err := cf.connect("job close")
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.Request(cmd.Context(), events.TypeJobClose, "", args[0], events.JobClose{
				JobID: args[0], AssignmentID: args[1], DispositionCode: disposition, CloseAt: at, Note: note,
			})
			if err != nil {
				return fmt.Errorf("close job %s: %w", args[0], err)
			}
			if !asJSON && at != nil && res.Status != "closed" {
				fmt.Fprintf(cmd.OutOrStdout(), "job %s closes at %s (%s until then)\n", res.JobID, at.Format(time.RFC3339), res.Status)
				return nil
			}
			return printJobResult(cmd.OutOrStdout(), asJSON, res, "closed")
		},
	}
	cmd.Flags().StringVar(&disposition, "disposition", "", "disposition code, e.g. Resolved")
	cmd.Flags().StringVar(&closeAt, "close-at", "", "close later: an RFC 3339 time or +duration (e.g. +30s) for wrap-up")
	cmd.Flags().StringVar(&note, "note", "", "note recorded on the job")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's reply as JSON")
	return cmd
}

// parseCloseAt reads --close-at: empty (close now), +duration from now, or an RFC
// 3339 time.
func parseCloseAt(s string, now time.Time) (*time.Time, error) { return parseAt("close-at", s, now) }

// parseAt reads a time flag: empty (none), +duration from now, or an RFC 3339 time.
func parseAt(flag, s string, now time.Time) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if d, ok := strings.CutPrefix(s, "+"); ok {
		dur, err := time.ParseDuration(d)
		if err != nil || dur < 0 {
			return nil, fmt.Errorf("--%s %q: want +duration such as +30s or +5m", flag, s)
		}
		at := now.Add(dur)
		return &at, nil
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: want an RFC 3339 time (2030-01-02T15:04:05Z) or +duration (+30s)", flag, s)
	}
	return &at, nil
}

// printJobResult prints a job command's reply: as JSON, or as one line.
func printJobResult(w io.Writer, asJSON bool, res *patchbay.Result, verb string) error {
	if asJSON {
		return printJSON(w, res)
	}
	if res.Duplicate {
		fmt.Fprintf(w, "job %s was already %s (%s)\n", res.JobID, verb, res.Status)
		return nil
	}
	fmt.Fprintf(w, "job %s %s\n", res.JobID, res.Status)
	return nil
}

func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
