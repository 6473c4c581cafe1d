package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natsserver"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// authEnv is an embedded server started as `serve --auth` starts it, on a temp data
// directory, with a router connected as the router user serve issues itself.
type authEnv struct {
	t       *testing.T
	dataDir string
	url     string
	router  *router.Router
}

func startAuthServer(t *testing.T) *authEnv {
	t.Helper()
	dir := t.TempDir()
	mode, routerUser, err := embeddedAuth(dir)
	require.NoError(t, err)
	ns, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: dir, Operator: mode})
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL(), routerUser)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	r := natstest.StartRouter(t, nc, router.Config{})
	return &authEnv{t: t, dataDir: dir, url: ns.ClientURL(), router: r}
}

// creds runs `patchbay creds args... --data-dir` and stores the output in a file.
func (e *authEnv) creds(args ...string) string {
	e.t.Helper()
	var out bytes.Buffer
	require.NoError(e.t, run(context.Background(), &out, append(append([]string{"creds"}, args...), "--data-dir", e.dataDir)...))
	require.Contains(e.t, out.String(), "-----BEGIN NATS USER JWT-----")
	path := filepath.Join(e.t.TempDir(), strings.Join(args, "-")+".creds")
	require.NoError(e.t, os.WriteFile(path, out.Bytes(), 0o600))
	return path
}

// identity is a connection with some credentials and the errors the server sent it
// asynchronously (permission violations).
type identity struct {
	nc     *nats.Conn
	client *patchbay.Client
	errs   chan error
}

func (e *authEnv) connect(creds, inbox string, opts ...patchbay.Option) *identity {
	e.t.Helper()
	id := &identity{errs: make(chan error, 100)}
	nc, err := nats.Connect(e.url, nats.UserCredentials(creds), nats.CustomInboxPrefix(inbox),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case id.errs <- err:
			default:
			}
		}))
	require.NoError(e.t, err)
	e.t.Cleanup(nc.Close)
	id.nc = nc
	id.client, err = patchbay.New(nc, append([]patchbay.Option{patchbay.WithTimeout(testTimeout)}, opts...)...)
	require.NoError(e.t, err)
	return id
}

// refused waits for the server's permissions violation naming subject.
func (id *identity) refused(t *testing.T, op, subject string) {
	t.Helper()
	want := strings.ToLower(op + ` to "` + subject + `"`)
	timeout := time.After(testTimeout)
	for {
		select {
		case err := <-id.errs:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(strings.ToLower(err.Error()), want) {
				return
			}
		case <-timeout:
			t.Fatalf("no permissions violation for %s", want)
		}
	}
}

func registerWorker(t *testing.T, c *patchbay.Client, id string) {
	t.Helper()
	one := 1
	_, err := c.RegisterWorker(ctxT(t), patchbay.WorkerSpec{
		WorkerID: id, Queues: []string{"support"}, TotalCapacity: &one,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1, MaxNumberOfJobs: 1}},
	})
	require.NoError(t, err)
}

func ctxT(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return c
}

// With --auth a worker works end to end with its own credentials, and the broker
// keeps it, a producer and strangers to their own subjects.
func TestAuthRoles(t *testing.T) {
	t.Parallel()
	e := startAuthServer(t)

	// Nobody connects without credentials.
	_, err := nats.Connect(e.url)
	require.ErrorIs(t, err, nats.ErrAuthorization)

	wA := e.connect(e.creds("worker", "A"), patchbay.WorkerInboxPrefix("A"), patchbay.AsWorker("A"))
	wB := e.connect(e.creds("worker", "B"), patchbay.WorkerInboxPrefix("B"), patchbay.AsWorker("B"))
	prod := e.connect(e.creds("producer", "shop"), patchbay.ProducerInboxPrefix("shop"))

	// A cannot subscribe to B's offers: the server refuses the subscription.
	spy := make(chan *nats.Msg, 10)
	_, err = wA.nc.ChanSubscribe(events.OfferWorkerAll("B"), spy)
	require.NoError(t, err, "nats.go reports the refusal asynchronously")
	wA.refused(t, "subscription", events.OfferWorkerAll("B"))

	// B registers, a job comes, B gets the offer and accepts it.
	offersB, err := wB.client.Offers("B")
	require.NoError(t, err)
	registerWorker(t, wB.client, "B")
	registerWorker(t, wA.client, "A")
	// A takes no work, so the job goes to B.
	_, err = wA.client.UpdateWorker(ctxT(t), patchbay.WorkerSpec{WorkerID: "A", AvailableForOffers: new(bool)})
	require.NoError(t, err)
	_, err = prod.client.CreateJob(ctxT(t), patchbay.JobSpec{JobID: "j1", QueueID: "support", ChannelID: "voice"})
	require.NoError(t, err)
	offer, err := offersB.Next(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, "j1", offer.JobID)

	// A cannot accept B's offer on B's subjects, nor deregister B: the broker refuses.
	for _, t2 := range []events.Type{events.TypeOfferAccept, events.TypeWorkerDeregister, events.TypeJobComplete, events.TypeJobClose} {
		for _, subj := range []string{events.WorkerReqSubject(t2, "B"), events.WorkerInSubject(t2, "B"), events.ReqSubject(t2), events.InSubject(t2)} {
			require.NoError(t, wA.nc.Publish(subj, []byte("{}")))
			wA.refused(t, "publish", subj)
		}
	}
	// B finds its own work; A cannot ask about B's.
	mine, err := wB.client.WorkerInfo(ctxT(t), "B")
	require.NoError(t, err)
	require.Len(t, mine.Offers, 1)
	// Nor publish events, nor heartbeats for B, nor ask about B's work.
	for _, subj := range []string{events.OfferSubject("B", "j1", events.TypeOfferRevoked), events.JobSubject("support", "j1", events.TypeJobCancelled),
		events.PresenceSubject("B"), "$KV." + events.BucketJobs + ".j1", "$JS.API.STREAM.DELETE." + events.StreamEvents,
		events.QuerySubject(events.TypeQueryWorker) + ".B", events.QuerySubject(events.TypeQueryWorker), events.QuerySubject(events.TypeQueryJob)} {
		require.NoError(t, wA.nc.Publish(subj, []byte("{}")))
		wA.refused(t, "publish", subj)
	}
	// A producer cannot act as a worker, nor publish events.
	for _, subj := range []string{events.WorkerReqSubject(events.TypeOfferAccept, "B"), events.ReqSubject(events.TypeOfferAccept), events.SubjectEventsPrefix + "job.support.j1.closed"} {
		require.NoError(t, prod.nc.Publish(subj, []byte("{}")))
		prod.refused(t, "publish", subj)
	}

	// The confused deputy: A's own command asks the router to answer on the lease's
	// key. The router refuses it and writes nothing there: it keeps its lease.
	watch := e.connect(e.creds("router"), "_INBOX.router")
	leaseWrites := make(chan *nats.Msg, 100)
	_, err = watch.nc.ChanSubscribe("$KV."+events.BucketRouter+".leader", leaseWrites)
	require.NoError(t, err)
	require.NoError(t, watch.nc.Flush())
	ev, err := events.New(events.TypeWorkerUpdate, "trick", "/test", "A", time.Now(), &events.WorkerRegister{WorkerID: "A"})
	require.NoError(t, err)
	body, err := events.Structured(ev)
	require.NoError(t, err)
	trick := nats.NewMsg(events.WorkerInSubject(events.TypeWorkerUpdate, "A"))
	trick.Header.Set(events.HeaderReplyTo, "$KV."+events.BucketRouter+".leader")
	trick.Data = body
	require.NoError(t, wA.nc.PublishMsg(trick))
	registerWorker(t, wA.client, "A") // after the trick on the stream: it was handled
	require.NoError(t, watch.nc.Flush())
	for len(leaseWrites) > 0 {
		m := <-leaseWrites
		require.NotContains(t, string(m.Data), "io.patchbay.", "the router answered on its lease key")
	}
	require.NoError(t, e.router.Err(), "the router still holds its lease")

	assignment, err := wB.client.Accept(ctxT(t), offer)
	require.NoError(t, err)

	// On its own subjects, A acting on B's job is refused by the router.
	err = wA.client.Complete(ctxT(t), "j1", assignment, "")
	require.ErrorIs(t, err, events.ErrForbidden)
	err = wA.client.Close(ctxT(t), "j1", assignment, patchbay.CloseOptions{DispositionCode: "done"})
	require.ErrorIs(t, err, events.ErrForbidden)

	// B completes and closes its job.
	require.NoError(t, wB.client.Complete(ctxT(t), "j1", assignment, "ok"))
	require.NoError(t, wB.client.Close(ctxT(t), "j1", assignment, patchbay.CloseOptions{DispositionCode: "done"}))
	info, err := prod.client.JobInfo(ctxT(t), "j1")
	require.NoError(t, err)
	require.Equal(t, "closed", string(info.Job.Status))

	// A saw none of B's offers: its subscription never existed on the server.
	require.NoError(t, wA.nc.Flush())
	require.Empty(t, spy)
}

// --auth belongs to the embedded server.
func TestAuthRefusedWithNATSURL(t *testing.T) {
	err := run(context.Background(), &bytes.Buffer{}, "serve", "--auth", "--nats-url", "nats://127.0.0.1:1")
	require.ErrorContains(t, err, "--auth is for the embedded server")
}

// The client commands take patchbay creds with --nats-creds and make their inboxes
// where those allow: a worker registers itself, a producer creates a job, an admin
// tails the events.
func TestAuthCLI(t *testing.T) {
	t.Parallel()
	e := startAuthServer(t)
	ctx := ctxT(t)
	worker, producer, admin := e.creds("worker", "C"), e.creds("producer", "shop"), e.creds("admin")

	out := mustRun(ctx, t, "worker", "register", "--nats-url", e.url, "--nats-creds", worker, "--id", "C", "--queue", "support")
	require.Equal(t, "worker C registered (active)\n", out)
	mustRun(ctx, t, "job", "create", "--nats-url", e.url, "--nats-creds", producer, "--queue", "support", "--channel", "voice", "--id", "j1")
	out = mustRun(ctx, t, "events", "--nats-url", e.url, "--nats-creds", admin, "--from-start", "--count", "2", "--queue", "support")
	require.Contains(t, out, "job.received")

	// With another inbox prefix, the worker's replies could not reach it: the
	// subscription on another inbox is refused and no answer comes.
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := runOut(short, "worker", "register", "--nats-url", e.url, "--nats-creds", worker, "--id", "C", "--queue", "support",
		"--inbox-prefix", "_INBOX.someone-else", "--timeout", "1s")
	require.Error(t, err)
}

// Keys and credentials outlive a restart of the server on the same data directory.
func TestAuthKeysSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := func() *natsserverHandle {
		mode, _, err := embeddedAuth(dir)
		require.NoError(t, err)
		ns, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: dir, Operator: mode})
		require.NoError(t, err)
		return &natsserverHandle{url: ns.ClientURL(), stop: func() { ns.Shutdown(); ns.WaitForShutdown() }}
	}
	first := start()
	e := &authEnv{t: t, dataDir: dir}
	creds := e.creds("worker", "w1")
	nc, err := nats.Connect(first.url, nats.UserCredentials(creds))
	require.NoError(t, err)
	nc.Close()
	first.stop()

	second := start()
	defer second.stop()
	nc, err = nats.Connect(second.url, nats.UserCredentials(creds))
	require.NoError(t, err, "credentials issued before the restart")
	nc.Close()
}

type natsserverHandle struct {
	url  string
	stop func()
}
