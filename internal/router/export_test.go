package router

// SetPauseHook makes the router call hook at named points of a commit ("record": after
// the record is applied and before it is written; "written": after the record is
// written and before its KV writes), so tests can pause it there as a SIGSTOP would.
func SetPauseHook(r *Router, hook func(point string)) {
	h := func(point string) error { hook(point); return nil }
	r.hook.Store(&h)
}

// SetFaultHook makes a commit fail at a named point ("record", "written"; "flush":
// before the pending KV writes are made at rest) whenever hook returns an error, as a
// storage failure would there.
func SetFaultHook(r *Router, hook func(point string) error) { r.hook.Store(&hook) }

// WALOps returns the keys ("bucket/key") a stored write-ahead record holds writes of.
func WALOps(b []byte) ([]string, error) {
	rec, err := decodeRecord(b)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(rec.Ops))
	for _, op := range rec.Ops {
		keys = append(keys, op.Bucket+"/"+op.Key)
	}
	return keys, nil
}
