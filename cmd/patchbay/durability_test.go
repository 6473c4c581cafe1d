package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
)

const durabilityWait = 60 * time.Second

// TestServeProcess is not a test: it is the child process the durability tests start
// and kill. It runs `patchbay serve` with the arguments in PATCHBAY_SERVE_ARGS.
func TestServeProcess(t *testing.T) {
	args := os.Getenv("PATCHBAY_SERVE_ARGS")
	if args == "" {
		t.Skip("child process for the durability tests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd()
	cmd.SetArgs(strings.Fields(args))
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveProc is a `patchbay serve` child process.
type serveProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    strings.Builder
	exited chan struct{}
	logged chan struct{} // a line was logged
}

func startServe(t *testing.T, args string) *serveProc {
	t.Helper()
	p := spawnServe(t, args)
	p.waitReady(t)
	return p
}

// spawnServe starts a `patchbay serve` child process without waiting for it to route
// (a standby waits for the lease).
func spawnServe(t *testing.T, args string) *serveProc {
	t.Helper()
	p := &serveProc{exited: make(chan struct{}), logged: make(chan struct{}, 1)}
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestServeProcess$")
	p.cmd.Env = append(os.Environ(), "PATCHBAY_SERVE_ARGS="+args)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.logged <- struct{}{}:
			default:
			}
		}
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("router log:\n%s", p.output())
		}
	})
	return p
}

// waitReady waits until the process routes.
func (p *serveProc) waitReady(t *testing.T) {
	t.Helper()
	p.waitLog(t, "patchbay is routing")
}

// waitLog waits until the process has logged want.
func (p *serveProc) waitLog(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(durabilityWait)
	for !strings.Contains(p.output(), want) {
		select {
		case <-p.logged:
		case <-p.exited:
			if !strings.Contains(p.output(), want) {
				t.Fatalf("patchbay serve exited without logging %q:\n%s", want, p.output())
			}
		case <-timeout:
			t.Fatalf("patchbay serve did not log %q within %s:\n%s", want, durabilityWait, p.output())
		}
	}
}

func (p *serveProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *serveProc) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.exited
}

// serveInBackground runs `patchbay serve` with args in this process until stop is
// called (it must then return without an error) or the test ends.
func serveInBackground(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, &bytes.Buffer{}, append([]string{"serve"}, args...)...) }()
	var once sync.Once
	var err error
	wait := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(durabilityWait):
				err = errors.New("serve did not stop")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = wait() })
	return func() {
		t.Helper()
		require.NoError(t, wait())
	}
}

// httpGet gets url: the status code and the body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err, url)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err, url)
	return resp.StatusCode, string(body)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// history follows the event stream from its start; it survives router restarts
// (an ordered consumer re-creates itself).
type history struct {
	mu   sync.Mutex
	seen []events.Event
	cond chan struct{}
}

func follow(t *testing.T, c *patchbay.Client) *history {
	t.Helper()
	w, err := c.Watch(context.Background(), patchbay.WatchOptions{FromStart: true})
	require.NoError(t, err)
	h := &history{cond: make(chan struct{}, 1)}
	go func() {
		for {
			ev, _, err := w.Next()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.seen = append(h.seen, ev)
			h.mu.Unlock()
			select {
			case h.cond <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(w.Stop)
	return h
}

// waitFor waits until some event satisfies ok and returns it.
func (h *history) waitFor(t *testing.T, what string, ok func(events.Event) bool) events.Event {
	t.Helper()
	deadline := time.After(durabilityWait)
	for {
		h.mu.Lock()
		for _, ev := range h.seen {
			if ok(ev) {
				h.mu.Unlock()
				return ev
			}
		}
		h.mu.Unlock()
		select {
		case <-h.cond:
		case <-deadline:
			t.Fatalf("no event: %s", what)
		}
	}
}

func (h *history) count(t events.Type, jobID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ev := range h.seen {
		if ev.Type() == string(t) && ev.Subject() == jobID {
			n++
		}
	}
	return n
}

func isType(t events.Type, jobID string) func(events.Event) bool {
	return func(ev events.Event) bool { return ev.Type() == string(t) && ev.Subject() == jobID }
}

func offerOf(ev events.Event) events.Offer {
	var o events.Offer
	_ = json.Unmarshal(ev.Data(), &o)
	return o
}

func register(t *testing.T, c *patchbay.Client, id, queue string, capacity int) {
	t.Helper()
	_, err := c.RegisterWorker(testCtx(t), patchbay.WorkerSpec{WorkerID: id, Queues: []string{queue}, TotalCapacity: &capacity,
		Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}}})
	require.NoError(t, err)
}

func createJob(t *testing.T, c *patchbay.Client, id, queue string) {
	t.Helper()
	_, err := c.CreateJob(testCtx(t), patchbay.JobSpec{JobID: id, QueueID: queue, ChannelID: "voice"})
	require.NoError(t, err)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), durabilityWait)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, addr string) *patchbay.Client {
	t.Helper()
	nc, err := nats.Connect("nats://"+addr, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	c, err := patchbay.New(nc, patchbay.WithRetryDeadline(durabilityWait))
	require.NoError(t, err)
	return c
}

// Kill the router with SIGKILL while jobs are queued, offered and assigned, start it
// again: no job is lost, the offer still expires on time, no job is assigned twice,
// capacity is still right.
func TestSIGKILLWhileQueuedOfferedAndAssigned(t *testing.T) {
	if testing.Short() {
		t.Skip("starts router processes")
	}
	t.Parallel()
	addr, dir := freeAddr(t), t.TempDir()
	args := fmt.Sprintf("serve --http 127.0.0.1:0 --data-dir %s --nats-listen %s --log-format json --lease-ttl 2s --queue-offer-expiry offered=3s", dir, addr)
	p := startServe(t, args)
	c := connect(t, addr)
	h := follow(t, c)

	// assigned: a1 accepted by busy (capacity 1)
	register(t, c, "busy", "assigned", 1)
	createJob(t, c, "a1", "assigned")
	o := offerOf(h.waitFor(t, "offer a1", isType(events.TypeOfferIssued, "a1")))
	asg, err := c.Accept(testCtx(t), o)
	require.NoError(t, err)
	// offered: o1 offered to slow, not answered (expires 3s after issue)
	register(t, c, "slow", "offered", 1)
	createJob(t, c, "o1", "offered")
	offered := offerOf(h.waitFor(t, "offer o1", isType(events.TypeOfferIssued, "o1")))
	// queued: q1, q2 wait in a queue nobody serves
	createJob(t, c, "q1", "waiting")
	createJob(t, c, "q2", "waiting")
	h.waitFor(t, "q2 queued", isType(events.TypeJobQueued, "q2"))

	p.kill(t)
	startServe(t, args)

	// The offer still expires, not before its time.
	exp := h.waitFor(t, "o1 offer expired", isType(events.TypeOfferExpired, "o1"))
	require.Equal(t, offered.OfferID, offerOf(exp).OfferID)
	require.False(t, exp.Time().Before(offered.ExpiresAt), "expired at %s, before %s", exp.Time(), offered.ExpiresAt)

	// The assignment survived: accepting again answers with the same assignment.
	again, err := c.Accept(testCtx(t), o)
	require.NoError(t, err)
	require.Equal(t, asg, again)
	// busy's capacity is still held: a second job waits until a1 is closed.
	createJob(t, c, "a2", "assigned")
	h.waitFor(t, "a2 queued", isType(events.TypeJobQueued, "a2"))
	require.Zero(t, h.count(events.TypeOfferIssued, "a2"))
	require.NoError(t, c.Complete(testCtx(t), "a1", asg, ""))
	require.NoError(t, c.Close(testCtx(t), "a1", asg, patchbay.CloseOptions{DispositionCode: "Resolved"}))
	h.waitFor(t, "a2 offered after a1 closed", isType(events.TypeOfferIssued, "a2"))

	// The queued jobs are still there, in order.
	register(t, c, "late", "waiting", 1)
	first := offerOf(h.waitFor(t, "offer in waiting", func(ev events.Event) bool {
		return ev.Type() == string(events.TypeOfferIssued) && offerOf(ev).QueueID == "waiting"
	}))
	require.Equal(t, "q1", first.JobID)

	for _, j := range []string{"a1", "o1", "q1", "q2", "a2"} {
		require.Equal(t, 1, h.count(events.TypeJobQueued, j), "job %s queued once", j)
		require.LessOrEqual(t, h.count(events.TypeJobAssigned, j), 1, "job %s assigned at most once", j)
	}
}

// Kill the router in the middle of a busy run of auto-accepting workers: after a
// restart every job is closed exactly once, and assigned exactly once.
func TestSIGKILLUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts router processes")
	}
	t.Parallel()
	const jobs = 60
	addr, dir := freeAddr(t), t.TempDir()
	// The lease outlives the restart: the new router owns the data directory, so it
	// takes the dead one's lease at once instead of waiting a minute.
	args := fmt.Sprintf("serve --http 127.0.0.1:0 --data-dir %s --nats-listen %s --log-format json --lease-ttl 1m --offer-expiry 5s", dir, addr)
	p := startServe(t, args)
	c := connect(t, addr)
	h := follow(t, c)
	var mu sync.Mutex
	var failures []string
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("w%d", i)
		sub, err := c.OnOffer(id, func(n patchbay.OfferNotice) {
			if n.Type != events.TypeOfferIssued {
				return
			}
			go func() {
				if err := work(c, n.Offer); err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}()
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = sub.Unsubscribe() })
		register(t, c, id, "load", 2)
	}
	for i := 0; i < jobs; i++ {
		createJob(t, c, fmt.Sprintf("job%03d", i), "load")
		if i == jobs/3 || i == 2*jobs/3 {
			p.kill(t)
			p = startServe(t, args)
		}
	}
	for i := 0; i < jobs; i++ {
		id := fmt.Sprintf("job%03d", i)
		h.waitFor(t, id+" closed", isType(events.TypeJobClosed, id))
	}
	for i := 0; i < jobs; i++ {
		id := fmt.Sprintf("job%03d", i)
		require.Equal(t, 1, h.count(events.TypeJobAssigned, id), "%s assigned once", id)
		require.Equal(t, 1, h.count(events.TypeJobClosed, id), "%s closed once", id)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Empty(t, failures, "every complete and close a worker sent succeeded")
}

// work accepts, completes and closes an offer, retrying through router restarts
// (the client resends with the same command id). An accept may be refused (the
// offer expired while the router was down: the job moves on); once a job is
// accepted, its complete and close must succeed.
func work(c *patchbay.Client, o patchbay.Offer) error {
	ctx, cancel := context.WithTimeout(context.Background(), durabilityWait)
	defer cancel()
	asg, err := c.Accept(ctx, o)
	if err != nil {
		return nil
	}
	if err := c.Complete(ctx, o.JobID, asg, ""); err != nil {
		return fmt.Errorf("complete %s: %w", o.JobID, err)
	}
	if err := c.Close(ctx, o.JobID, asg, patchbay.CloseOptions{DispositionCode: "Resolved"}); err != nil {
		return fmt.Errorf("close %s: %w", o.JobID, err)
	}
	return nil
}

// SIGTERM drains the router and exits 0; the next start finds everything in place.
func TestSIGTERMStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts router processes")
	}
	t.Parallel()
	addr, dir := freeAddr(t), t.TempDir()
	args := fmt.Sprintf("serve --http 127.0.0.1:0 --data-dir %s --nats-listen %s --log-format json", dir, addr)
	p := startServe(t, args)
	c := connect(t, addr)
	createJob(t, c, "kept", "q")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
	case <-time.After(durabilityWait):
		t.Fatal("patchbay serve did not exit after SIGTERM")
	}
	require.Equal(t, 0, p.cmd.ProcessState.ExitCode(), p.output())
	require.Contains(t, p.output(), "router stopped")

	// The lease was released: a new router starts at once and has the job.
	startServe(t, args)
	h := follow(t, c)
	register(t, c, "w", "q", 1)
	h.waitFor(t, "kept offered", isType(events.TypeOfferIssued, "kept"))
}

// With --nats-url the router uses an existing deployment and embeds nothing.
func TestServeWithNATSURL(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	httpAddr := freeAddr(t)
	stop := serveInBackground(t, "--http", httpAddr, "--nats-url", ns.ClientURL(), "--log-format", "json", "--log-level", "warn")
	c := connect(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	register(t, c, "w", "q", 1) // retried by the client until the router answers
	h := follow(t, c)           // from the start of the stream the router made
	createJob(t, c, "j", "q")
	h.waitFor(t, "offer", isType(events.TypeOfferIssued, "j"))
	// The HTTP listener answers for the active router.
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  `"status":"active"`,
		"/metrics": `patchbay_commands_applied_total{type="job.created"} 1`,
		// and serves the dashboard, which reads through the router
		"/":           `<script src="/static/app.js"`,
		"/api/jobs/j": `"jobId":"j"`,
	} {
		code, body := httpGet(t, "http://"+httpAddr+path)
		require.Equal(t, http.StatusOK, code, path)
		require.Contains(t, body, want, path)
	}
	stop()
}

// --dashboard=false leaves the dashboard out of the listener; the probes stay.
func TestServeWithoutDashboard(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	httpAddr := freeAddr(t)
	stop := serveInBackground(t, "--http", httpAddr, "--dashboard=false", "--nats-url", ns.ClientURL(), "--log-format", "json", "--log-level", "warn")
	c := connect(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	register(t, c, "w", "q", 1) // the router answers: the listener is up
	for path, want := range map[string]int{"/healthz": http.StatusOK, "/": http.StatusNotFound, "/api/events": http.StatusNotFound} {
		code, _ := httpGet(t, "http://"+httpAddr+path)
		require.Equal(t, want, code, path)
	}
	stop()
}
