package router

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/natsserver"
)

// The consumer counts as lost when the broker says it was deleted, or when the
// heartbeats stopped and a look-up does not find it (its stream was deleted, which a
// pull is not told); missed heartbeats with the consumer still there, or any other
// error, are not a loss.
func TestConsumerLost(t *testing.T) {
	ns, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r, err := New(nc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.ensureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.makeConsumer(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(err error, want bool) {
		t.Helper()
		if got := r.consumerLost(ctx, err); got != want {
			t.Errorf("consumerLost(%v) = %v, want %v", err, got, want)
		}
	}
	check(jetstream.ErrConsumerDeleted, true)
	check(jetstream.ErrNoHeartbeat, false) // it is there
	check(errors.New("something else"), false)
	if err := r.js.DeleteStream(ctx, events.StreamIn); err != nil {
		t.Fatal(err)
	}
	check(jetstream.ErrNoHeartbeat, true)
}
