package router_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

// logBuffer is a log a test waits on.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{}
}

func newLogBuffer() *logBuffer { return &logBuffer{written: make(chan struct{}, 1)} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.written <- struct{}{}:
	default:
	}
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(waitFor)
	for !strings.Contains(l.String(), want) {
		select {
		case <-l.written:
		case <-timeout:
			t.Fatalf("the log never said %q:\n%s", want, l.String())
		}
	}
}

// A router that died without releasing its lease leaves it unexpired for a long time.
// A router that owns the store (its process holds the data directory, so no other
// router can be alive) takes the lease over at once; one that does not stands by.
func TestOwnsStoreTakesOverADeadRoutersLease(t *testing.T) {
	t.Parallel()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	first := startRouter(t, nc, router.Config{}) // makes the buckets
	require.NoError(t, first.Stop(ctx(t)))

	// As if the router had been killed: its lease runs for another hour. (Key
	// `leader` in PATCHBAY_ROUTER, see docs/design.md.)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	kv, err := js.KeyValue(ctx(t), events.BucketRouter)
	require.NoError(t, err)
	until := time.Now().Add(time.Hour)
	dead, err := json.Marshal(map[string]any{"holder": "dead-router", "until": until})
	require.NoError(t, err)
	_, err = kv.Put(ctx(t), "leader", dead)
	require.NoError(t, err)

	// Without OwnsStore: it stands by.
	standbyLog := newLogBuffer()
	sl := zerolog.New(standbyLog)
	standby, err := router.New(natstest.Connect(t, ns.ClientURL()), router.Config{Logger: &sl})
	require.NoError(t, err)
	sctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	go func() { started <- standby.Start(sctx) }()
	standbyLog.waitFor(t, "standing by")
	cancel()
	select {
	case err := <-started:
		require.ErrorContains(t, err, "waiting for the lease")
	case <-time.After(waitFor):
		t.Fatal("the standby did not give up when its context ended")
	}
	e, err := kv.Get(ctx(t), "leader")
	require.NoError(t, err)
	require.Contains(t, string(e.Value()), "dead-router", "the standby left the lease alone")

	// With OwnsStore: it takes over at once, long before the lease would expire.
	ownerLog := newLogBuffer()
	ol := zerolog.New(ownerLog)
	began := time.Now()
	env := startOn(t, ns.ClientURL(), router.Config{OwnsStore: true, Logger: &ol})
	took := time.Since(began)
	t.Logf("the owner started in %s", took)
	require.Less(t, took, router.LeaseTTLDefault, "took over without waiting for a lease to run out")
	require.Contains(t, ownerLog.String(), "took over the lease of a router that died")
	require.Contains(t, ownerLog.String(), "dead-router")
	env.register("alice", []string{"q"}, nil)
	env.createJob("j1", "q")
	env.offerFor("alice", "j1")
}
