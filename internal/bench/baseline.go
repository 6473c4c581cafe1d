package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Baseline is raw JetStream on the same server, measured in the same run just before
// patchbay: what the router's figures are compared with.
type Baseline struct {
	// Stream is the scratch stream (file storage, deleted afterwards).
	Stream   string `json:"stream"`
	Replicas int    `json:"replicas"`
	// MsgBytes is the size of each message: an encoded job.created like the run's.
	MsgBytes int `json:"msgBytes"`
	// AsyncMsgs messages were published asynchronously (PublishAsyncMaxPending
	// outstanding), from the first publish to the last acknowledgement.
	AsyncMsgs    int     `json:"asyncMsgs"`
	AsyncPublish float64 `json:"asyncPublishPerSecond"`
	// SyncMsgs messages were published one at a time, each waiting for its
	// acknowledgement, paced at SyncRate per second (0: flat out).
	SyncMsgs   int     `json:"syncMsgs"`
	SyncRate   float64 `json:"syncRate,omitempty"`
	PublishAck Latency `json:"publishToAck"`
	// Chain is the raw relay chain at the run's pace (nil in backlog mode).
	Chain *Chain `json:"chain,omitempty"`
}

// measureBaseline publishes to a scratch stream: asyncMsgs messages asynchronously,
// then syncMsgs synchronously at rate per second (0: flat out), and deletes the stream.
// A publish waits up to stall for room among the PublishMaxPending.
func measureBaseline(ctx context.Context, js jetstream.JetStream, name string, replicas, asyncMsgs, syncMsgs int,
	rate float64, msg []byte, stall time.Duration, progress func(string)) (b Baseline, err error) {
	b = Baseline{Stream: name, Replicas: replicas, MsgBytes: len(msg), SyncRate: rate}
	subject := "patchbaybench." + strings.ToLower(name)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "patchbay bench: raw JetStream baseline (scratch, deleted after the measurement)",
		Subjects:    []string{subject},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	}); err != nil {
		return b, fmt.Errorf("baseline: create stream %s: %w", name, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := js.DeleteStream(dctx, name); derr != nil {
			err = errors.Join(err, fmt.Errorf("baseline: delete stream %s: %w", name, derr))
		}
	}()

	progress(fmt.Sprintf("baseline: %d async publishes of %d B to %s (R%d)", asyncMsgs, len(msg), name, replicas))
	start := time.Now()
	futures := make([]jetstream.PubAckFuture, 0, asyncMsgs)
	for range asyncMsgs {
		f, err := js.PublishAsync(subject, msg, jetstream.WithStallWait(stall))
		if err != nil {
			return b, fmt.Errorf("baseline: async publish: %w", err)
		}
		futures = append(futures, f)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return b, fmt.Errorf("baseline: %w", context.Cause(ctx))
	}
	elapsed := time.Since(start)
	for _, f := range futures {
		select {
		case err := <-f.Err():
			return b, fmt.Errorf("baseline: async publish: %w", err)
		default:
		}
	}
	b.AsyncMsgs = asyncMsgs
	b.AsyncPublish = float64(asyncMsgs) / elapsed.Seconds()

	pace := "flat out"
	if rate > 0 {
		pace = fmt.Sprintf("at %g/s", rate)
	}
	progress(fmt.Sprintf("baseline: %d synchronous publishes %s", syncMsgs, pace))
	ds := make([]time.Duration, 0, syncMsgs)
	start = time.Now()
	for i := range syncMsgs {
		waitTurn(ctx, start, i, rate, nil) // a publish after ctx ends fails on it
		sent := time.Now()
		if _, err := js.Publish(ctx, subject, msg); err != nil {
			return b, fmt.Errorf("baseline: publish: %w", err)
		}
		ds = append(ds, time.Since(sent))
	}
	b.SyncMsgs = syncMsgs
	b.PublishAck = latency(ds)
	return b, nil
}
