// Package dashboard is patchbay serve's live dashboard, served at / by the HTTP
// listener (serve --http; serve --dashboard=false leaves it out): the queues (length,
// oldest wait, estimated wait, workers available and busy), the workers (activity,
// load, outstanding offers), the jobs most recently heard of with their status, and a
// page per job with its whole timeline. Pages update live from the event stream.
//
// It is read-only: it offers no action, and talks to the router like any client (a
// *patchbay.Client on serve's own connection): the list and history queries for the
// JSON endpoints under /api/, and one watch of the event stream, shared by every page,
// for the server-sent events on /api/events. The page is plain HTML, CSS and
// JavaScript embedded in the binary (no build step, nothing fetched from elsewhere),
// under a Content-Security-Policy of default-src 'self'; it writes every value with
// textContent, never as HTML, because job labels and notes are whatever a producer
// sent.
//
// Bounds: at most Config.MaxStreams pages follow /api/events at once (one more gets
// 503); a page whose Config.StreamBuffer events are not yet written when the next
// comes is dropped (its EventSource reconnects and re-reads); lists ask for at most
// MaxListLimit items; a job's timeline holds at most patchbay.HistoryLimitMax events.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

//go:embed static
var static embed.FS

// Bounds and defaults.
const (
	// MaxStreamsDefault is how many pages may follow /api/events at once.
	MaxStreamsDefault = 32
	// StreamBufferDefault is how many events wait for a slow page before it is dropped.
	StreamBufferDefault = 256
	// RecentJobsDefault is how many recently heard-of jobs /api/jobs/recent keeps.
	RecentJobsDefault = 100
	// MaxListLimit is the most items a list endpoint asks the router for (?limit=).
	MaxListLimit = 500
	// ListLimitDefault is the limit of a list endpoint without ?limit=.
	ListLimitDefault = 100
	// CallTimeout bounds each call an endpoint makes to the router.
	CallTimeout = 5 * time.Second
	// IdleAfterDefault is how long the dashboard follows the event stream after the
	// last page left: then it pauses, so a dashboard nobody looks at costs the router
	// nothing, and resumes when a page comes.
	IdleAfterDefault = 10 * time.Second
	// heartbeat keeps an idle event stream open through proxies.
	heartbeat = 15 * time.Second
)

// CSP is the Content-Security-Policy of every response: the page loads only its own
// script, style and data, from this origin, and cannot be framed.
const CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

// Config bounds a dashboard; zero fields take their defaults.
type Config struct {
	MaxStreams   int
	StreamBuffer int
	RecentJobs   int
	IdleAfter    time.Duration
}

// Dashboard is the dashboard's HTTP handler and the watch of the event stream that
// feeds its pages.
type Dashboard struct {
	client *patchbay.Client
	hub    *hub
	mux    *http.ServeMux

	run    context.Context // the watch's life, ended by Stop
	cancel context.CancelFunc
	once   sync.Once     // starts the watch, or marks it never started
	ready  chan struct{} // closed once the watch follows the stream
	done   chan struct{} // closed once the watch ended (or will never start)
}

// New returns a dashboard reading through c. Start begins following the event
// stream; until then the JSON endpoints answer and /api/events sends nothing.
func New(c *patchbay.Client, cfg Config) *Dashboard {
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = MaxStreamsDefault
	}
	if cfg.StreamBuffer <= 0 {
		cfg.StreamBuffer = StreamBufferDefault
	}
	if cfg.RecentJobs <= 0 {
		cfg.RecentJobs = RecentJobsDefault
	}
	if cfg.IdleAfter <= 0 {
		cfg.IdleAfter = IdleAfterDefault
	}
	d := &Dashboard{client: c, hub: newHub(c, cfg), mux: http.NewServeMux(),
		ready: make(chan struct{}), done: make(chan struct{})}
	d.hub.reseed = d.seed
	d.run, d.cancel = context.WithCancel(context.Background())
	files, _ := fs.Sub(static, "static")
	page := func(w http.ResponseWriter, r *http.Request) { http.ServeFileFS(w, r, files, "index.html") }
	d.mux.HandleFunc("GET /{$}", page)
	d.mux.HandleFunc("GET /jobs/{id}", page)
	d.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(files)))
	d.mux.HandleFunc("GET /api/events", d.stream)
	d.mux.HandleFunc("GET /api/jobs/recent", d.recent)
	d.mux.HandleFunc("GET /api/jobs/{id}", d.job)
	d.mux.HandleFunc("GET /api/jobs/{id}/history", d.history)
	d.lists()
	return d
}

// Start follows the event stream until Stop, and returns once it follows it and has
// read the live jobs the router holds, or when ctx ends first (it keeps following,
// or trying to, in the background), or Stop was called. Calling it again only
// waits again.
func (d *Dashboard) Start(ctx context.Context) error {
	d.once.Do(func() {
		go func() {
			defer close(d.done)
			d.hub.run(d.run, d.ready)
		}()
	})
	select {
	case <-d.ready:
		// The live jobs the router holds already, so the page shows them at once.
		if err := d.seed(ctx); err != nil {
			return fmt.Errorf("dashboard: reading the live jobs: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("dashboard: following the event stream: %w", ctx.Err())
	case <-d.run.Done():
		return errors.New("dashboard: stopped")
	}
}

// Stop ends the watch of the event stream and waits for it; safe to call twice,
// before Start, or while Start waits.
func (d *Dashboard) Stop() {
	d.cancel()
	d.once.Do(func() { close(d.done) }) // never started: it never will
	<-d.done
}

// ServeHTTP serves the page, its files and the API, GET only, with the security
// headers on every response.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	d.mux.ServeHTTP(w, r)
}

// call bounds one call to the router by CallTimeout and the request's life.
func call(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), CallTimeout)
}

// writeJSON answers v as JSON (encoding/json escapes <, > and & too).
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the body of a failed API call.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// fail answers err: 400 for a bad request, 404 for an unknown entity, 504 when the
// router did not answer in time, 502 otherwise.
func fail(w http.ResponseWriter, err error) {
	code := http.StatusBadGateway
	body := apiError{Error: err.Error()}
	var pe *patchbay.Error
	switch {
	case errors.As(err, &pe):
		body.Code, body.Error = string(pe.Code), pe.Message
		switch pe.Code {
		case events.CodeInvalidData:
			code = http.StatusBadRequest
		case events.CodeUnknownJob, events.CodeUnknownWorker, events.CodeUnknownPolicy:
			code = http.StatusNotFound
		}
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(apiError{Error: fmt.Sprintf(format, args...), Code: string(events.CodeInvalidData)})
}

// jobID reads the {id} of the path, checked like any id.
func jobID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if err := events.CheckID("jobId", id); err != nil {
		badRequest(w, "%v", err)
		return "", false
	}
	return id, true
}

// intParam reads ?name= as an integer from 0 to max (0 when absent).
func intParam(w http.ResponseWriter, r *http.Request, name string, max int) (int, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		badRequest(w, "%s=%q: want 0 to %d", name, s, max)
		return 0, false
	}
	return n, true
}

// idParam reads ?name= as an id ("" when absent).
func idParam(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return "", true
	}
	if err := events.CheckID(name, s); err != nil {
		badRequest(w, "%v", err)
		return "", false
	}
	return s, true
}

// recent answers the jobs most recently heard of on the event stream, with their
// last status, the most recent first: {"jobs": [JobInfo...]}.
func (d *Dashboard) recent(w http.ResponseWriter, _ *http.Request) {
	jobs := d.hub.recentJobs()
	out := struct {
		Jobs []patchbay.JobInfo `json:"jobs"`
	}{Jobs: make([]patchbay.JobInfo, len(jobs))}
	for i, j := range jobs {
		out.Jobs[i] = patchbay.JobInfo{Job: j}
	}
	writeJSON(w, out)
}

// job answers the job query: the job now, where it stands in its queue.
func (d *Dashboard) job(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	ctx, cancel := call(r)
	defer cancel()
	info, err := d.client.JobInfo(ctx, id)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, info)
}

// history answers the job's timeline: {"events": [CloudEvent...], "truncated"?}.
func (d *Dashboard) history(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	limit, ok := intParam(w, r, "limit", patchbay.HistoryLimitMax)
	if !ok {
		return
	}
	ctx, cancel := call(r)
	defer cancel()
	h, err := d.client.JobHistory(ctx, id, limit)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, struct {
		Events    []patchbay.Event `json:"events"`
		Truncated bool             `json:"truncated,omitempty"`
	}{h.Events, h.Truncated})
}

// stream is /api/events: server-sent events, one "data:" line of a Notice per event.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	full := func() {
		http.Error(w, fmt.Sprintf("%d pages follow the events already; try again later", d.hub.cfg.MaxStreams), http.StatusServiceUnavailable)
	}
	if r.Method == http.MethodHead { // whether a page could follow now
		if d.hub.streams() >= d.hub.cfg.MaxStreams {
			full()
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		return
	}
	s, ok := d.hub.subscribe()
	if !ok {
		full()
		return
	}
	defer d.hub.unsubscribe(s)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(CallTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte("retry: 2000\n: following the event stream\n\n")) {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case b := <-s.ch:
			if !write(fmt.Appendf(nil, "data: %s\n\n", b)) {
				return
			}
		case <-tick.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case <-s.gone:
			return // too slow: dropped; the page reconnects and re-reads
		case <-r.Context().Done():
			return
		}
	}
}
