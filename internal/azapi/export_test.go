package azapi

// Routes lists the served operations as "METHOD path-template".
func Routes() []string {
	a := &api{}
	var out []string
	for _, r := range a.table() {
		out = append(out, r.method+" "+r.path)
	}
	return out
}
