package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/events"
)

// isBinary mirrors Decode's choice of content mode: binary when a ce-specversion
// header (any case) has a value.
func isBinary(h map[string][]string) bool {
	for k, v := range h {
		if strings.EqualFold(k, "ce-specversion") && len(v) > 0 {
			return true
		}
	}
	return false
}

// FuzzDecode checks that Decode never panics, that every error is a malformed-message
// *events.Error, that every event it accepts is valid, and that accepted events
// survive re-encoding: structured ones with Structured, binary ones with Binary.
// The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add("", []byte(`{"specversion":"1.0","id":"e1","type":"io.patchbay.job.cancel","source":"/p","datacontenttype":"application/json","data":{"jobId":"j1"}}`))
	f.Add("ce-specversion: 1.0\nce-id: e1\nce-type: io.patchbay.offer.accept\nce-source: /w\nce-time: 2025-03-14T15:09:26Z\nContent-Type: application/json",
		[]byte(`{"jobId":"j1","offerId":"o1","workerId":"w1"}`))
	f.Add("", []byte(``))
	f.Add("", []byte(`{"specversion":"1.0"`))

	f.Fuzz(func(t *testing.T, rawHeader string, body []byte) {
		header := events.ParseFuzzHeader(rawHeader)
		e, err := events.Decode(header, body)
		if err != nil {
			var we *events.Error
			// Malformed, or invalid data for a message, an attribute or a trace context
			// over its limit (Decode's contract).
			if !errors.As(err, &we) || we.Code != events.CodeMalformed && we.Code != events.CodeInvalidData {
				t.Fatalf("Decode error is not a malformed or invalid-data *events.Error: %#v", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid event: %v", err)
		}

		if isBinary(header) {
			h2, b2 := events.Binary(e)
			e2, err := events.Decode(h2, b2)
			if err != nil {
				t.Fatalf("re-encoded binary event does not decode: %v\nheader %q", err, h2)
			}
			sameCore(t, e, e2)
			return
		}

		b, err := events.Structured(e)
		if err != nil {
			t.Fatalf("decoded structured event does not encode: %v", err)
		}
		e2, err := events.Decode(nil, b)
		if err != nil {
			t.Fatalf("re-encoded structured event does not decode: %v\nbody %s", err, b)
		}
		sameCore(t, e, e2)
	})
}

func sameCore(t *testing.T, a, b events.Event) {
	t.Helper()
	if a.ID() != b.ID() || a.Type() != b.Type() || a.Source() != b.Source() {
		t.Fatalf("round trip changed the event: id %q -> %q, type %q -> %q, source %q -> %q",
			a.ID(), b.ID(), a.Type(), b.Type(), a.Source(), b.Source())
	}
	if a.Subject() != b.Subject() || !a.Time().Equal(b.Time()) {
		t.Fatalf("round trip changed subject/time: %q %s -> %q %s", a.Subject(), a.Time(), b.Subject(), b.Time())
	}
}
