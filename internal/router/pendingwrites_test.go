package router

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/matcher"
)

func put(key, value string) matcher.Op {
	return matcher.Op{Bucket: "b", Key: key, Value: []byte(value)}
}

func del(key string) matcher.Op { return matcher.Op{Bucket: "b", Key: key} }

// A key written again by a later pending record is written once, with the later
// value, when that record's writes are made; the others go with their own record.
func TestPendingWriteSupersededByALaterRecordIsMadeOnce(t *testing.T) {
	var p pendingWrites
	at := time.Unix(0, 0)
	p.add(1, []matcher.Op{put("job", "queued"), put("offer", "issued")}, at)
	p.add(2, []matcher.Op{put("job", "assigned"), del("offer")}, at)
	p.add(3, []matcher.Op{put("worker", "busy")}, at)
	require.Equal(t, uint64(1), p.from())

	require.Empty(t, p.takeFirst(nil), "record 1's keys are both written again by record 2")
	require.Equal(t, uint64(2), p.from())
	require.Equal(t, []matcher.Op{put("job", "assigned"), del("offer")}, p.takeFirst(nil))
	require.Equal(t, []matcher.Op{put("worker", "busy")}, p.takeAll())
	require.True(t, p.empty())
	require.Zero(t, p.from())
	require.Zero(t, p.bytes)
	require.Empty(t, p.last)
}

// takeDue leaves the records within the bounds: at most pendingRecordsMax records,
// pendingBytesMax bytes, none older than pendingAgeMax.
func TestPendingWritesAreMadeAtTheBounds(t *testing.T) {
	at := time.Unix(100, 0)
	var p pendingWrites
	for seq := uint64(1); seq <= pendingRecordsMax; seq++ {
		p.add(seq, []matcher.Op{put(fmt.Sprint(seq), "v")}, at)
		require.Empty(t, p.takeDue(at), "record %d: within the bounds", seq)
	}
	p.add(pendingRecordsMax+1, []matcher.Op{put("x", "v")}, at)
	require.Equal(t, []matcher.Op{put("1", "v")}, p.takeDue(at), "one record too many: the oldest's writes are made")
	require.Equal(t, uint64(2), p.from())

	require.Empty(t, p.takeDue(at.Add(pendingAgeMax-time.Millisecond)))
	require.Len(t, p.takeDue(at.Add(pendingAgeMax)), pendingRecordsMax, "all of them waited pendingAgeMax")
	require.True(t, p.empty())

	big := make([]byte, pendingBytesMax/2)
	p.add(1, []matcher.Op{{Bucket: "b", Key: "a", Value: big}}, at)
	p.add(2, []matcher.Op{{Bucket: "b", Key: "b", Value: big}}, at)
	got := p.takeDue(at)
	require.Len(t, got, 1, "past pendingBytesMax")
	require.Equal(t, "a", got[0].Key)
}

// The invariant the records rely on, over random histories: at every point, the
// writes made so far, overwritten by the pending records' writes in order (what a
// reload replays), are the state every record applied; and once everything is taken,
// the writes made are exactly that state, each key written at most once per take.
func TestPendingWritesLoseNothing(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var p pendingWrites
		want := map[string]string{} // every record applied
		made := map[string]string{} // the KV writes made
		records := map[uint64][]matcher.Op{}
		apply := func(m map[string]string, ops []matcher.Op) {
			for _, op := range ops {
				if op.Value == nil {
					delete(m, op.Key)
				} else {
					m[op.Key] = string(op.Value)
				}
			}
		}
		write := func(ops []matcher.Op) {
			seen := map[string]bool{}
			for _, op := range ops {
				require.False(t, seen[op.Key], "seed %d: %s written twice at once", seed, op.Key)
				seen[op.Key] = true
			}
			apply(made, ops)
		}
		now := time.Unix(0, 0)
		for seq := uint64(1); seq <= 200; seq++ {
			var ops []matcher.Op
			for range rng.IntN(4) {
				k := fmt.Sprint("k", rng.IntN(12))
				if rng.IntN(4) == 0 {
					ops = append(ops, del(k))
				} else {
					ops = append(ops, put(k, fmt.Sprint(seq)))
				}
			}
			ops = lastPerKey(ops)
			apply(want, ops)
			records[seq] = ops
			now = now.Add(time.Duration(rng.IntN(40)) * time.Millisecond)
			switch rng.IntN(10) {
			case 0: // a record written in chunks: everything at once
				write(p.written(seq, ops, true, now))
			case 1: // then the router has nothing else to store
				write(p.written(seq, ops, false, now))
				write(p.takeAll())
			default:
				write(p.written(seq, ops, false, now))
			}
			// What a reload would rebuild: the writes made, then the pending records.
			replayed := map[string]string{}
			for k, v := range made {
				replayed[k] = v
			}
			if from := p.from(); from != 0 {
				for s := from; s <= seq; s++ {
					apply(replayed, records[s])
				}
			}
			require.Equal(t, want, replayed, "seed %d after record %d", seed, seq)
			require.LessOrEqual(t, len(p.recs), pendingRecordsMax, "seed %d", seed)
		}
		write(p.takeAll())
		require.Equal(t, want, made, "seed %d: everything written", seed)
	}
}
