// Command patchbay is the patchbay job router and its command-line client.
//
//	patchbay serve                 run the router (embeds a NATS server by default)
//	patchbay job create|get ...    create a job, see where it stands
//	patchbay job explain JOB       why a job is, or is not, offered to each worker
//	patchbay job|worker|queue|policy list   list what the router holds, a page at a time
//	patchbay worker run ...        run a demo worker
//	patchbay queue stats QUEUE     a queue's length and estimated waits
//	patchbay policy apply FILE     apply routing policies
//	patchbay events                tail every event
//	patchbay bench                 measure the full lifecycle on an embedded server
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "patchbay:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "patchbay",
		Short: "patchbay routes jobs to the best worker over NATS JetStream",
		Long: `patchbay is a self-hosted job router. Producers publish a job; patchbay offers it
to the best eligible worker; the worker accepts or declines; the job is assigned,
completed and closed. Every step is a CloudEvent on NATS JetStream.

Run the router with 'patchbay serve', then use the client commands against it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.Version = buildVersion()
	root.SetVersionTemplate("patchbay {{.Version}}\n")
	root.AddCommand(newServeCmd(), newVersionCmd())
	root.AddCommand(newCredsCmd())
	for _, add := range clientCommands {
		root.AddCommand(add())
	}
	return root
}

// clientCommands are the subcommands that talk to a running router; each file that
// defines one registers it here from an init function.
var clientCommands []func() *cobra.Command
