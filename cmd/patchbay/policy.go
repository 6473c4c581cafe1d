package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

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
	return &cobra.Command{
		Use:   "apply FILE",
		Short: "Create or replace the policies a YAML or JSON file declares",
		Long: `Create or replace the policies a file declares. The file lists each kind under its
own key (` + fmt.Sprint(policyfile.Sections()) + `), each policy with its id and its fields:

  distributionPolicies:
    - id: fast
      offerExpiresAfterSeconds: 10
      mode: {kind: roundRobin, maxConcurrentOffers: 2}
  queues:
    - id: support
      distributionPolicyId: fast
      order: lifo

Unchanged policies are left as they are. 'patchbay serve --policies FILE' applies a
file at start and whenever it changes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			puts, err := policyfile.Read(args[0])
			if err != nil {
				return err
			}
			c, closeConn, err := cf.connect("policy apply")
			if err != nil {
				return err
			}
			defer closeConn()
			return applyPolicies(cmd.Context(), c, puts, cmd.OutOrStdout())
		},
	}
}

// applyPolicies puts each policy and reports what happened; it returns an error
// naming every refused one.
func applyPolicies(ctx context.Context, c *patchbay.Client, puts []events.PolicyPut, out io.Writer) error {
	var errs []error
	for _, p := range puts {
		res, err := c.Request(ctx, events.TypePolicyPut, "", string(p.Kind)+"."+p.ID, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", p.Kind, p.ID, err))
			continue
		}
		what := "revision " + strconv.FormatUint(res.Revision, 10)
		if res.Duplicate {
			what = "unchanged at " + what
		}
		fmt.Fprintf(out, "%s %s: %s\n", p.Kind, p.ID, what)
	}
	return errors.Join(errs...)
}

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

// watchPolicies applies the policy file now and whenever it changes, logging what
// each put did; a file that does not parse, or a refused policy, is logged and the
// router goes on with what it has.
func watchPolicies(ctx context.Context, nc *nats.Conn, path string, log zerolog.Logger) error {
	c, err := patchbay.New(nc, patchbay.WithSource("/patchbay/policyfile"))
	if err != nil {
		return err
	}
	apply := func(puts []events.PolicyPut) {
		for _, p := range puts {
			res, err := c.Request(ctx, events.TypePolicyPut, "", string(p.Kind)+"."+p.ID, p)
			switch {
			case err != nil:
				log.Error().Err(err).Str("file", path).Str("kind", string(p.Kind)).Str("id", p.ID).Msg("policy refused")
			case !res.Duplicate:
				log.Info().Str("file", path).Str("kind", string(p.Kind)).Str("id", p.ID).Uint64("revision", res.Revision).Msg("policy applied")
			}
		}
	}
	onError := func(err error) { log.Error().Err(err).Msg("policy file") }
	return policyfile.Watch(ctx, path, apply, onError)
}
