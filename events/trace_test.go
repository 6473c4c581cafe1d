package events_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

const validTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// traceCommand is a job.cancel command with the given extension attributes, in the
// structured mode (a JSON body) and in the binary mode (ce- headers).
func traceCommand(ext map[string]string) (structured []byte, header map[string][]string, body []byte) {
	m := map[string]any{"specversion": "1.0", "id": "e1", "source": "/t", "type": string(events.TypeJobCancel), "data": map[string]any{"jobId": "j"}}
	header = map[string][]string{"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-source": {"/t"}, "ce-type": {string(events.TypeJobCancel)}, "Content-Type": {"application/json"}}
	for k, v := range ext {
		m[k] = v
		header["ce-"+k] = []string{v}
	}
	structured, _ = json.Marshal(m)
	return structured, header, []byte(`{"jobId":"j"}`)
}

func TestTraceParentDecoded(t *testing.T) { // not parallel: AllocsPerRun
	s, h, b := traceCommand(map[string]string{"traceparent": validTP, "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"})
	for mode, decode := range map[string]func() (events.Event, error){
		"structured": func() (events.Event, error) { return events.Decode(nil, s) },
		"binary":     func() (events.Event, error) { return events.Decode(h, b) },
	} {
		e, err := decode()
		require.NoError(t, err, mode)
		tc, ok := events.TraceOf(e)
		require.True(t, ok, mode)
		require.Equal(t, validTP, tc.TraceParent(), mode)
		require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", tc.TraceIDString(), mode)
		require.True(t, tc.Sampled(), mode)
		require.Equal(t, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", tc.State, mode)
	}
	// No trace context: none, and no allocation to find that out.
	s, h, b = traceCommand(nil)
	e, err := events.Decode(nil, s)
	require.NoError(t, err)
	_, ok := events.TraceOf(e)
	require.False(t, ok)
	require.Zero(t, testing.AllocsPerRun(100, func() { events.TraceOf(e) }))
	e, err = events.Decode(h, b)
	require.NoError(t, err)
	_, ok = events.TraceOf(e)
	require.False(t, ok)
	// A tracestate alone is checked, then ignored.
	s, _, _ = traceCommand(map[string]string{"tracestate": "rojo=1"})
	e, err = events.Decode(nil, s)
	require.NoError(t, err)
	_, ok = events.TraceOf(e)
	require.False(t, ok)
}

// TestTraceParentHostile: an invalid traceparent or tracestate refuses the command,
// naming the attribute (its ce- header in the binary mode).
func TestTraceParentHostile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, attr, value string
		wantErr           error
		wantMessage       string
	}{
		{"too long", "traceparent", validTP + "-" + strings.Repeat("0", events.MaxTraceParentBytes), events.ErrInvalidData, "the limit is 128"},
		{"uppercase", "traceparent", strings.ToUpper(validTP), events.ErrMalformed, "lowercase hex"},
		{"trace id zero", "traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", events.ErrMalformed, "trace id is all zeros"},
		{"parent id zero", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", events.ErrMalformed, "parent id is all zeros"},
		{"version ff", "traceparent", "ff" + validTP[2:], events.ErrMalformed, "not ff"},
		{"version 00 too long", "traceparent", validTP + "-00", events.ErrMalformed, "exactly 55"},
		{"later version without dash", "traceparent", "01" + validTP[2:] + "x", events.ErrMalformed, "follow a '-'"},
		{"garbage", "traceparent", "hello, world", events.ErrMalformed, "wrong length"},
		{"empty", "traceparent", "", events.ErrMalformed, "not a W3C traceparent"},
		{"short trace id", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-011", events.ErrMalformed, "wrong length or layout"},
		{"not hex", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", events.ErrMalformed, "trace id must be"},
		{"flags not hex", "traceparent", validTP[:53] + "0x", events.ErrMalformed, "flags"},
		{"tracestate too long", "tracestate", "a=" + strings.Repeat("v", events.MaxTraceStateBytes), events.ErrInvalidData, "the limit is 512"},
		{"tracestate garbage", "tracestate", "no equals sign", events.ErrMalformed, "not key=value"},
		{"tracestate uppercase key", "tracestate", "Rojo=1", events.ErrMalformed, "not key=value"},
		{"tracestate control character", "tracestate", "rojo=a\tb", events.ErrMalformed, "not key=value"},
		{"tracestate too many members", "tracestate", strings.Repeat("k=v,", 33), events.ErrMalformed, "more than 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ext := map[string]string{tc.attr: tc.value}
			if tc.attr == "tracestate" {
				ext["traceparent"] = validTP
			}
			s, h, b := traceCommand(ext)
			_, err := events.Decode(nil, s)
			require.ErrorIs(t, err, tc.wantErr)
			require.Equal(t, tc.attr, events.AsError(err).Field)
			require.Contains(t, events.AsError(err).Message, tc.wantMessage)
			if tc.value == "" || strings.ContainsAny(tc.value, "\t") {
				return // NATS headers cannot carry these as they are
			}
			_, err = events.Decode(h, b)
			require.ErrorIs(t, err, tc.wantErr)
			require.Equal(t, "ce-"+tc.attr, events.AsError(err).Field)
		})
	}
	// Not a string, or the same name in other case.
	for _, body := range []string{
		`{"specversion":"1.0","id":"e1","source":"/t","type":"io.patchbay.job.cancel","traceparent":5,"data":{"jobId":"j"}}`,
		`{"specversion":"1.0","id":"e1","source":"/t","type":"io.patchbay.job.cancel","TraceParent":true,"data":{"jobId":"j"}}`,
		`{"specversion":"1.0","id":"e1","source":"/t","type":"io.patchbay.job.cancel","TRACEPARENT":"00-x","data":{"jobId":"j"}}`,
	} {
		_, err := events.Decode(nil, []byte(body))
		require.ErrorIs(t, err, events.ErrMalformed, body)
	}
	// A later version is read as version 00.
	s, _, _ := traceCommand(map[string]string{"traceparent": "cc" + validTP[2:] + "-what-comes-next"})
	e, err := events.Decode(nil, s)
	require.NoError(t, err)
	got, ok := events.TraceOf(e)
	require.True(t, ok)
	require.Equal(t, validTP, got.TraceParent())
}

// TestWithTrace: the router's structured events carry traceparent and tracestate as
// top-level members, which decode back.
func TestWithTrace(t *testing.T) {
	t.Parallel()
	body, err := events.Encode(events.TypeJobQueued, "ev1", events.RouterSource, "j1", time.Now(), map[string]string{"jobId": "j1"})
	require.NoError(t, err)
	require.Equal(t, body, events.WithTrace(body, events.TraceContext{}), "no trace: unchanged")

	parent, err := events.ParseTraceParent("traceparent", validTP)
	require.NoError(t, err)
	parent.State = `rojo=00f067aa0ba902b7,congo=t"1`
	child := parent.Child()
	require.Equal(t, parent.TraceID, child.TraceID)
	require.NotEqual(t, parent.SpanID, child.SpanID)

	traced := events.WithTrace(body, child)
	var m map[string]any
	require.NoError(t, json.Unmarshal(traced, &m))
	require.Equal(t, child.TraceParent(), m["traceparent"])
	require.Equal(t, parent.State, m["tracestate"])
	e, err := events.Decode(nil, traced)
	require.NoError(t, err)
	got, ok := events.TraceOf(e)
	require.True(t, ok)
	require.Equal(t, child, got)
	require.Equal(t, "ev1", e.ID())

	a, b := events.NewTrace(), events.NewTrace()
	require.True(t, a.Valid())
	require.NotEqual(t, a.TraceID, b.TraceID)
}
