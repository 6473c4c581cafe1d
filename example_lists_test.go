package patchbay_test

import (
	"context"
	"fmt"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/router"
)

// A dashboard pages through the queued jobs, oldest first, following Next.
func ExampleClient_ListJobs() {
	nc, stop := runRouter(router.Config{})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := patchbay.New(nc)
	for _, id := range []string{"call-1", "call-2", "call-3"} {
		if _, err := c.CreateJob(ctx, patchbay.JobSpec{JobID: id, QueueID: "support", ChannelID: "voice"}); err != nil {
			panic(err)
		}
	}

	opts := patchbay.ListJobsOptions{Status: "queued", Limit: 2}
	for page := 1; ; page++ {
		list, err := c.ListJobs(ctx, opts)
		if err != nil {
			panic(err)
		}
		for _, j := range list.Jobs {
			fmt.Printf("page %d: %s, position %d of %d\n", page, j.Job.JobID, j.Position, j.QueueLength)
		}
		if list.Next == "" {
			break
		}
		opts.After = list.Next
	}
	// Output:
	// page 1: call-1, position 1 of 3
	// page 1: call-2, position 2 of 3
	// page 2: call-3, position 3 of 3
}

// A supervisor asks why a job waits: the one worker of its queue speaks French.
func ExampleClient_ExplainJob() {
	nc, stop := runRouter(router.Config{})
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := patchbay.New(nc)
	capacity := 1
	_, err := c.RegisterWorker(ctx, patchbay.WorkerSpec{
		WorkerID: "bob", Queues: []string{"support"}, TotalCapacity: &capacity,
		Labels:   patchbay.Labels{"language": "fr"},
		Channels: []patchbay.ChannelConfig{{ChannelID: "voice", CapacityCostPerJob: 1}},
	})
	if err != nil {
		panic(err)
	}
	_, err = c.CreateJob(ctx, patchbay.JobSpec{
		JobID: "call-4711", QueueID: "support", ChannelID: "voice",
		WorkerSelectors: []patchbay.WorkerSelector{{Key: "language", Operator: "equal", Value: "en"}},
	})
	if err != nil {
		panic(err)
	}

	x, err := c.ExplainJob(ctx, "call-4711", 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(x.Summary)
	for _, w := range x.Workers {
		fmt.Printf("%s: %s (%s)\n", w.WorkerID, w.Reason, w.Message)
	}
	// Output:
	// the job waits in queue support: no worker can take it now (see each worker's reason)
	// bob: selector (selector language equal en fails: its language is fr)
}
