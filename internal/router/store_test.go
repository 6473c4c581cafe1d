package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/limitstest"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// runSmallServer starts a JetStream server that accepts messages of at most
// maxPayload bytes.
func runSmallServer(t *testing.T, maxPayload int32) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true,
		StoreDir: t.TempDir(), MaxPayload: maxPayload, NoLog: true, NoSigs: true})
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(waitFor))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// publishJob puts a job.created command on the inbound stream, as a producer does.
func publishJob(t *testing.T, nc *nats.Conn, ceID, jobID string) {
	t.Helper()
	publishJobData(t, nc, ceID, &events.JobCreated{JobID: jobID, QueueID: "q", ChannelID: "voice"})
}

func publishJobData(t *testing.T, nc *nats.Conn, ceID string, data *events.JobCreated) {
	t.Helper()
	publishCommand(t, nc, events.TypeJobCreated, ceID, data.JobID, data)
}

// A command whose effects the broker cannot store is refused, set aside on the
// dead-letter stream and acknowledged; the commands around it are applied, and a
// restarted router does not meet it again. Here the job is the largest the limits
// allow (60 KB of data) and the broker accepts messages of 61 KiB: the command fits,
// but its stored value (its data and the router's fields, with room left for the
// subject and headers) does not.
func TestCommandThatCannotBeStoredIsSetAside(t *testing.T) {
	t.Parallel()
	ns := runSmallServer(t, 61<<10)
	e := startOn(t, ns.ClientURL(), router.Config{})
	publishJob(t, e.nc, "ce-a", "a")
	publishJobData(t, e.nc, "ce-p", limitstest.LargestJobCreated("p", "q"))
	publishJob(t, e.nc, "ce-b", "b")

	e.jobEvent(events.TypeJobQueued, "a")
	failed := e.next(events.TypeCommandFailed, func(s seen) bool { return s.Event.Subject() == "ce-p" })
	var f events.CommandFailure
	require.NoError(t, failed.Event.DataAs(&f))
	require.Equal(t, events.CodeInternal, f.Error.Code)
	require.False(t, f.Error.Retryable)
	require.Contains(t, f.Error.Message, events.StreamDead)
	require.Contains(t, f.Error.Message, "bytes")
	e.jobEvent(events.TypeJobQueued, "b")

	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	dead, err := js.Stream(ctx(t), events.StreamDead)
	require.NoError(t, err)
	m, err := dead.GetLastMsgForSubject(ctx(t), events.SubjectDeadAll)
	require.NoError(t, err)
	require.Equal(t, events.SubjectDeadPrefix+"job.created", m.Subject)
	require.Contains(t, m.Header.Get("Patchbay-Dead-Reason"), "bytes")
	require.Contains(t, string(m.Data), `"ce-p"`)

	// Nothing waits on the inbound stream, and a new router starts and serves.
	in, err := js.Stream(ctx(t), events.StreamIn)
	require.NoError(t, err)
	// The acks are asynchronous: the last command's may land just after its event.
	require.Eventually(t, func() bool {
		info, err := in.Info(ctx(t))
		return err == nil && info.State.Msgs == 0
	}, waitFor, 10*time.Millisecond, "every command, the set-aside one too, is acknowledged")
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(e.router))
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP patchbay_commands_dead_lettered_total Commands set aside on the dead-letter stream because their effects cannot be stored (also counted as refused, code internal).
# TYPE patchbay_commands_dead_lettered_total counter
patchbay_commands_dead_lettered_total 1
# HELP patchbay_commands_refused_total Commands refused with command.failed, by command type and error code.
# TYPE patchbay_commands_refused_total counter
patchbay_commands_refused_total{code="internal",type="job.created"} 1
`), "patchbay_commands_dead_lettered_total", "patchbay_commands_refused_total"))
	require.NoError(t, e.router.Stop(ctx(t)))
	e.router = startRouter(t, e.nc, router.Config{})
	e.createJob("c", "q")
	_, err = e.client.JobInfo(ctx(t), "p")
	require.ErrorIs(t, err, patchbay.ErrUnknownJob)
}

// One command may have any fan-out: the largest worker registration the limits allow
// takes 200 queued jobs, each the largest allowed, in one command. Its record is tens
// of megabytes, written in chunks that each fit in a message; the chunks are gone once
// the record is finished.
//
// It runs alone (not in parallel): its record is written and read back in tens of
// megabytes, which under -race on a loaded 2-core machine takes longer than the other
// tests' waits allow when they share the machine with it.
func TestLargeFanOutIsStoredInChunks(t *testing.T) {
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	// Only the events this test waits for: each carries a job of ~61 KB.
	queued := make(chan *nats.Msg, 500)
	offered := make(chan *nats.Msg, 500)
	for subject, ch := range map[string]chan *nats.Msg{events.JobQueueType("q", events.TypeJobQueued): queued,
		events.OfferTypeAll("w", events.TypeOfferIssued): offered} {
		sub, err := nc.ChanSubscribe(subject, ch)
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	require.NoError(t, nc.Flush())
	startRouter(t, nc, router.Config{})
	client, err := patchbay.New(nc, patchbay.WithRetryDeadline(2*waitFor))
	require.NoError(t, err)

	const n = 200
	for i := range n {
		publishJobData(t, nc, fmt.Sprintf("ce-%d", i), limitstest.LargestJobCreated(fmt.Sprintf("j%d", i), "q"))
	}
	for range n {
		receive(t, queued)
	}
	long, cancel := context.WithTimeout(context.Background(), 4*waitFor)
	defer cancel()
	_, err = client.RegisterWorker(long, *limitstest.LargestWorkerRegister("w", "q", n))
	require.NoError(t, err)
	jobs := map[string]bool{}
	for len(jobs) < n {
		ev, err := events.Decode(nil, receive(t, offered).Data)
		require.NoError(t, err)
		var o events.Offer
		require.NoError(t, ev.DataAs(&o))
		jobs[o.JobID] = true
	}
	keys, err := bucket(t, nc, events.BucketRouter).ListKeysFiltered(ctx(t), "wal.>")
	require.NoError(t, err)
	for k := range keys.Keys() {
		t.Fatalf("chunk %s left behind", k)
	}
}

func receive(t *testing.T, ch chan *nats.Msg) *nats.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(2 * waitFor):
		t.Fatal("no message")
		return nil
	}
}

// The broker stops and comes back while jobs are being created: the router retries
// by itself, and every job the clients were told about exists once.
func TestBrokerRestartUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := natstest.RunServerAt(t, "127.0.0.1:-1", dir)
	addr := ns.Addr().(*net.TCPAddr)
	e := startOn(t, ns.ClientURL(), router.Config{})
	client, err := patchbay.New(e.nc, patchbay.WithTimeout(2*time.Second))
	require.NoError(t, err)

	const n = 200
	var created sync.WaitGroup
	var mu sync.Mutex
	halfway := make(chan struct{})
	done := 0
	for w := range 4 {
		created.Add(1)
		go func() {
			defer created.Done()
			for i := w; i < n; i += 4 {
				id := fmt.Sprintf("j%d", i)
				for { // a client retries a command until it is answered (same job id: applied once)
					c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					_, err := client.CreateJob(c, patchbay.JobSpec{JobID: id, QueueID: "q", ChannelID: "voice"})
					cancel()
					if err == nil {
						break
					}
					if ctx(t).Err() != nil {
						t.Errorf("job %s never created: %v", id, err)
						return
					}
				}
				mu.Lock()
				done++
				if done == n/2 {
					close(halfway)
				}
				mu.Unlock()
			}
		}()
	}
	<-halfway
	ns.Shutdown()
	ns.WaitForShutdown()
	natstest.RunServerAt(t, addr.String(), dir)
	created.Wait()

	q, err := e.client.QueueInfo(ctx(t), "q")
	require.NoError(t, err)
	require.Equal(t, n, q.Length)
	require.NoError(t, e.router.Err())
	// Stop before the restarted server goes (cleanups run last first): a router
	// stopping without its broker waits for its context to release the lease.
	require.NoError(t, e.router.Stop(ctx(t)))
}

// Two routers whose clocks disagree by an hour: the one ahead takes the lease while
// the other still believes it holds it. The first one's next write fails its
// condition and it stops without changing anything; every job is received once.
func TestRoutersWithSkewedClocksNeverBothWrite(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	e := startOn(t, ns.ClientURL(), router.Config{AckWait: time.Second})
	a := e.router
	e.createJob("before", "q")

	ncB := natstest.Connect(t, ns.ClientURL())
	ahead := func() time.Time { return time.Now().Add(time.Hour) }
	log := zerolog.New(zerolog.NewTestWriter(t))
	b := startRouter(t, ncB, router.Config{AckWait: time.Second, Now: ahead, Logger: &log})

	const n = 40
	for i := range n {
		publishJob(t, e.nc, fmt.Sprintf("ce-%d", i), fmt.Sprintf("j%d", i))
	}
	select {
	case <-a.Failed():
	case <-time.After(waitFor):
		t.Fatal("the router that lost the lease did not stop")
	}
	require.NoError(t, b.Err())
	queued := map[string]bool{}
	for len(queued) < n {
		if id := e.next(events.TypeJobQueued, nil).job().JobID; id != "before" {
			queued[id] = true
		}
	}
	for subject, c := range eventCounts(t, e.nc, "patchbay.events.job.q.*.received") {
		require.Equal(t, uint64(1), c, "%s stored %d times", subject, c)
	}
	q, err := e.client.QueueInfo(ctx(t), "q")
	require.NoError(t, err)
	require.Equal(t, n+1, q.Length)
}

// A router paused after it wrote its record, past its lease, resumes while its
// successor has moved the same job on: its writes fail their conditions, it stops,
// and the successor's state stands (no job written back, no event published twice).
func TestPausedRouterCannotWriteBack(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	e := startOn(t, ns.ClientURL(), router.Config{LeaseTTL: time.Second, AckWait: time.Second})
	a := e.router
	e.register("alice", []string{"q"}, nil)
	e.register("bob", []string{"q"}, nil)

	paused, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	router.SetPauseHook(a, func(point string) {
		if point == "written" {
			once.Do(func() { close(paused); <-resume })
		}
	})
	publishJob(t, e.nc, "ce-x", "x")
	<-paused // a wrote the record creating x and offering it, and stopped there

	ncB := natstest.Connect(t, ns.ClientURL())
	// b's clock is ahead by more than a's lease: to b, a's lease has run out.
	ahead := func() time.Time { return time.Now().Add(5 * time.Second) }
	b := startRouter(t, ncB, router.Config{LeaseTTL: time.Second, Now: ahead})
	o := e.next(events.TypeOfferIssued, func(s seen) bool { return s.offer().JobID == "x" }).offer()
	clientB, err := patchbay.New(ncB, patchbay.WithTimeout(waitFor))
	require.NoError(t, err)
	asg, err := clientB.Accept(ctx(t), o)
	require.NoError(t, err)
	require.NoError(t, clientB.Complete(ctx(t), "x", asg, ""))
	require.NoError(t, clientB.Close(ctx(t), "x", asg, patchbayClose("done")))
	e.jobEvent(events.TypeJobClosed, "x")

	close(resume)
	select {
	case <-a.Failed():
	case <-time.After(waitFor):
		t.Fatal("the paused router did not stop")
	}
	require.NoError(t, b.Err())
	info, err := clientB.JobInfo(ctx(t), "x")
	require.NoError(t, err)
	require.Equal(t, "closed", info.Job.Status)

	// Reloaded from storage, the job is still closed: nothing was written back.
	require.NoError(t, b.Stop(ctx(t)))
	c := startRouter(t, ncB, router.Config{LeaseTTL: time.Second})
	info, err = clientB.JobInfo(ctx(t), "x")
	require.NoError(t, err)
	require.Equal(t, "closed", info.Job.Status)
	require.NoError(t, c.Err())
	for subject, c := range eventCounts(t, e.nc, "patchbay.events.job.q.x.*") {
		require.Equal(t, uint64(1), c, "%s stored %d times", subject, c)
	}
}

// eventCounts is how many events the event stream holds on each subject matching
// filter (JetStream's de-duplication applied, unlike a core subscription).
func eventCounts(t *testing.T, nc *nats.Conn, filter string) map[string]uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx(t), events.StreamEvents)
	require.NoError(t, err)
	info, err := s.Info(ctx(t), jetstream.WithSubjectFilter(filter))
	require.NoError(t, err)
	return info.State.Subjects
}

// The per-job keys that earlier versions kept in the queues bucket are never read;
// a router that loads the state removes them, and keeps the queue's order.
func TestStaleQueueKeysAreDropped(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.createJob("j1", "q")
	require.NoError(t, e.router.Stop(ctx(t)))

	js, err := jetstream.New(e.nc)
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx(t), events.BucketQueues)
	require.NoError(t, err)
	_, err = kv.Put(ctx(t), "q.n100.00000000000000000001.j1", []byte("j1"))
	require.NoError(t, err)

	startRouter(t, e.nc, router.Config{})
	_, err = kv.Get(ctx(t), "q.n100.00000000000000000001.j1")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound)
	q, err := e.client.QueueInfo(ctx(t), "q")
	require.NoError(t, err)
	require.Equal(t, 1, q.Length)
}

// A write-ahead record written as JSON, as routers before the binary encoding wrote
// it, is still finished by the router that starts after it: an upgrade in place
// loses nothing. Here the record holds a job's KV write (the key was lost) and an
// event not yet published.
func TestRecordWrittenAsJSONIsFinished(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	a := startRouter(t, nc, router.Config{})
	client, err := patchbay.New(nc, patchbay.WithTimeout(waitFor))
	require.NoError(t, err)
	_, err = client.CreateJob(ctx(t), patchbay.JobSpec{JobID: "a", QueueID: "q", ChannelID: "voice"})
	require.NoError(t, err)
	require.NoError(t, a.Stop(ctx(t)))

	jobs := bucket(t, nc, events.BucketJobs)
	stored, err := jobs.Get(ctx(t), "a")
	require.NoError(t, err)
	require.NoError(t, jobs.Purge(ctx(t), "a"))
	type op struct {
		Bucket string `json:"bucket"`
		Key    string `json:"key"`
		Value  []byte `json:"value,omitempty"`
	}
	type event struct {
		Subject string `json:"subject"`
		ID      string `json:"id"`
		Body    []byte `json:"body"`
	}
	subject := events.SubjectEventsPrefix + "job.q.a.legacy"
	body := []byte(`{"specversion":"1.0","id":"legacy-1","source":"/test","type":"io.patchbay.job.legacy"}`)
	old, err := json.Marshal(struct {
		Seq    uint64  `json:"seq"`
		Ops    []op    `json:"ops"`
		Events []event `json:"events"`
	}{Seq: 1000, Ops: []op{{events.BucketJobs, "a", stored.Value()}}, Events: []event{{subject, "legacy-1", body}}})
	require.NoError(t, err)
	require.Contains(t, string(old), `"value":"`, "values are base64 in the old records")
	_, err = bucket(t, nc, events.BucketRouter).Put(ctx(t), "wal", old)
	require.NoError(t, err)

	startRouter(t, nc, router.Config{})
	got, err := jobs.Get(ctx(t), "a")
	require.NoError(t, err, "the record's write was made")
	require.Equal(t, stored.Value(), got.Value())
	info, err := client.JobInfo(ctx(t), "a")
	require.NoError(t, err)
	require.Equal(t, "queued", info.Job.Status)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx(t), events.StreamEvents)
	require.NoError(t, err)
	m, err := s.GetLastMsgForSubject(ctx(t), subject)
	require.NoError(t, err, "the record's event was published")
	require.Equal(t, "legacy-1", m.Header.Get(events.HeaderMsgID))
	require.Equal(t, body, m.Data)
}

// A router that finds at start-up that another has written the record since it fenced
// it (two routers both believe they hold the lease) stops with an error; its Start
// returns instead of hanging.
func TestStartDeposedWhileResumingReturns(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	e := startOn(t, ns.ClientURL(), router.Config{})
	e.register("alice", []string{"q"}, nil)
	e.createJob("j1", "q")
	e.offerFor("alice", "j1")
	require.NoError(t, e.router.Stop(ctx(t)))

	// Started a week and a day later, the router expires the offer as it resumes; just
	// before it writes that record, another router writes the record key.
	later := func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	b, err := router.New(natstest.Connect(t, ns.ClientURL()), router.Config{Now: later})
	require.NoError(t, err)
	kv := bucket(t, e.nc, events.BucketRouter)
	var once sync.Once
	router.SetPauseHook(b, func(point string) {
		if point == "record" {
			once.Do(func() {
				cur, err := kv.Get(context.Background(), "wal")
				require.NoError(t, err)
				_, err = kv.Put(context.Background(), "wal", cur.Value())
				require.NoError(t, err)
			})
		}
	})
	started := make(chan error, 1)
	go func() { started <- b.Start(context.Background()) }()
	select {
	case err := <-started:
		require.ErrorContains(t, err, "taken over")
	case <-time.After(waitFor):
		t.Fatal("Start hung")
	}
	select {
	case <-b.Failed():
	default:
		t.Fatal("the router did not fail")
	}
}
