package patchbay

import (
	"context"
	"time"

	"github.com/patchbay/patchbay/events"
)

// HeartbeatDefault is the heartbeat `patchbay worker run` uses: a worker that stops
// sending it is marked lost after events.PresenceTimeout(3), 10 s.
const HeartbeatDefault = 3 * time.Second

// Heartbeat tells the router that a worker is present: a core NATS message on
// patchbay.presence.<workerId>, nothing stored. It matters only for a worker
// registered with HeartbeatSeconds; a lost worker's heartbeat makes it online again.
func (c *Client) Heartbeat(workerID string) error {
	if err := events.CheckID("workerId", workerID); err != nil {
		return err
	}
	return c.nc.Publish(events.PresenceSubject(workerID), nil)
}

// KeepPresent sends a worker's heartbeat at once and then every interval until ctx
// is done, in a goroutine of its own. Register the worker with HeartbeatSeconds of at
// least the interval (rounded up to a second). Heartbeats that cannot be sent (the
// connection is down) are skipped: the router marks the worker lost if that lasts
// longer than its presence timeout, and online again at the next one that arrives.
func (c *Client) KeepPresent(ctx context.Context, workerID string, interval time.Duration) error {
	if err := events.CheckID("workerId", workerID); err != nil {
		return err
	}
	if interval <= 0 {
		interval = HeartbeatDefault
	}
	_ = c.Heartbeat(workerID)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = c.Heartbeat(workerID)
			}
		}
	}()
	return nil
}

// HeartbeatSeconds is the heartbeatSeconds to register a worker with that sends its
// heartbeat every interval.
func HeartbeatSeconds(interval time.Duration) int {
	return int((interval + time.Second - 1) / time.Second)
}
