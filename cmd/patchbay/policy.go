package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/policyfile"
)

func init() { clientCommands = append(clientCommands, newPolicyCmd) }

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Apply, delete, list and show routing policies (queues, distribution, exception and classification policies, workflows, activities)",
		Args:  cobra.NoArgs,
	}
	cf := addClientFlags(cmd.PersistentFlags())
	cmd.AddCommand(newPolicyApplyCmd(cf), newPolicyDeleteCmd(cf), newPolicyListCmd(cf), newPolicyGetCmd(cf))
	return cmd
}

func newPolicyApplyCmd(cf *clientFlags) *cobra.Command {
	var prune, dryRun bool
	var queueMap, workflowID string
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Apply the policies a YAML or JSON file declares, all or nothing",
		Long: `Apply the policies a file declares, as a whole: the router validates the whole file
against its state (every spec, the references between policies, policies still in
use) and applies all of it or nothing, naming every problem. The file lists each kind
under its own key (` + fmt.Sprint(policyfile.Sections()) + `), each policy with its id and
its fields:

  distributionPolicies:
    - id: fast
      offerExpiresAfterSeconds: 10
      mode: {kind: roundRobin, maxConcurrentOffers: 2}
  queues:
    - id: support
      distributionPolicyId: fast
      order: lifo

Unchanged policies are left as they are. With --prune, the policies the file no
longer declares are deleted (the file is then the whole configuration); without it
they stay. --dry-run validates and prints what would change, changing nothing.

A TaskRouter workflow configuration ({"task_routing": {...}}) is accepted as is: as
the whole FILE (name it with --workflow-id), or in a policy file as a workflow's
taskRouter field. Its queues are TaskRouter queue SIDs or names: map them to patchbay
queue ids with the file's taskRouterQueues section or --queue-map (a value that is a
patchbay queue id and not a SID is taken as is). A field patchbay cannot translate
exactly is refused with its JSON path (see docs/migrating.md).

A file is one command: at most 256 policies changed (pruned ones included) and
64 KiB. 'patchbay serve --policies FILE' applies a file the same way at start and
whenever it changes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := policyfile.Options{WorkflowID: workflowID}
			if queueMap != "" {
				m, err := policyfile.ReadQueueMap(queueMap)
				if err != nil {
					return fmt.Errorf("--queue-map: %w", err)
				}
				opts.QueueMap = m
			}
			f, err := policyfile.Read(args[0], opts)
			if err != nil {
				return err
			}
			c, closeConn, err := cf.connect("policy apply")
			if err != nil {
				return err
			}
			defer closeConn()
			return applyPolicies(cmd.Context(), c, f, prune, dryRun, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&prune, "prune", false, "delete the policies the file does not declare")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate the file against the router's state and print what would change, changing nothing")
	cmd.Flags().StringVar(&queueMap, "queue-map", "", "YAML or JSON file mapping TaskRouter queue SIDs or names to patchbay queue ids")
	cmd.Flags().StringVar(&workflowID, "workflow-id", "", "the workflow id of a FILE that is a TaskRouter workflow configuration")
	return cmd
}

// applyPolicies sends the file as one policy.apply and prints what happened to each
// policy and a summary; a refusal is returned with every problem, each placed in the
// file.
func applyPolicies(ctx context.Context, c *patchbay.Client, f *policyfile.File, prune, dryRun bool, out io.Writer) error {
	what := fmt.Sprintf("%d policies as a whole", len(f.Puts))
	if prune {
		what += ", pruning the others"
	}
	if dryRun {
		what += " (dry run)"
	}
	fmt.Fprintf(out, "%s: applying %s\n", f.Name, what)
	res, err := c.ApplyPolicies(ctx, f.Name, f.Apply(prune, dryRun))
	if err != nil {
		return policyRefusal(f, err)
	}
	counts := map[string]int{}
	for _, p := range res.Policies {
		counts[p.Action]++
		var line string
		switch p.Action {
		case events.PolicyUnchanged:
			line = fmt.Sprintf("unchanged at revision %d", p.Revision)
		case events.PolicyDeleted:
			line = fmt.Sprintf("deleted at revision %d", p.Revision)
		default:
			line = fmt.Sprintf("%s, revision %d", p.Action, p.Revision)
		}
		if res.DryRun {
			line = "would be " + line
		}
		fmt.Fprintf(out, "%s %s: %s\n", p.Kind, p.ID, line)
	}
	summary := fmt.Sprintf("%d created, %d updated, %d unchanged, %d deleted", counts[events.PolicyCreated],
		counts[events.PolicyUpdated], counts[events.PolicyUnchanged], counts[events.PolicyDeleted])
	if res.DryRun {
		fmt.Fprintf(out, "dry run, nothing changed: %s\n", summary)
	} else {
		fmt.Fprintf(out, "applied: %s\n", summary)
	}
	return nil
}

// policyRefusal lists every problem of a refused apply, each placed in the file.
func policyRefusal(f *policyfile.File, err error) error {
	var pe *patchbay.Error
	if !errors.As(err, &pe) || len(pe.Problems) == 0 {
		return err
	}
	var b strings.Builder
	n := len(pe.Problems)
	fmt.Fprintf(&b, "%s: refused, nothing changed (%d problem", f.Name, n)
	if n > 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range pe.Problems {
		fmt.Fprintf(&b, "\n  %s [%s]", problemLine(f, p), p.Code)
	}
	if i := strings.LastIndex(pe.Message, "; and "); i >= 0 && strings.HasSuffix(pe.Message, " more") {
		fmt.Fprintf(&b, "\n  (%s)", pe.Message[i+2:]) // the problems past the ones listed
	}
	return &refusalError{msg: b.String(), err: pe}
}

// problemLine is one problem of a refused apply: its place in the file, then what is
// wrong, without the place in the command the router's message starts with.
func problemLine(f *policyfile.File, p *patchbay.Error) string {
	if !strings.HasPrefix(p.Field, "puts/") {
		return p.Message // prune and the command as a whole: the message names the policy
	}
	msg := p.Message
	if rest, ok := strings.CutPrefix(msg, p.Field+": "); ok {
		msg = rest // the schema's: "puts/1/spec/order: must be …"
	} else if i := strings.Index(msg, "): "); i >= 0 && strings.HasPrefix(msg, "puts/") {
		msg = msg[i+3:] // the engine's: "puts/1 (queue \"q\"): spec/order …"
	}
	_, rest, _ := strings.Cut(strings.TrimPrefix(p.Field, "puts/"), "/")
	if rest != "" {
		msg = strings.TrimPrefix(strings.TrimPrefix(msg, rest+": "), rest+" ")
	}
	return f.Locate(p.Field) + ": " + msg
}

// refusalError prints the listed problems and matches the router's error.
type refusalError struct {
	msg string
	err *patchbay.Error
}

func (e *refusalError) Error() string { return e.msg }
func (e *refusalError) Unwrap() error { return e.err }

func newPolicyDeleteCmd(cf *clientFlags) *cobra.Command {
	var revision int64
	cmd := &cobra.Command{
		Use:   "delete KIND ID",
		Short: "Delete a policy (KIND: queue, distributionPolicy, workflow, exceptionPolicy, classificationPolicy or activity)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeConn, err := cf.connect("policy delete")
			if err != nil {
				return err
			}
			defer closeConn()
			var rev *uint64
			if revision >= 0 {
				r := uint64(revision)
				rev = &r
			}
			res, err := c.DeletePolicy(cmd.Context(), events.PolicyKind(args[0]), args[1], rev)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: deleted at revision %d\n", args[0], args[1], res.Revision)
			return nil
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", -1, "delete only if the policy is at this revision")
	return cmd
}

// watchPolicies applies the policy file as a whole now and whenever it changes,
// logging what changed; a file that does not parse, or that the router refuses, is
// logged with every problem and changes nothing: the router goes on with what it has.
func watchPolicies(ctx context.Context, nc *nats.Conn, path string, opts policyfile.Options, prune bool, log zerolog.Logger) error {
	c, err := patchbay.New(nc, patchbay.WithSource("/patchbay/policyfile"))
	if err != nil {
		return err
	}
	apply := func(f *policyfile.File) {
		res, err := c.ApplyPolicies(ctx, f.Name, f.Apply(prune, false))
		var pe *patchbay.Error
		switch {
		case errors.As(err, &pe):
			log.Error().Err(policyRefusal(f, err)).Str("file", path).Msg("policy file refused; nothing changed")
			return
		case err != nil:
			log.Error().Err(err).Str("file", path).Msg("policy file not applied")
			return
		}
		for _, p := range res.Policies {
			if p.Action != events.PolicyUnchanged {
				log.Info().Str("file", path).Str("kind", string(p.Kind)).Str("id", p.ID).Str("action", p.Action).Uint64("revision", p.Revision).Msg("policy applied")
			}
		}
	}
	onError := func(err error) { log.Error().Err(err).Msg("policy file") }
	return policyfile.Watch(ctx, path, opts, apply, onError)
}
