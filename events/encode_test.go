package events_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

// Encode gives the same event as Structured(New(...)): same attributes, same data.
func TestEncodeMatchesTheSDK(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	cases := []struct {
		typ              events.Type
		id, src, subject string
		data             any
	}{
		{events.TypeJobQueued, "ev1", events.RouterSource, "job-1", &events.Job{JobID: "job-1", QueueID: "q", Status: "queued", Labels: events.Labels{"a": "<b>&\"c\"", "n": 2.5}}},
		{events.TypeOfferIssued, "ev2", events.RouterSource, "", &events.Offer{OfferID: "o", JobID: "j", WorkerID: "w"}},
		{events.TypeCommandFailed, "ev-\u00e9", "/src \"q\"", "sub\\ject", events.CommandFailure{Subject: "s", Error: events.Errorf(events.CodeInternal, "", "x")}},
	}
	for _, c := range cases {
		got, err := events.Encode(c.typ, c.id, c.src, c.subject, at, c.data)
		require.NoError(t, err)
		ev, err := events.New(c.typ, c.id, c.src, c.subject, at, c.data)
		require.NoError(t, err)
		want, err := events.Structured(ev)
		require.NoError(t, err)

		a, err := events.Decode(nil, got)
		require.NoError(t, err, "%s", got)
		b, err := events.Decode(nil, want)
		require.NoError(t, err)
		require.Equal(t, b.ID(), a.ID())
		require.Equal(t, b.Type(), a.Type())
		require.Equal(t, b.Source(), a.Source())
		require.Equal(t, b.Subject(), a.Subject())
		require.True(t, b.Time().Equal(a.Time()))
		require.Equal(t, b.DataContentType(), a.DataContentType())
		require.JSONEq(t, string(b.Data()), string(a.Data()))
		var whole map[string]any
		require.NoError(t, json.Unmarshal(got, &whole))
		require.Len(t, whole, map[bool]int{true: 8, false: 7}[c.subject != ""])
	}
	_, err := events.Encode(events.TypeJobQueued, "", events.RouterSource, "", at, nil)
	require.Error(t, err)
}

func BenchmarkEncode(b *testing.B) {
	at := time.Now()
	job := &events.Job{JobID: "job-1", QueueID: "q", Status: "queued", Labels: events.Labels{"skill": "en", "tier": 2.0}}
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = events.Encode(events.TypeJobQueued, "ev1", events.RouterSource, "job-1", at, job)
		}
	})
	b.Run("NewStructured", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev, _ := events.New(events.TypeJobQueued, "ev1", events.RouterSource, "job-1", at, job)
			_, _ = events.Structured(ev)
		}
	})
}
