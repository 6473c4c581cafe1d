package matcher

import (
	"fmt"
	"testing"
	"time"

	"github.com/patchbay/patchbay/events"
)

// scaleEngine registers n available workers (label agent=a<i>, one queue, room for
// many jobs) and queues n jobs that no worker can take.
func scaleEngine(b *testing.B, n int) *Engine {
	b.Helper()
	ids := &idSeq{}
	e, err := New(Config{NewID: ids.next})
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	capacity := 1 << 20
	for i := range n {
		res := e.Apply(Command{ID: fmt.Sprintf("r%d", i), Type: events.TypeWorkerRegister, Data: &events.WorkerRegister{
			WorkerID: fmt.Sprintf("w%d", i), Queues: []string{"q"}, TotalCapacity: &capacity,
			Labels:   events.Labels{"agent": fmt.Sprintf("a%d", i), "language": "en"},
			Channels: []events.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}},
		}}, now)
		if res.Err != nil {
			b.Fatal(res.Err)
		}
	}
	for i := range n {
		res := e.Apply(Command{ID: fmt.Sprintf("c%d", i), Type: events.TypeJobCreated, Data: &events.JobCreated{
			JobID: fmt.Sprintf("waiting%d", i), QueueID: "q", ChannelID: "voice",
			WorkerSelectors: []events.WorkerSelector{{Key: "agent", Operator: events.OpEqual, Value: "nobody"}},
		}}, now)
		if res.Err != nil {
			b.Fatal(res.Err)
		}
	}
	return e
}

// BenchmarkOfferScale is the cost of offering a job (create, match, offer; then
// cancel, to keep the state the same) with n registered workers and n queued jobs.
// With an equality selector the worker index finds the candidates, so the cost does
// not grow with n; without selectors every available worker of the queue is a
// candidate.
func BenchmarkOfferScale(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		e := scaleEngine(b, n)
		now := t0.Add(time.Second)
		i := 0 // job ids stay unique over the runs on this engine (-count)
		for _, mode := range []string{"equality", "no-selectors"} {
			b.Run(fmt.Sprintf("workers=%d/jobs=%d/%s", n, n, mode), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					id := fmt.Sprintf("%s-%d", mode, i)
					d := &events.JobCreated{JobID: id, QueueID: "q", ChannelID: "voice"}
					if mode == "equality" {
						d.WorkerSelectors = []events.WorkerSelector{{Key: "agent", Operator: events.OpEqual, Value: fmt.Sprintf("a%d", i%n)}}
					}
					res := e.Apply(Command{ID: "x" + id, Type: events.TypeJobCreated, Data: d}, now)
					if res.Err != nil || len(e.jobs[id].OfferIDs) != 1 {
						b.Fatalf("job %s not offered: %v", id, res.Err)
					}
					e.Apply(Command{ID: "y" + id, Type: events.TypeJobCancel, Data: &events.JobCancel{JobID: id}}, now)
					i++
				}
			})
		}
	}
}
