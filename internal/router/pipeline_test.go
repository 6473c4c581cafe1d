package router_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
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
