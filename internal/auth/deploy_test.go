package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/auth"
)

const deployAuthConf = "../../deploy/nats-cluster/auth.conf"

func deployOptions(t *testing.T) *server.Options {
	for _, v := range []string{"SYS", "ROUTER", "ADMIN", "PRODUCER_SHOP", "WORKER_W1"} {
		t.Setenv("PATCHBAY_"+v+"_PASSWORD", strings.ToLower(v)+"-secret")
	}
	opts, err := server.ProcessConfigFile(deployAuthConf)
	require.NoError(t, err)
	return opts
}

// The users of deploy/nats-cluster/auth.conf have exactly the permissions patchbay
// creds gives the same roles.
func TestDeployAuthConfMatchesRoles(t *testing.T) {
	opts := deployOptions(t)
	require.Equal(t, "SYS", opts.SystemAccount)
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	require.Len(t, users, 5)
	router := users["router"]
	require.NotNil(t, router)
	require.Equal(t, auth.AccountName, router.Account.Name)
	require.Nil(t, router.Permissions, "the router may do everything")
	for user, want := range map[string]auth.Permissions{
		"admin":         auth.PermissionsFor(auth.RoleAdmin, auth.AdminNameDefault),
		"producer-shop": auth.PermissionsFor(auth.RoleProducer, "shop"),
		"worker-w1":     auth.PermissionsFor(auth.RoleWorker, "w1"),
	} {
		u := users[user]
		require.NotNil(t, u, user)
		require.Equal(t, auth.AccountName, u.Account.Name, user)
		require.ElementsMatch(t, want.Pub, u.Permissions.Publish.Allow, user)
		require.Empty(t, u.Permissions.Publish.Deny, user)
		require.ElementsMatch(t, want.Sub, u.Permissions.Subscribe.Allow, user)
		require.Empty(t, u.Permissions.Subscribe.Deny, user)
	}
}

// A server run from the file refuses strangers and keeps worker w1 to its subjects.
func TestDeployAuthConfEnforced(t *testing.T) {
	opts := deployOptions(t)
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.JetStream, opts.StoreDir = true, t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	ns, err := server.NewServer(opts)
	require.NoError(t, err)
	go ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	require.True(t, ns.ReadyForConnections(30*time.Second))

	_, err = nats.Connect(ns.ClientURL())
	require.ErrorIs(t, err, nats.ErrAuthorization)

	errs := make(chan error, 10)
	nc, err := nats.Connect(ns.ClientURL(), nats.UserInfo("worker-w1", "worker_w1-secret"),
		nats.CustomInboxPrefix(patchbay.WorkerInboxPrefix("w1")),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.SubscribeSync(events.OfferWorkerAll("w1"))
	require.NoError(t, err)
	_, err = nc.SubscribeSync(events.OfferWorkerAll("w2"))
	require.NoError(t, err)
	require.NoError(t, nc.Publish(events.JobSubject("q", "j", events.TypeJobClosed), nil))
	for _, want := range []string{`subscription to "patchbay.events.offer.w2.>"`, `publish to "patchbay.events.job.q.j.closed"`} {
		select {
		case err := <-errs:
			require.True(t, errors.Is(err, nats.ErrPermissionViolation), "%v", err)
			require.Contains(t, strings.ToLower(err.Error()), want)
		case <-time.After(30 * time.Second):
			t.Fatalf("no permissions violation for %s", want)
		}
	}
}
