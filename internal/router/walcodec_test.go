package router

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/matcher"
)

func sampleRecord() *walRecord {
	return &walRecord{
		Seq: 1<<40 + 7,
		Commands: []walCommand{
			{ID: "c1", Source: "/producer", Reply: []byte(`{"ok":true}`)},
			{ID: "c2"},
		},
		Ops: []matcher.Op{
			{Bucket: "PATCHBAY_JOBS", Key: "j1", Value: []byte(`{"id":"j1","data":"\u00e9\n"}`)},
			{Bucket: "PATCHBAY_OFFERS", Key: "o1"}, // a removal
			{Bucket: "PATCHBAY_WORKERS", Key: "w1", Value: bytes.Repeat([]byte{0, 0xff, '{'}, 300)},
		},
		Events: []matcher.Outbound{
			{Subject: "patchbay.events.job.q.j1.received", ID: "e1", Body: []byte(`{"specversion":"1.0"}`)},
			{Subject: "patchbay.events.offer.w1.j1.issued", ID: "e2", Body: []byte("x")},
		},
		Chunks:      []string{"wal.r1.9.0", "wal.r1.9.1"},
		PendingFrom: 1<<40 + 1,
	}
}

// A record decodes to what was encoded, field for field, and a removal stays a
// removal.
func TestRecordRoundTrip(t *testing.T) {
	for name, rec := range map[string]*walRecord{
		"full":  sampleRecord(),
		"empty": {},
		"chunk": {Ops: sampleRecord().Ops, Events: sampleRecord().Events},
	} {
		t.Run(name, func(t *testing.T) {
			b := appendRecord(nil, rec)
			require.Equal(t, walFormat, b[0])
			got, err := decodeRecord(b)
			require.NoError(t, err)
			require.Equal(t, rec, got)
			for i, op := range got.Ops {
				require.Equal(t, rec.Ops[i].Value == nil, op.Value == nil, "op %d: removal or not", i)
			}
		})
	}
}

// A record written before records named the pending ones (format walFormatV1: no
// PendingFrom after the chunks) still decodes, naming none; with bytes after its
// chunks it is refused.
func TestRecordWithoutPendingFromStillDecodes(t *testing.T) {
	rec := sampleRecord()
	rec.PendingFrom = 0
	b := appendRecord(nil, rec)
	require.Equal(t, byte(0), b[len(b)-1], "PendingFrom 0 is the last byte")
	v1 := append([]byte{walFormatV1}, b[1:len(b)-1]...)
	got, err := decodeRecord(v1)
	require.NoError(t, err)
	require.Equal(t, rec, got)

	_, err = decodeRecord(append(v1, 5))
	require.ErrorIs(t, err, errBadRecord)
}

// Decoded fields do not share the encoding's bytes: the buffer is reused for the
// next record.
func TestDecodedRecordOwnsItsBytes(t *testing.T) {
	b := appendRecord(nil, sampleRecord())
	got, err := decodeRecord(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = 0
	}
	require.Equal(t, sampleRecord(), got)
}

// The encoding stores values and bodies as they are: a record is the size of what it
// holds plus a few bytes per field, where JSON would base64 them.
func TestRecordIsAboutTheSizeOfItsContents(t *testing.T) {
	rec := sampleRecord()
	contents := 0
	for _, c := range rec.Commands {
		contents += len(c.ID) + len(c.Source) + len(c.Reply)
	}
	for _, op := range rec.Ops {
		contents += len(op.Bucket) + len(op.Key) + len(op.Value)
	}
	for _, ev := range rec.Events {
		contents += len(ev.Subject) + len(ev.ID) + len(ev.Body)
	}
	for _, k := range rec.Chunks {
		contents += len(k)
	}
	b := appendRecord(nil, rec)
	require.LessOrEqual(t, len(b), contents+64)
	js, err := json.Marshal(rec)
	require.NoError(t, err)
	require.Greater(t, len(js), len(b)+len(rec.Ops[2].Value)/3)
	// Every estimate of a record's size is at least its encoded size.
	require.GreaterOrEqual(t, rec.sizeFrom(walMark{})+len(rec.Chunks)*fieldsOverhead+16, len(b))
}

// Records written as JSON (before this encoding) and the empty "{}" a first router
// wrote still decode, so an upgraded router finishes its predecessor's last record.
func TestRecordWrittenAsJSONStillDecodes(t *testing.T) {
	rec := sampleRecord()
	rec.Ops[1].Value = nil
	rec.PendingFrom = 0 // JSON records came before records named pending ones
	js, err := json.Marshal(rec)
	require.NoError(t, err)
	got, err := decodeRecord(js)
	require.NoError(t, err)
	require.Equal(t, rec, got)

	got, err = decodeRecord([]byte("{}"))
	require.NoError(t, err)
	require.Equal(t, &walRecord{}, got)
}

// A truncated, extended or corrupted record is refused with errBadRecord, never a
// panic or a huge allocation.
func TestBadRecordIsRefused(t *testing.T) {
	good := appendRecord(nil, sampleRecord())
	cases := map[string][]byte{
		"empty":           {},
		"format only":     {walFormat},
		"trailing bytes":  append(append([]byte{}, good...), 0),
		"huge count":      {walFormat, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"overlong varint": {walFormat, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"not json":        []byte("{nope"),
	}
	for n := 1; n < len(good); n += 7 {
		cases[fmt.Sprintf("truncated at %d", n)] = good[:n]
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRecord(b)
			require.Error(t, err)
			require.True(t, errors.Is(err, errBadRecord), "%v", err)
		})
	}
}

// Whatever the bytes, decoding returns a record or errBadRecord; a record it
// returns is encoded and decoded again unchanged.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendRecord(nil, sampleRecord()))
	f.Add(appendRecord(nil, &walRecord{}))
	f.Add([]byte("{}"))
	f.Add([]byte{walFormat, 1, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, errBadRecord) {
				t.Fatalf("error not errBadRecord: %v", err)
			}
			return
		}
		if len(b) > 0 && b[0] == walFormat {
			again, err := decodeRecord(appendRecord(nil, rec))
			if err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
			if !reflect.DeepEqual(again, rec) {
				t.Fatalf("re-encoded record differs: %+v, then %+v", rec, again)
			}
		}
	})
}
