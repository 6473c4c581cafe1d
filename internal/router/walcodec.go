package router

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/patchbay/patchbay/matcher"
)

// The write-ahead record's encoding. A record is written for every batch, so it is
// on the hot path twice: the router encodes it, and the broker copies, stores and
// later drops it. JSON would base64 every KV value and event body (a third larger)
// and reflect over every field; this encoding stores them as they are.
//
// Layout: the format byte walFormat, then
//
//	seq                                   uvarint
//	commands  count, then per command:    id, source, reply
//	ops       count, then per op:         bucket, key, value
//	events    count, then per event:      subject, id, body
//	chunks    count, then per chunk:      key
//	pendingFrom                           uvarint
//
// where a count is a uvarint and each string or byte field is a uvarint length then
// the bytes. A value is its length plus one, 0 meaning none (a removal). A chunk of a
// large record is encoded the same way, holding only ops and events.
//
// Records written before this encoding are JSON objects, and records written before
// pendingFrom existed start with walFormatV1 and end after their chunks; decodeRecord
// still reads both (a JSON record's first byte is '{'), so a router upgraded in place
// finishes its predecessor's last record.

// walFormat is the first byte of a record in this encoding; walFormatV1 the first
// byte of one without pendingFrom.
const (
	walFormat   byte = 0xB2
	walFormatV1 byte = 0xB1
)

// errBadRecord is a record that cannot be decoded.
var errBadRecord = errors.New("malformed write-ahead record")

// appendRecord appends rec's encoding to b.
func appendRecord(b []byte, rec *walRecord) []byte {
	b = append(b, walFormat)
	b = binary.AppendUvarint(b, rec.Seq)
	b = binary.AppendUvarint(b, uint64(len(rec.Commands)))
	for _, c := range rec.Commands {
		b = appendString(b, c.ID)
		b = appendString(b, c.Source)
		b = appendBytes(b, c.Reply)
	}
	b = binary.AppendUvarint(b, uint64(len(rec.Ops)))
	for _, op := range rec.Ops {
		b = appendString(b, op.Bucket)
		b = appendString(b, op.Key)
		if op.Value == nil {
			b = binary.AppendUvarint(b, 0)
		} else {
			b = binary.AppendUvarint(b, uint64(len(op.Value))+1)
			b = append(b, op.Value...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(rec.Events)))
	for _, ev := range rec.Events {
		b = appendString(b, ev.Subject)
		b = appendString(b, ev.ID)
		b = appendBytes(b, ev.Body)
	}
	b = binary.AppendUvarint(b, uint64(len(rec.Chunks)))
	for _, k := range rec.Chunks {
		b = appendString(b, k)
	}
	return binary.AppendUvarint(b, rec.PendingFrom)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b []byte, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// decodeRecord decodes a record (either encoding). The record's byte fields are
// copies: b may be reused.
func decodeRecord(b []byte) (*walRecord, error) {
	rec := &walRecord{}
	if len(b) == 0 || b[0] != walFormat && b[0] != walFormatV1 {
		if err := json.Unmarshal(b, rec); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadRecord, err)
		}
		return rec, nil
	}
	d := recordDecoder{b: b[1:]}
	rec.Seq = d.uvarint()
	if n := d.count(3); n > 0 {
		rec.Commands = make([]walCommand, n)
		for i := range rec.Commands {
			rec.Commands[i] = walCommand{ID: d.string(), Source: d.string(), Reply: d.bytes()}
		}
	}
	if n := d.count(3); n > 0 {
		rec.Ops = make([]matcher.Op, n)
		for i := range rec.Ops {
			rec.Ops[i] = matcher.Op{Bucket: d.string(), Key: d.string(), Value: d.value()}
		}
	}
	if n := d.count(3); n > 0 {
		rec.Events = make([]matcher.Outbound, n)
		for i := range rec.Events {
			rec.Events[i] = matcher.Outbound{Subject: d.string(), ID: d.string(), Body: d.bytes()}
		}
	}
	if n := d.count(1); n > 0 {
		rec.Chunks = make([]string, n)
		for i := range rec.Chunks {
			rec.Chunks[i] = d.string()
		}
	}
	if b[0] == walFormat {
		rec.PendingFrom = d.uvarint()
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d bytes past its end", len(d.b))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRecord, d.err)
	}
	return rec, nil
}

// recordDecoder reads the fields of a record; the first error sticks, and every
// later read returns a zero value.
type recordDecoder struct {
	b   []byte
	err error
}

func (d *recordDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated or overlong number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a count of items that take at least min bytes each, so a corrupt
// count cannot make the decoder allocate more than the record could hold.
func (d *recordDecoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = fmt.Errorf("%d items cannot fit in %d bytes", n, len(d.b))
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// take returns the next n bytes (not copied).
func (d *recordDecoder) take(n uint64) []byte {
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("a field of %d bytes where %d remain", n, len(d.b))
	}
	if d.err != nil {
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *recordDecoder) string() string { return string(d.take(d.uvarint())) }

// bytes reads a byte field, copied; empty reads as nil, as JSON's omitempty did.
func (d *recordDecoder) bytes() []byte {
	p := d.take(d.uvarint())
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

// value reads a KV value, copied: nil for a removal.
func (d *recordDecoder) value() []byte {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	p := d.take(n - 1)
	if d.err != nil {
		return nil
	}
	return append([]byte{}, p...)
}
