package router_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/router"
)

// A record fails to be stored while the commands after it are being applied: before
// it is written, or after it is written and before its KV writes. The router reloads
// and applies the commands again in stream order: every job is received once, and the
// queue holds them in the order they were sent.
func TestFailedRecordIsAppliedAgainInOrder(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"record", "written"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			e := start(t, router.Config{})
			var commits, failed atomic.Int32
			router.SetFaultHook(e.router, func(p string) error {
				if p != point {
					return nil
				}
				// Fail the second record, and the first attempt to store it again.
				if n := commits.Add(1); n == 2 || n == 3 {
					failed.Add(1)
					return errors.New("injected: storage unavailable")
				}
				return nil
			})
			const n = 60
			publishJob(t, e.nc, "ce-0", "j00")
			e.jobEvent(events.TypeJobQueued, "j00") // the first record is stored
			for i := 1; i < n; i++ {
				publishJob(t, e.nc, fmt.Sprintf("ce-%d", i), fmt.Sprintf("j%02d", i))
			}
			queued := map[string]bool{"j00": true}
			for len(queued) < n {
				queued[e.next(events.TypeJobQueued, nil).job().JobID] = true
			}
			// At "written" the failed record's replay may publish every job before
			// the record answering them from it is stored (and fails again).
			require.Eventually(t, func() bool { return failed.Load() == 2 }, waitFor, 10*time.Millisecond, "both faults were injected")
			for subject, c := range eventCounts(t, e.nc, "patchbay.events.job.q.*.received") {
				require.Equal(t, uint64(1), c, "%s stored %d times", subject, c)
			}
			for i := range n {
				info, err := e.client.JobInfo(ctx(t), fmt.Sprintf("j%02d", i))
				require.NoError(t, err)
				require.Equal(t, i+1, info.Position, "j%02d keeps its place in the queue", i)
			}
		})
	}
}

// Making the pending KV writes at rest fails: the router reloads before it applies
// the next command, replaying the last record and the pending ones it names, so
// every write is made and the next command applies to the state as it was.
func TestFailedFlushIsReplayed(t *testing.T) {
	t.Parallel()
	e := start(t, router.Config{})
	var failed atomic.Int32
	router.SetFaultHook(e.router, func(p string) error {
		if p == "flush" && failed.Add(1) == 1 {
			return errors.New("injected: storage unavailable")
		}
		return nil
	})
	publishJob(t, e.nc, "ce-a", "a")
	e.jobEvent(events.TypeJobQueued, "a")
	require.Eventually(t, func() bool { return failed.Load() >= 1 }, waitFor, 10*time.Millisecond, "the flush failed")
	jobs := bucket(t, e.nc, events.BucketJobs)
	_, err := jobs.Get(ctx(t), "a")
	require.Error(t, err, "a's write was not made")

	publishJob(t, e.nc, "ce-b", "b")
	e.jobEvent(events.TypeJobQueued, "b")
	for _, id := range []string{"a", "b"} {
		require.Eventually(t, func() bool {
			_, err := jobs.Get(ctx(t), id)
			return err == nil
		}, waitFor, 10*time.Millisecond, id)
	}
	info, err := e.client.JobInfo(ctx(t), "b")
	require.NoError(t, err)
	require.Equal(t, 2, info.Position, "b queued behind a")
}
