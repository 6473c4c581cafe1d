package router_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/rs/zerolog"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natsserver"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/matcher"
)

// BenchmarkRetention runs b.N jobs through their whole lifecycle (created, offered,
// accepted, completed, closed) with a one-second retention, waits until the router
// has forgotten them and their removal markers have expired, and compares the
// router's state with the same router idle before the run: jobs, offers and timers
// in memory, the process heap (router and embedded server), the KV buckets' messages
// and bytes, and the time a new router takes to start. The figure:
//
//	go test -run '^$' -bench BenchmarkRetention -benchtime 200000x -timeout 60m ./internal/router/
func BenchmarkRetention(b *testing.B) {
	url := natsServerProcess(b) // out of this process: the heap measured is the router's
	nc := natstest.Connect(b, url)
	cfg := router.Config{Engine: matcher.Config{Retention: time.Second}}
	r := startRouter(b, nc, cfg)
	client, err := patchbay.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(8192))
	if err != nil {
		b.Fatal(err)
	}
	queue := "retention"
	const workers, capacity = 50, 4
	for i := range workers {
		c := capacity
		if _, err := client.RegisterWorker(context.Background(), patchbay.WorkerSpec{WorkerID: fmt.Sprintf("w%d", i),
			Queues: []string{queue}, TotalCapacity: &c,
			Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}}); err != nil {
			b.Fatal(err)
		}
	}
	idle := measureState(b, nc, r)
	r = restartRouter(b, nc, r, cfg, &idle)

	b.ResetTimer()
	closed := runLifecycles(b, nc, js, queue, b.N)
	b.StopTimer()
	if closed != b.N {
		b.Fatalf("%d of %d jobs closed", closed, b.N)
	}
	// The jobs are forgotten one second after they closed; their removal markers
	// expire a second after that.
	waitUntil(b, 5*time.Minute, func() bool {
		s, err := r.Size(context.Background())
		return err == nil && s.Jobs == 0 && s.Offers == 0
	})
	// The same keys as when idle (the workers, the record), plus the queue bucket's
	// sequence key: a few messages more at most.
	waitUntil(b, 5*time.Minute, func() bool {
		return kvState(b, nc).msgs <= idle.kv.msgs+2
	})
	after := measureState(b, nc, r)
	r = restartRouter(b, nc, r, cfg, &after)
	b.ReportMetric(float64(b.N), "jobs")
	b.ReportMetric(float64(idle.heap)/(1<<20), "idle-heap-MB")
	b.ReportMetric(float64(after.heap)/(1<<20), "after-heap-MB")
	b.ReportMetric(float64(idle.kv.bytes), "idle-kv-B")
	b.ReportMetric(float64(after.kv.bytes), "after-kv-B")
	b.ReportMetric(float64(idle.restart.Milliseconds()), "idle-restart-ms")
	b.ReportMetric(float64(after.restart.Milliseconds()), "after-restart-ms")
	b.ReportMetric(float64(after.size.Jobs+after.size.Offers), "after-jobs+offers")
	b.Logf("idle:  %+v", idle)
	b.Logf("after: %+v (%d jobs closed)", after, closed)
}

type routerState struct {
	size    matcher.Size
	heap    uint64
	kv      kvTotals
	restart time.Duration
}

type kvTotals struct{ msgs, bytes uint64 }

func measureState(b *testing.B, nc *nats.Conn, r *router.Router) routerState {
	b.Helper()
	s, err := r.Size(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return routerState{size: s, heap: ms.HeapAlloc, kv: kvState(b, nc)}
}

// kvState adds up the messages and bytes of the router's KV buckets.
func kvState(b *testing.B, nc *nats.Conn) kvTotals {
	b.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	var t kvTotals
	for _, bucket := range []string{events.BucketJobs, events.BucketWorkers, events.BucketOffers, events.BucketQueues, events.BucketPolicies, events.BucketRouter} {
		s, err := js.Stream(context.Background(), "KV_"+bucket)
		if err != nil {
			b.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		t.msgs += info.State.Msgs
		t.bytes += info.State.Bytes
		if testing.Verbose() {
			b.Logf("%s: %d msgs, %d bytes", bucket, info.State.Msgs, info.State.Bytes)
		}
	}
	return t
}

// restartRouter stops r and times the start of a new router on the same state.
func restartRouter(b *testing.B, nc *nats.Conn, r *router.Router, cfg router.Config, s *routerState) *router.Router {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	if testing.Verbose() {
		log := zerolog.New(os.Stderr)
		cfg.Logger = &log
	}
	next, err := router.New(nc, cfg)
	if err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	if err := next.Start(ctx); err != nil {
		b.Fatal(err)
	}
	s.restart = time.Since(began)
	b.Cleanup(func() { _ = next.Stop(context.Background()) })
	return next
}

func waitUntil(b *testing.B, limit time.Duration, ok func() bool) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			b.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(200 * time.Millisecond) // polling the router's state, not a test wait
	}
}

// runLifecycles creates n jobs (at most 2,000 open at once) and takes each to closed
// the way workers do, by commands on the inbound stream: an offer is accepted, an
// assignment completed and closed. It returns how many jobs closed.
func runLifecycles(b *testing.B, nc *nats.Conn, js jetstream.JetStream, queue string, n int) int {
	b.Helper()
	send := func(t events.Type, subject string, data any) {
		ev, err := events.New(t, nuid.Next(), "/bench", subject, time.Now(), data)
		if err != nil {
			panic(err)
		}
		body, err := events.Structured(ev)
		if err != nil {
			panic(err)
		}
		if _, err := js.PublishAsync(events.InSubject(t), body); err != nil {
			panic(err)
		}
	}
	window := make(chan struct{}, 2000)
	var closed atomic.Int64
	done := make(chan struct{})
	handle := func(m *nats.Msg) {
		ev, err := events.Decode(m.Header, m.Data)
		if err != nil {
			return
		}
		switch events.Type(ev.Type()) {
		case events.TypeOfferIssued:
			var o events.Offer
			if ev.DataAs(&o) == nil {
				send(events.TypeOfferAccept, o.JobID, &events.OfferAccept{JobID: o.JobID, OfferID: o.OfferID, WorkerID: o.WorkerID})
			}
		case events.TypeJobAssigned:
			var j events.Job
			if ev.DataAs(&j) == nil && j.Assignment != nil {
				send(events.TypeJobComplete, j.JobID, &events.JobComplete{JobID: j.JobID, AssignmentID: j.Assignment.AssignmentID})
				send(events.TypeJobClose, j.JobID, &events.JobClose{JobID: j.JobID, AssignmentID: j.Assignment.AssignmentID, DispositionCode: "done"})
			}
		case events.TypeJobClosed:
			<-window
			if closed.Add(1) == int64(n) {
				close(done)
			}
		}
	}
	var subs []*nats.Subscription
	for _, subject := range []string{events.OfferTypeAll("*", events.TypeOfferIssued), events.JobQueueType(queue, events.TypeJobAssigned), events.JobQueueType(queue, events.TypeJobClosed)} {
		sub, err := nc.Subscribe(subject, handle)
		if err != nil {
			b.Fatal(err)
		}
		_ = sub.SetPendingLimits(-1, -1)
		subs = append(subs, sub)
	}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	prefix := "job-" + strings.ToLower(nuid.Next()[:6]) + "-"
	for i := range n {
		window <- struct{}{}
		id := fmt.Sprintf("%s%d", prefix, i)
		send(events.TypeJobCreated, id, &events.JobCreated{JobID: id, QueueID: queue, ChannelID: "voice"})
		if i%10000 == 0 && i > 0 {
			b.Logf("%d jobs created, %d closed", i, closed.Load())
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Minute):
	}
	return int(closed.Load())
}

// TestNATSServerProcess is not a test: it is the NATS server that BenchmarkRetention
// runs as a child process, so that the benchmark's heap is the router's alone.
func TestNATSServerProcess(t *testing.T) {
	dir := os.Getenv("PATCHBAY_BENCH_NATS_DIR")
	if dir == "" {
		t.Skip("child process for BenchmarkRetention")
	}
	ns, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: dir})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("URL", ns.ClientURL())
	ns.WaitForShutdown() // until the benchmark kills the process
}

// natsServerProcess starts a NATS server in a child process and returns its URL.
func natsServerProcess(b *testing.B) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNATSServerProcess$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "PATCHBAY_BENCH_NATS_DIR="+b.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			return url
		}
	}
	b.Fatal("the NATS server process did not start")
	return ""
}
