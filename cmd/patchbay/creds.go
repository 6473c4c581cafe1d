package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay/internal/auth"
	"github.com/patchbay/patchbay/internal/natsserver"
)

// embeddedAuth loads (on first start: makes) the keys under <dir>/auth and returns
// the operator mode the embedded server runs in and the connection option of the
// router's own user, which may do everything.
func embeddedAuth(dir string) (*natsserver.OperatorMode, nats.Option, error) {
	keys, err := auth.LoadOrCreate(filepath.Join(dir, auth.DirName))
	if err != nil {
		return nil, nil, fmt.Errorf("--auth: %w", err)
	}
	j, seed, err := keys.User(auth.RoleRouter, "", 0)
	if err != nil {
		return nil, nil, fmt.Errorf("--auth: %w", err)
	}
	return keys.ServerMode(), nats.UserJWTAndSeed(j, string(seed)), nil
}

func newCredsCmd() *cobra.Command {
	var dataDir string
	var expiry time.Duration
	cmd := &cobra.Command{
		Use:   "creds ROLE [NAME] --data-dir DIR",
		Short: "Print NATS credentials for a router, admin, producer or worker of a `serve --auth` server",
		Long: `Print a NATS credentials file (user JWT and seed) signed by the patchbay account of
--data-dir, which ` + "`patchbay serve --auth`" + ` made on its first start. Each role may use only
the subjects it needs (README, Security):

  router            everything
  admin [NAME]      every command and query, reading events (its inbox _INBOX.a.NAME)
  producer NAME     create, cancel and update jobs, query jobs and queues, job events
                    (its inbox _INBOX.p.NAME)
  worker ID         its own commands and heartbeats, its own offers and worker events
                    (its inbox _INBOX.w.ID)

A client connected with admin, producer or worker credentials must make its request
inboxes under its prefix (Go: nats.CustomInboxPrefix(patchbay.WorkerInboxPrefix(id)));
the client commands do so by themselves when given the file with --nats-creds.
The file holds a secret: store it like a password.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 2 {
				name = args[1]
			}
			role, name, err := auth.ParseRole(args[0], name)
			if err != nil {
				return err
			}
			if expiry < 0 {
				return fmt.Errorf("--expiry %s: must not be negative", expiry)
			}
			dir, err := filepath.Abs(dataDir)
			if err != nil {
				return err
			}
			keys, err := auth.Load(filepath.Join(dir, auth.DirName))
			if err != nil {
				return fmt.Errorf("--data-dir: %w", err)
			}
			creds, err := keys.Creds(role, name, expiry)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(creds)
			return err
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "./data", "data directory of the `patchbay serve --auth` whose account signs the credentials")
	cmd.Flags().DurationVar(&expiry, "expiry", 0, "how long the credentials are valid (0: until the account key changes)")
	return cmd
}

// inboxOption is the inbox prefix a client command uses: --inbox-prefix, else the
// prefix the --nats-creds file's permissions require (patchbay creds), else none.
func (c *clientFlags) inboxOption() string {
	if c.inboxPrefix != "" || c.auth.creds == "" {
		return c.inboxPrefix
	}
	b, err := os.ReadFile(c.auth.creds)
	if err != nil {
		return "" // options() has reported it
	}
	return auth.InboxPrefixOfCreds(b)
}
