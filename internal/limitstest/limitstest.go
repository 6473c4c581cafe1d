// Package limitstest builds the largest payloads the limits in events/limits.go
// allow, for tests: every string at its byte limit, written with characters that
// JSON escapes as six bytes (\u00XX), every list and map at its count limit. A test
// that sends them checks that a command at every limit at once is still accepted, and
// that the router copes with the largest jobs and workers.
package limitstest

import (
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/events"
)

// ChannelID is the channel of LargestJobCreated, and the first channel of
// LargestWorkerRegister: an id of MaxIDBytes.
var ChannelID = ID("channel")

// ID returns an id of exactly events.MaxIDBytes bytes starting with prefix.
func ID(prefix string) string {
	return prefix + strings.Repeat("x", events.MaxIDBytes-len(prefix))
}

// escaped are control characters that every JSON encoder must write as \u00XX (six
// bytes), unlike \b, \t, \n, \f and \r, which have two-byte escapes.
var escaped = []byte{
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0b, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
}

// Escaped returns a string of n bytes, each a character JSON escapes as six bytes,
// distinct for distinct i.
func Escaped(i, n int) string {
	b := make([]byte, n)
	for j := range b {
		b[j] = escaped[0]
	}
	// Write i in base len(escaped) at the start, so that keys differ.
	for j := 0; i > 0 && j < n; j++ {
		b[j] = escaped[i%len(escaped)]
		i /= len(escaped)
	}
	return string(b)
}

// Labels returns MaxLabels labels, each key MaxKeyBytes long, exactly MaxLabelsBytes
// in all (events.LabelsSize): the first MaxLabels-1 have string values of
// MaxLabelValueBytes, the last an array of strings that fills the rest.
// LargestJobCreated and LargestWorkerRegister have them.
func Labels() events.Labels {
	l := events.Labels{}
	for i := range events.MaxLabels - 1 {
		l[Escaped(i, events.MaxKeyBytes)] = Escaped(i, events.MaxLabelValueBytes)
	}
	last := Escaped(events.MaxLabels-1, events.MaxKeyBytes)
	l[last] = []any{}
	var arr []any
	for i := 0; ; i++ {
		l[last] = arr
		rem := events.MaxLabelsBytes - events.LabelsSize(l)
		if rem <= 0 {
			break
		}
		cost := 2 // the quotes, and a comma after the first element
		if i > 0 {
			cost = 3
		}
		n := min(events.MaxLabelValueBytes, rem-cost)
		if left := rem - cost - n; left > 0 && left < 3 { // too little for one more
			n -= 3 - left
		}
		arr = append(arr, Escaped(i, n))
	}
	l[last] = arr
	return l
}

// Tags returns MaxTags tags, each key MaxKeyBytes and each value a string of
// MaxTagValueBytes.
func Tags() map[string]any {
	t := map[string]any{}
	for i := range events.MaxTags {
		t[Escaped(i, events.MaxKeyBytes)] = Escaped(i, events.MaxTagValueBytes)
	}
	return t
}

// LargestJobCreated returns a job.created payload at every size limit: the longest
// channel id, channelReference and notes, MaxLabels labels, MaxTags tags and
// MaxWorkerSelectors selectors, keys and values at their byte limits, every free-form
// character one that JSON escapes as six bytes. Its selectors (greaterThanOrEqual,
// on the first labels of Labels, with the same values) are satisfied by a worker
// with Labels, such as LargestWorkerRegister. The time to live and the selectors'
// expiry are MaxDurationSeconds, the priority MaxPriority.
func LargestJobCreated(jobID, queueID string) *events.JobCreated {
	labels := Labels()
	sel := make([]events.WorkerSelector, 0, events.MaxWorkerSelectors)
	for i := range events.MaxWorkerSelectors {
		sel = append(sel, events.WorkerSelector{
			Key:                 Escaped(i, events.MaxKeyBytes),
			Operator:            events.OpGreaterThanOrEqual, // the longest operator
			Value:               labels[Escaped(i, events.MaxKeyBytes)],
			ExpiresAfterSeconds: events.MaxDurationSeconds,
			Expedite:            true,
		})
	}
	return &events.JobCreated{
		JobID:             jobID,
		QueueID:           queueID,
		ChannelID:         ChannelID,
		ChannelReference:  Escaped(0, events.MaxReferenceBytes),
		Priority:          events.MaxPriority,
		Labels:            labels,
		Tags:              Tags(),
		WorkerSelectors:   sel,
		Notes:             Escaped(0, events.MaxNoteBytes),
		TimeToLiveSeconds: events.MaxDurationSeconds,
	}
}

// LargestWorkerRegister returns a worker.register payload at every size limit:
// MaxLabels labels (those of Labels, so it satisfies LargestJobCreated's
// selectors), MaxTags tags, MaxWorkerQueues queues (queueID first, then ids of
// MaxIDBytes) and MaxWorkerChannels channels (ChannelID first), each taking 1 of
// capacity (its totalCapacity) with no cap on the number of jobs.
func LargestWorkerRegister(workerID, queueID string, capacity int) *events.WorkerRegister {
	queues := []string{queueID}
	for i := 1; i < events.MaxWorkerQueues; i++ {
		queues = append(queues, ID(fmt.Sprintf("queue-%d-", i)))
	}
	channels := []events.ChannelConfig{{ChannelID: ChannelID, CapacityCostPerJob: 1}}
	for i := 1; i < events.MaxWorkerChannels; i++ {
		channels = append(channels, events.ChannelConfig{ChannelID: ID(fmt.Sprintf("channel-%d-", i)), CapacityCostPerJob: 1})
	}
	available := true
	return &events.WorkerRegister{
		WorkerID:           workerID,
		Labels:             Labels(),
		Tags:               Tags(),
		Queues:             queues,
		TotalCapacity:      &capacity,
		Channels:           channels,
		AvailableForOffers: &available,
	}
}
