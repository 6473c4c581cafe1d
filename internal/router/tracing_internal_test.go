package router

import (
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
)

// A command without a trace context, with spans off and the log above debug, costs
// no allocation for tracing: receive, applied, stamp and logDecisions do nothing.
func TestUntracedCommandAllocatesNothing(t *testing.T) {
	r := &Router{log: zerolog.New(io.Discard).Level(zerolog.InfoLevel)}
	body, err := events.Encode(events.TypeJobQueued, "ev1", events.RouterSource, "j1", time.Now(), map[string]string{"jobId": "j1"})
	if err != nil {
		t.Fatal(err)
	}
	evs := []matcher.Outbound{{Subject: "patchbay.events.job.q.j1.queued", ID: "ev1", Body: body}}
	taken := time.Now()
	allocs := testing.AllocsPerRun(200, func() {
		tr := r.receive(events.TraceContext{}, "patchbay.in.job.created", "c1", taken)
		r.applied(&tr, "patchbay.in.job.created", "c1", taken)
		stamp(evs, tr.out)
		r.logDecisions("c1", nil, evs)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per untraced command", allocs)
	}
	if &evs[0].Body[0] != &body[0] {
		t.Fatal("an untraced event's body was rewritten")
	}
}

func TestTraceKey(t *testing.T) {
	for subject, want := range map[string]string{
		"patchbay.events.job.q1.j1.queued":        "job.j1",
		"patchbay.events.offer.w1.j1.expired":     "job.j1",
		"patchbay.events.worker.w1.disconnected":  "worker.w1",
		"patchbay.events.policy.queue.q1.updated": "policy.queue.q1",
		"patchbay.events.command.failed":          "command",
	} {
		if got := traceKey(subject); got != want {
			t.Errorf("traceKey(%q) = %q, want %q", subject, got, want)
		}
	}
}
