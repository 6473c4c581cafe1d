package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

func init() {
	jobSubcommands = append(jobSubcommands, newJobSuspendCmd, newJobResumeCmd, newJobUnassignCmd)
}

func newJobSuspendCmd(cf *clientFlags) *cobra.Command {
	return newJobUpdateModeCmd(cf, "suspend", events.MatchSuspend,
		"Suspend a queued job: it leaves its queue and its offers are revoked",
		`  patchbay job suspend callback-311`)
}

func newJobResumeCmd(cf *clientFlags) *cobra.Command {
	return newJobUpdateModeCmd(cf, "resume", events.MatchQueueAndMatch,
		"Put a suspended or waiting-for-activation job back in its queue",
		`  patchbay job resume callback-311`)
}

// newJobUpdateModeCmd sends io.patchbay.job.update with the given matching mode.
func newJobUpdateModeCmd(cf *clientFlags, verb, kind, short, example string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     verb + " JOB",
		Short:   short,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeConn, err := cf.connect("job " + verb)
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.UpdateJob(cmd.Context(), args[0], patchbay.MatchingMode{Kind: kind})
			if err != nil {
				return fmt.Errorf("%s job %s: %w", verb, args[0], err)
			}
			return printJobResult(cmd.OutOrStdout(), asJSON, res, "updated")
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's reply as JSON")
	return cmd
}

func newJobUnassignCmd(cf *clientFlags) *cobra.Command {
	var suspend, asJSON bool
	cmd := &cobra.Command{
		Use:     "unassign JOB ASSIGNMENT",
		Short:   "Send an assigned job back to its queue, releasing the worker's capacity (at most 3 times per job)",
		Example: `  patchbay job unassign call-4711 Asg2b3c4d5e6f7g8h9i0j1k --suspend`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeConn, err := cf.connect("job unassign")
			if err != nil {
				return err
			}
			defer closeConn()
			res, err := c.UnassignJob(cmd.Context(), args[0], args[1], suspend)
			if err != nil {
				return fmt.Errorf("unassign job %s: %w", args[0], err)
			}
			return printJobResult(cmd.OutOrStdout(), asJSON, res, "unassigned")
		},
	}
	cmd.Flags().BoolVar(&suspend, "suspend", false, "suspend the job instead of queueing it again")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the router's reply as JSON")
	return cmd
}
