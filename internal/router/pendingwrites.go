package router

import (
	"time"

	"github.com/patchbay/patchbay/matcher"
)

// pendingWrites are the KV writes of the last records written that are not made yet
// (see "The command pipeline under load" in docs/design.md). A record's writes wait
// while the records after it are written, up to pendingRecordsMax records,
// pendingBytesMax bytes or pendingAgeMax; then the oldest record's writes are made,
// except the keys a later pending record writes again: those are made with that
// record's, once. So a key changed by several commands close together (a job
// offered, assigned, completed and closed) is written once. When the router has
// nothing else to store, every pending write is made.
//
// Every record names the oldest pending record before it (walRecord.PendingFrom), and
// the router bucket keeps enough of the record key's history (walHistory) to read
// them back: a router that reloads, or a successor, replays them with the last
// record before it loads. It is owned by the persister (or the engine goroutine once
// nothing is in flight).
type pendingWrites struct {
	recs  []pendingRecord
	bytes int
	// last is the sequence number of the last pending record that writes each key.
	last map[kvKey]uint64
}

// pendingRecord is one pending record's writes (the last of each key).
type pendingRecord struct {
	seq   uint64
	ops   []matcher.Op
	bytes int
	at    time.Time
}

// Bounds of the pending writes.
const (
	// pendingRecordsMax: at most this many records have writes pending. The router
	// bucket keeps walHistory revisions of the record key, so a reload can read them.
	pendingRecordsMax = 16
	// pendingBytesMax bounds the pending writes held in memory.
	pendingBytesMax = 8 << 20
	// pendingAgeMax: a record's writes wait at most this long (plus the time it takes
	// to store the record that makes them), so a reader of the buckets is never
	// further behind what the router answers.
	pendingAgeMax = 250 * time.Millisecond
	// walHistory is how many revisions of the record key the router bucket keeps:
	// the pending records and the last, with room to spare.
	walHistory = 2 * pendingRecordsMax
)

// from is the sequence number of the oldest pending record (0: none).
func (p *pendingWrites) from() uint64 {
	if len(p.recs) == 0 {
		return 0
	}
	return p.recs[0].seq
}

// empty reports whether no write is pending.
func (p *pendingWrites) empty() bool { return len(p.recs) == 0 }

// add makes record seq's writes (the last of each key) pending.
func (p *pendingWrites) add(seq uint64, ops []matcher.Op, at time.Time) {
	if len(ops) == 0 {
		return
	}
	if p.last == nil {
		p.last = map[kvKey]uint64{}
	}
	n := 0
	for _, op := range ops {
		p.last[keyOf(op)] = seq
		n += opSize(op)
	}
	p.recs = append(p.recs, pendingRecord{seq: seq, ops: ops, bytes: n, at: at})
	p.bytes += n
}

// written takes record seq's writes (the last of each key) once the record is
// written, and returns the writes to make now, each key once. A record written in
// chunks makes every pending write with its own (its chunks are removed once it is
// finished); any other becomes pending, and the records past the bounds are taken.
func (p *pendingWrites) written(seq uint64, ops []matcher.Op, chunked bool, now time.Time) []matcher.Op {
	if chunked {
		return lastPerKey(append(p.takeAll(), ops...))
	}
	p.add(seq, ops, now)
	return p.takeDue(now)
}

// takeDue removes the records past the bounds at now, oldest first, and returns the
// writes to make for them: those no later pending record writes again (so each key
// once).
func (p *pendingWrites) takeDue(now time.Time) []matcher.Op {
	var out []matcher.Op
	for len(p.recs) > 0 && (len(p.recs) > pendingRecordsMax || p.bytes > pendingBytesMax ||
		now.Sub(p.recs[0].at) >= pendingAgeMax) {
		out = p.takeFirst(out)
	}
	return out
}

// takeAll removes every pending record and returns the writes to make.
func (p *pendingWrites) takeAll() []matcher.Op {
	var out []matcher.Op
	for len(p.recs) > 0 {
		out = p.takeFirst(out)
	}
	return out
}

// takeFirst removes the oldest pending record and appends to out its writes that no
// later pending record writes again.
func (p *pendingWrites) takeFirst(out []matcher.Op) []matcher.Op {
	rec := p.recs[0]
	p.recs[0] = pendingRecord{}
	p.recs = p.recs[1:]
	p.bytes -= rec.bytes
	for _, op := range rec.ops {
		k := keyOf(op)
		if p.last[k] == rec.seq {
			out = append(out, op)
			delete(p.last, k)
		}
	}
	if len(p.recs) == 0 {
		p.recs = nil // let the backing array go
	}
	return out
}

// reset forgets every pending write: a reload replays them from the records.
func (p *pendingWrites) reset() { *p = pendingWrites{} }
