package router_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// Group commit: while a record is being stored, the commands that arrive are applied
// into the next record, which is handed over as soon as the one in flight is stored.
// Twenty jobs published during one write are stored in one record (not one record per
// arrival, nor the first arrival alone and the rest after it), none of them is
// announced before its record is written, and each is announced once it is.
func TestCommandsArrivingDuringAWriteShareTheNextRecord(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	var records atomic.Int32
	paused, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	router.SetPauseHook(e.router, func(point string) {
		if point != "record" {
			return
		}
		records.Add(1)
		once.Do(func() { close(paused); <-resume })
	})
	publishJob(t, e.nc, "ce-first", "first")
	<-paused // the record creating "first" is applied and held before it is written

	const n = 20
	for i := range n {
		publishJob(t, e.nc, fmt.Sprintf("ce-%d", i), fmt.Sprintf("j%d", i))
	}
	// The engine goes on applying while the record is held: all of them are queued
	// in its memory (a query reads the engine) ...
	require.Eventually(t, func() bool {
		q, err := e.client.QueueInfo(ctx(t), "q")
		return err == nil && q.Length == n+1
	}, waitFor, 10*time.Millisecond)
	// ... and none of them is stored or announced.
	require.Empty(t, eventCounts(t, e.nc, "patchbay.events.job.q.>"))

	close(resume)
	for i := range n {
		e.jobEvent(events.TypeJobQueued, fmt.Sprintf("j%d", i))
	}
	require.Equal(t, int32(2), records.Load(), "records written: the held one, then one for all that came meanwhile")
}

// bucketWrites is how many messages a bucket's stream has taken.
func bucketWrites(t *testing.T, nc *nats.Conn, bucket string) uint64 {
	t.Helper()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx(t), "KV_"+bucket)
	require.NoError(t, err)
	info, err := s.Info(ctx(t))
	require.NoError(t, err)
	return info.State.LastSeq
}

// walOps is the keys the write-ahead record in the bucket holds writes of.
func walOps(t *testing.T, nc *nats.Conn) []string {
	t.Helper()
	e, err := bucket(t, nc, events.BucketRouter).Get(ctx(t), "wal")
	require.NoError(t, err)
	keys, err := router.WALOps(e.Value())
	require.NoError(t, err)
	return keys
}

// holdSecondRecord holds the router's first record after it is written (so the
// commands published meanwhile wait in the next record), and its second record
// before it is written. held is closed when the second is held; release lets it go.
func holdSecondRecord(t *testing.T, r *router.Router) (firstHeld, held chan struct{}, releaseFirst, release func()) {
	firstHeld, held = make(chan struct{}), make(chan struct{})
	first, second := make(chan struct{}), make(chan struct{})
	var records atomic.Int32
	router.SetPauseHook(r, func(point string) {
		switch {
		case point == "written" && records.Load() == 1:
			close(firstHeld)
			<-first
		case point == "record" && records.Add(1) == 2:
			close(held)
			<-second
		}
	})
	return firstHeld, held, sync.OnceFunc(func() { close(first) }), sync.OnceFunc(func() { close(second) })
}

// A record's KV writes wait while later records are written, and a key the later
// ones write again is written once: the job created in the first record and cancelled
// in the second is written once, cancelled. Meanwhile the first record's commands are
// answered and its events published, and the last record written names the record
// whose writes wait. Once the router has nothing else to store, every write is made.
func TestKVWritesWaitForLaterRecords(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	e.createJob("warm", "q")
	jobs := bucket(t, e.nc, events.BucketJobs)
	require.Eventually(t, func() bool {
		_, err := jobs.Get(ctx(t), "warm")
		return err == nil
	}, waitFor, 10*time.Millisecond, "at rest, the writes are made")
	before := bucketWrites(t, e.nc, events.BucketJobs)

	firstHeld, held, releaseFirst, release := holdSecondRecord(t, e.router)
	t.Cleanup(func() { releaseFirst(); release() })
	publishJob(t, e.nc, "ce-first", "first")
	<-firstHeld // the record creating "first" is written; its KV writes and events wait
	publishCommand(t, e.nc, events.TypeJobCancel, "ce-cancel", "first", &events.JobCancel{JobID: "first"})
	for i := range 8 {
		publishJob(t, e.nc, fmt.Sprintf("ce-s%d", i), fmt.Sprintf("s%d", i))
	}
	require.Eventually(t, func() bool {
		q, err := e.client.QueueInfo(ctx(t), "q")
		return err == nil && q.Length == 9 // warm and s0..s7: applied into the next record
	}, waitFor, 10*time.Millisecond)
	releaseFirst()
	<-held // the first record is done, the second applied and not written
	e.jobEvent(events.TypeJobQueued, "first")
	_, err := jobs.Get(ctx(t), "first")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "the first record's write waits")
	require.Contains(t, walOps(t, e.nc), events.BucketJobs+"/first", "the last record holds it")

	release()
	e.jobEvent(events.TypeJobCancelled, "first")
	require.Eventually(t, func() bool {
		return bucketWrites(t, e.nc, events.BucketJobs) == before+9
	}, waitFor, 10*time.Millisecond, "first written once (cancelled), s0..s7 once each")
	en, err := jobs.Get(ctx(t), "first")
	require.NoError(t, err)
	require.Contains(t, string(en.Value()), `"status":"cancelled"`)
	_, err = jobs.Get(ctx(t), "s7")
	require.NoError(t, err)
	require.Equal(t, before+9, bucketWrites(t, e.nc, events.BucketJobs), "nothing written twice")
}

// A router that stops while the writes of several records wait loses none of them:
// its last record names the first of them, and its successor replays them all,
// read back from the record key's history, before it loads.
func TestWritesPendingOverSeveralRecordsSurviveATakeover(t *testing.T) {
	t.Parallel()
	url, e := startToTakeOver(t)
	a := e.router
	// Records 1 to 3 are each held once written, until the next job is applied into
	// the open record, so the router never runs out of work and never makes the
	// pending writes; record 4 is held before it is written, as if the router died.
	const stored = 3
	var records atomic.Int32
	written := make(chan struct{})
	next, dead := make(chan struct{}), make(chan struct{})
	die := sync.OnceFunc(func() { close(dead) })
	t.Cleanup(die)
	router.SetPauseHook(a, func(point string) {
		switch {
		case point == "record" && records.Add(1) > stored:
			<-dead
		case point == "written":
			written <- struct{}{}
			<-next
		}
	})
	for i := range stored + 1 {
		publishJob(t, e.nc, fmt.Sprintf("ce-p%d", i), fmt.Sprintf("p%d", i))
		if i > 0 {
			require.Eventually(t, func() bool { // applied into the open record
				info, err := e.client.JobInfo(ctx(t), fmt.Sprintf("p%d", i))
				return err == nil && info.Job.Status == "queued"
			}, waitFor, 10*time.Millisecond)
			next <- struct{}{}
		}
		if i < stored {
			<-written
		}
	}
	ncB := natstest.Connect(t, url)
	jobs := bucket(t, ncB, events.BucketJobs)
	for i := range stored {
		_, err := jobs.Get(ctx(t), fmt.Sprintf("p%d", i))
		require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "p%d waits", i)
	}

	takeOver(t, ncB, a, die, func() {
		for i := range stored {
			_, err := jobs.Get(ctx(t), fmt.Sprintf("p%d", i))
			require.NoError(t, err, "the successor made p%d's write", i)
		}
	}, "p0", "p1", "p2", "p3") // p3 was never stored: redelivered to the successor
}

// startToTakeOver starts a router with a one-second lease on a server of its own,
// where a successor can take over (takeOver), and a job in queue "q".
func startToTakeOver(t *testing.T) (url string, e *env) {
	ns := natstest.RunServer(t)
	e = startOn(t, ns.ClientURL(), router.Config{LeaseTTL: time.Second, AckWait: time.Second})
	e.createJob("warm", "q")
	return ns.ClientURL(), e
}

// takeOver starts a successor of router a on nc (its clock past a's lease), runs
// loaded once it has loaded, and waits until it holds every job of ids queued; then
// it lets a go on (release) and waits until a stops, having lost the lease.
func takeOver(t *testing.T, nc *nats.Conn, a *router.Router, release func(), loaded func(), ids ...string) {
	t.Helper()
	ahead := func() time.Time { return time.Now().Add(5 * time.Second) }
	b := startRouter(t, nc, router.Config{LeaseTTL: time.Second, AckWait: time.Second, Now: ahead})
	loaded()
	clientB, err := patchbay.New(nc, patchbay.WithTimeout(waitFor))
	require.NoError(t, err)
	for _, id := range ids {
		require.Eventually(t, func() bool {
			info, err := clientB.JobInfo(ctx(t), id)
			return err == nil && info.Job.Status == "queued"
		}, waitFor, 10*time.Millisecond, id)
	}
	release()
	select {
	case <-a.Failed():
	case <-time.After(waitFor):
		t.Fatal("the router that lost the lease did not stop")
	}
	require.NoError(t, b.Err())
}

// A router that stops while a record's writes wait loses none of them: its
// successor replays the last record and the one it names before it loads.
func TestPendingWritesSurviveATakeover(t *testing.T) {
	t.Parallel()
	url, e := startToTakeOver(t)
	a := e.router
	firstHeld, held, releaseFirst, release := holdSecondRecord(t, a)
	t.Cleanup(func() { releaseFirst(); release() })
	publishJob(t, e.nc, "ce-first", "first")
	<-firstHeld
	for i := range 8 {
		publishJob(t, e.nc, fmt.Sprintf("ce-s%d", i), fmt.Sprintf("s%d", i))
	}
	require.Eventually(t, func() bool {
		q, err := e.client.QueueInfo(ctx(t), "q")
		return err == nil && q.Length == 10
	}, waitFor, 10*time.Millisecond)
	releaseFirst()
	<-held // "first" is stored only in the record; a stops here, as if it died
	ncB := natstest.Connect(t, url)
	jobs := bucket(t, ncB, events.BucketJobs)
	_, err := jobs.Get(ctx(t), "first")
	require.ErrorIs(t, err, jetstream.ErrKeyNotFound, "pending")

	takeOver(t, ncB, a, release, func() {
		_, err := jobs.Get(ctx(t), "first")
		require.NoError(t, err, "the successor replayed the pending write")
	}, "first", "s0", "s7") // s0..s7: redelivered to the successor
}

// A deployment whose router bucket kept one revision per key (before records named
// pending ones) is updated at start: the bucket then keeps the record key's history,
// which a reload reads the pending records from.
func TestRouterBucketOfAnEarlierVersionKeepsHistoryOnceStarted(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateKeyValue(ctx(t), jetstream.KeyValueConfig{Bucket: events.BucketRouter, History: 1, LimitMarkerTTL: time.Second})
	require.NoError(t, err)

	startRouter(t, nc, router.Config{})
	st, err := bucket(t, nc, events.BucketRouter).Status(ctx(t))
	require.NoError(t, err)
	require.Equal(t, int64(32), st.History())
}
