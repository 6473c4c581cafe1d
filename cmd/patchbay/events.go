package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

func init() { clientCommands = append(clientCommands, newEventsCmd) }

// eventsFlags holds the flags of `events`.
type eventsFlags struct {
	json, fromStart           bool
	queues, workers, subjects []string
	jobs                      []string
	count                     int
}

func newEventsCmd() *cobra.Command {
	f := &eventsFlags{}
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "events [flags]",
		Short: "Tail the router's events, one line per event",
		Long: `Tail the router's outbound events (stream ` + events.StreamEvents + `): one line per event with
its time, type, subject and key fields, or with --json the CloudEvent itself, one
JSON object per line.

--queue, --worker, --job and --subject narrow the events; given together, an event
is shown when it matches any of them. --job J shows every event of job J, its offers
included; --queue Q shows the job events of queue Q;
--worker W shows the offer and worker events of worker W; --subject S takes a NATS
subject filter (the patchbay.events. prefix may be left out). Ctrl-C stops.`,
		Example: `  patchbay events
  patchbay events --from-start --queue support
  patchbay events --json --worker alice | jq .type
  patchbay events --subject 'job.*.*.closed'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			subjects, err := f.filter()
			if err != nil {
				return err
			}
			if f.count < 0 {
				return fmt.Errorf("--count %d: want 0 (no limit) or more", f.count)
			}
			c, closeConn, err := cf.connect("events")
			if err != nil {
				return err
			}
			defer closeConn()
			return tailEvents(cmd.Context(), c, patchbay.WatchOptions{Subjects: subjects, FromStart: f.fromStart}, f, cmd.OutOrStdout())
		},
	}
	cf = addClientFlags(cmd.Flags())
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print each event as its CloudEvent JSON, one per line")
	fl.BoolVar(&f.fromStart, "from-start", false, "replay the stored events first, then follow")
	fl.StringArrayVar(&f.queues, "queue", nil, "job events of this queue (repeatable)")
	fl.StringArrayVar(&f.workers, "worker", nil, "offer and worker events of this worker (repeatable)")
	fl.StringArrayVar(&f.jobs, "job", nil, "every event of this job, its offers included (repeatable)")
	fl.StringArrayVar(&f.subjects, "subject", nil, "events on this NATS subject filter, e.g. 'job.*.*.closed' (repeatable)")
	fl.IntVar(&f.count, "count", 0, "exit after this many events (0: follow until Ctrl-C)")
	return cmd
}

// filter returns the subject filters the flags ask for (none means every event).
func (f *eventsFlags) filter() ([]string, error) {
	var out []string
	for _, q := range f.queues {
		if err := checkIDFlag("queue", q); err != nil {
			return nil, err
		}
		out = append(out, events.JobQueueAll(q))
	}
	for _, j := range f.jobs {
		if err := checkIDFlag("job", j); err != nil {
			return nil, err
		}
		out = append(out, events.JobAll(j))
	}
	for _, w := range f.workers {
		if err := checkIDFlag("worker", w); err != nil {
			return nil, err
		}
		out = append(out, events.OfferWorkerAll(w), events.WorkerAll(w))
	}
	for _, s := range f.subjects {
		if s == "" || strings.ContainsAny(s, " \t\r\n") || strings.Contains(s, "..") ||
			strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
			return nil, fmt.Errorf("--subject %q: not a NATS subject filter", s)
		}
		if !strings.HasPrefix(s, events.SubjectEventsPrefix) {
			s = events.SubjectEventsPrefix + s
		}
		out = append(out, s)
	}
	return out, nil
}

// tailEvents prints events until ctx ends (a clean exit) or f.count were printed.
func tailEvents(ctx context.Context, c *patchbay.Client, opts patchbay.WatchOptions, f *eventsFlags, out io.Writer) error {
	w, err := c.Watch(ctx, opts)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("%w (has the router run against this NATS server?)", err)
		}
		return err
	}
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			w.Stop()
		case <-stopped:
		}
	}()
	defer w.Stop()
	for n := 0; f.count == 0 || n < f.count; n++ {
		ev, _, err := w.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch events: %w", err)
		}
		if f.json {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintln(out, formatEvent(ev)); err != nil {
			return err
		}
	}
	return nil
}

// formatEvent is one human-readable line: time, type without its prefix, CloudEvent
// subject (the job or worker id), and the fields that say what happened.
func formatEvent(ev patchbay.Event) string {
	t := events.Type(ev.Type())
	name := string(t)
	if strings.HasPrefix(name, events.TypePrefix) {
		name = t.Name()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-19s %s", ev.Time().Local().Format("15:04:05.000"), name, ev.Subject())
	kv := func(k string, v any) {
		if s := fmt.Sprint(v); s != "" && s != "0" {
			fmt.Fprintf(&b, " %s=%s", k, s)
		}
	}
	switch {
	case strings.HasPrefix(name, "job."):
		var j events.Job
		if ev.DataAs(&j) != nil {
			break
		}
		kv("queue", j.QueueID)
		kv("channel", j.ChannelID)
		kv("status", j.Status)
		kv("priority", j.Priority)
		if a := j.Assignment; a != nil {
			kv("worker", a.WorkerID)
			kv("assignment", a.AssignmentID)
		}
		if j.ScheduledCloseAt != nil {
			kv("closeAt", j.ScheduledCloseAt.Local().Format(time.RFC3339))
		}
		kv("disposition", j.DispositionCode)
		kv("note", quoteIfSpaced(j.CancelNote))
		if j.Reason != nil {
			kv("reason", j.Reason.Code)
			kv("message", quoteIfSpaced(j.Reason.Message))
		}
	case strings.HasPrefix(name, "offer."):
		var o events.Offer
		if ev.DataAs(&o) != nil {
			break
		}
		kv("offer", o.OfferID)
		kv("worker", o.WorkerID)
		kv("queue", o.QueueID)
		kv("channel", o.ChannelID)
		if t == events.TypeOfferIssued {
			kv("expires", o.ExpiresAt.Local().Format("15:04:05"))
		}
		kv("assignment", o.AssignmentID)
		kv("reason", o.Reason)
		if o.RetryOfferAt != nil {
			kv("retryAt", o.RetryOfferAt.Local().Format(time.RFC3339))
		}
	case strings.HasPrefix(name, "worker."):
		var w events.Worker
		if ev.DataAs(&w) != nil {
			break
		}
		kv("state", w.State)
		kv("queues", strings.Join(w.Queues, ","))
		fmt.Fprintf(&b, " load=%d/%d", w.UsedCapacity, w.TotalCapacity)
	case t == events.TypeCommandFailed:
		var f events.CommandFailure
		if ev.DataAs(&f) != nil {
			break
		}
		if ct := events.Type(f.CommandType); strings.HasPrefix(f.CommandType, events.TypePrefix) {
			kv("command", ct.Name())
		} else {
			kv("command", f.CommandType)
		}
		kv("id", f.CommandID)
		if f.Error != nil {
			kv("code", f.Error.Code)
			kv("field", f.Error.Field)
			kv("message", quoteIfSpaced(f.Error.Message))
		}
	}
	return b.String()
}

func quoteIfSpaced(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

func init() { jobSubcommands = append(jobSubcommands, newJobHistoryCmd) }

// newJobHistoryCmd is `job history JOB`: the job's whole life from the event stream.
func newJobHistoryCmd(cf *clientFlags) *cobra.Command {
	var asJSON, viaRouter bool
	var limit int
	cmd := &cobra.Command{
		Use:   "history JOB",
		Short: "Print every event of a job, its offers included, in order",
		Long: `Print a job's whole life from the event stream (` + events.StreamEvents + `): created,
classified, queued, each offer with its worker and outcome, assigned, completed,
closed. It reads the events stored on the job's subjects (` + events.JobAll("JOB") + `),
so it works after the router forgot the job, for as long as the stream keeps events
(serve --events-max-age). --limit caps the events (0: ` + fmt.Sprint(patchbay.HistoryLimitDefault) + `, at most ` + fmt.Sprint(patchbay.HistoryLimitMax) + `);
when more are stored, the oldest are printed and a note says so on stderr.
--via-router asks the router for them instead (the history query): for credentials
that may not read streams, such as a producer's from patchbay creds.`,
		Example: `  patchbay job history call-4711
  patchbay job history call-4711 --json | jq .type`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if err := checkIDFlag("job", id); err != nil {
				return err
			}
			c, closeConn, err := cf.connect("job history")
			if err != nil {
				return err
			}
			defer closeConn()
			read := c.JobHistory
			if viaRouter {
				read = c.QueryJobHistory
			}
			h, err := read(cmd.Context(), id, limit)
			if err != nil {
				return err
			}
			if len(h.Events) == 0 {
				return fmt.Errorf("no events of job %s are stored (unknown job, or older than the stream keeps)", id)
			}
			return printHistory(cmd.OutOrStdout(), cmd.ErrOrStderr(), h, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each event as its CloudEvent JSON, one per line")
	cmd.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("print at most this many events, the oldest (0: %d; at most %d)", patchbay.HistoryLimitDefault, patchbay.HistoryLimitMax))
	cmd.Flags().BoolVar(&viaRouter, "via-router", false, "ask the router (the history query) instead of reading the stream: for credentials without JetStream access")
	return cmd
}

// printHistory prints a job's events, one line each (or their JSON), and notes on
// errOut when the history was cut.
func printHistory(out, errOut io.Writer, h *patchbay.JobHistory, asJSON bool) error {
	for _, ev := range h.Events {
		line := formatEvent(ev)
		if asJSON {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			line = string(b)
		}
		if _, err := fmt.Fprintln(out, line); err != nil {
			return err
		}
	}
	if h.Truncated {
		_, err := fmt.Fprintf(errOut, "(the first %d events; more are stored: raise --limit)\n", len(h.Events))
		return err
	}
	return nil
}
