package bench

import (
	"fmt"
	"sync"
	"time"
)

// say writes a line of progress.
func (r *run) say(line string) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "bench: %s\n", line)
	}
}

// setPhase names what the run does now; status, when set, says how far it got.
func (r *run) setPhase(name string, status func() string) {
	r.mu.Lock()
	r.phase, r.phaseStart, r.status = name, time.Now(), status
	r.mu.Unlock()
	r.say(name)
}

// startProgress writes the current phase's status every ProgressEvery until stop.
func (r *run) startProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			r.mu.Lock()
			phase, since, status := r.phase, time.Since(r.phaseStart), r.status
			r.mu.Unlock()
			if status != nil {
				r.say(fmt.Sprintf("%s %5.1fs: %s", phase, since.Seconds(), status()))
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// registrationProgress is the status while the workers register.
func (r *run) registrationProgress() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("registered %d/%d workers", r.registered, r.cfg.Workers)
}

// deregistrationProgress is the status while the workers deregister.
func (r *run) deregistrationProgress() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("deregistered %d/%d workers", r.deregistered, r.registered)
}

// runProgress is the status while the jobs go through their lifecycle, with the
// closing rate since the previous line.
func (r *run) runProgress() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	rate := 0.0
	if !r.lastTick.IsZero() {
		rate = float64(r.closed-r.lastClosed) / now.Sub(r.lastTick).Seconds()
	}
	r.lastTick, r.lastClosed = now, r.closed
	s := fmt.Sprintf("created %d/%d  ", r.created, r.cfg.Jobs)
	if r.cfg.Backlog > 0 {
		s += fmt.Sprintf("queued %d  ", r.queued)
	}
	s += fmt.Sprintf("offered %d  closed %d  (%.0f jobs/s)", r.offers, r.closed, rate)
	if n := sum(r.failures); n > 0 {
		s += fmt.Sprintf("  %d errors", n)
	}
	return s
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
