package router

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/matcher"
)

// The router's measurements, in Prometheus form; the Router is a
// prometheus.Collector. The hot path costs one counter increment per command and per
// counted event, and one histogram observation per command and per record, all on
// the persister's goroutine: a command is counted when its record is stored and it
// is answered, an event once commit published it. The engine goroutine only reads
// the time a command is taken. Gauges (queues, lease, consumer) are read when
// scraped.

// labelValuesMax bounds the distinct values of a label a client controls
// (dispositions, queue ids); further values are counted under labelOther.
const labelValuesMax = 100

// labelOther is the label value that stands for every value past labelValuesMax.
const labelOther = "other"

// scrapeTimeout bounds what a scrape waits for the engine and the broker.
const scrapeTimeout = 2 * time.Second

// boundedLabel keeps the first labelValuesMax values it sees and folds the rest into
// labelOther.
type boundedLabel struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (b *boundedLabel) value(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= labelValuesMax {
		return labelOther
	}
	b.seen[v] = true
	return v
}

// metrics are the router's counters and histograms.
type metrics struct {
	offers         *prometheus.CounterVec
	assignments    *prometheus.CounterVec
	closes         *prometheus.CounterVec
	applied        *prometheus.CounterVec
	refused        *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	persist        prometheus.Histogram
	recordCommands prometheus.Histogram
	persistFailed  prometheus.Counter
	setAside       prometheus.Counter

	dispositions, queues boundedLabel

	queueLength, queueOldest, queueAvailable, queueIdle, queueBusy, queueWait, leaseHeld, consumerPending *prometheus.Desc
}

func newMetrics() *metrics {
	return &metrics{
		offers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patchbay_offers_total",
			Help: "Offer events published, by outcome (issued, accepted, declined, expired, revoked) and queue."}, []string{"event", "queue"}),
		assignments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patchbay_assignments_total",
			Help: "Jobs assigned to a worker (job.assigned events), by queue."}, []string{"queue"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patchbay_job_closes_total",
			Help: "Jobs closed (job.closed events), by disposition code (at most 100 values; the rest count as \"other\")."}, []string{"disposition"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patchbay_commands_applied_total",
			Help: "Commands applied and answered with command.succeeded, by command type."}, []string{"type"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "patchbay_commands_refused_total",
			Help: "Commands refused with command.failed, by command type and error code."}, []string{"type", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "patchbay_command_latency_seconds",
			Help:    "From the moment the router takes a command to apply it until its record is stored and it is answered, by command type.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15)}, []string{"type"}),
		persist: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "patchbay_persist_seconds",
			Help:    "Time to store one record: write-ahead record, KV writes and events.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15)}),
		recordCommands: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "patchbay_record_commands",
			Help:    "Commands stored under one write-ahead record (0: a timer record).",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000}}),
		persistFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "patchbay_persist_failures_total",
			Help: "Records that could not be stored (their commands are applied again)."}),
		setAside: prometheus.NewCounter(prometheus.CounterOpts{Name: "patchbay_commands_dead_lettered_total",
			Help: "Commands set aside on the dead-letter stream because their effects cannot be stored (also counted as refused, code internal)."}),
		queueLength: prometheus.NewDesc("patchbay_queue_length",
			"Queued jobs (offered or not), per queue that exists.", []string{"queue"}, nil),
		queueOldest: prometheus.NewDesc("patchbay_queue_oldest_wait_seconds",
			"How long the oldest queued job of the queue has waited.", []string{"queue"}, nil),
		queueAvailable: prometheus.NewDesc("patchbay_queue_available_workers",
			"Workers of the queue available for offers.", []string{"queue"}, nil),
		queueIdle: prometheus.NewDesc("patchbay_queue_idle_workers",
			"Available workers of the queue with room for one more job.", []string{"queue"}, nil),
		queueBusy: prometheus.NewDesc("patchbay_queue_busy_workers",
			"Available workers of the queue with no room for another job (available minus idle).", []string{"queue"}, nil),
		queueWait: prometheus.NewDesc("patchbay_queue_estimated_wait_seconds",
			"Estimated wait of a job joining the queue now at priority 0, from the queue's assignments of the last 15 minutes (absent while there were none).", []string{"queue"}, nil),
		leaseHeld: prometheus.NewDesc("patchbay_lease_held",
			"1 while this router holds the lease and applies commands, else 0.", nil, nil),
		consumerPending: prometheus.NewDesc("patchbay_consumer_pending",
			"Commands on the inbound stream not yet delivered to the router (from the consumer info).", nil, nil),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.offers, m.assignments, m.closes, m.applied, m.refused, m.latency, m.persist, m.recordCommands, m.persistFailed, m.setAside}
}

// answered counts one command answered once its record was stored. code is empty
// for a command applied.
func (m *metrics) answered(a answer) {
	if a.kind == "" {
		return // not a command (set aside, or no type)
	}
	if a.code == "" {
		m.applied.WithLabelValues(a.kind).Inc()
	} else {
		m.refused.WithLabelValues(a.kind, a.code).Inc()
	}
	m.latency.WithLabelValues(a.kind).Observe(time.Since(a.taken).Seconds())
}

// stored counts a record stored in d, and the events it published.
func (m *metrics) stored(rec *walRecord, d time.Duration) {
	m.persist.Observe(d.Seconds())
	m.recordCommands.Observe(float64(len(rec.Commands)))
	for _, ev := range rec.Events {
		m.published(ev)
	}
}

// published counts one outbound event by its subject
// ("patchbay.events.offer.<workerId>.<jobId>.<verb>", "patchbay.events.job.<queueId>.<jobId>.<verb>"),
// with the offer's queue and the close's disposition the engine noted.
func (m *metrics) published(ev matcher.Outbound) {
	rest, ok := strings.CutPrefix(ev.Subject, events.SubjectEventsPrefix)
	if !ok {
		return
	}
	kind, rest, _ := strings.Cut(rest, ".")
	verb := rest[strings.LastIndexByte(rest, '.')+1:]
	switch {
	case kind == "offer":
		m.offers.WithLabelValues(verb, m.queues.value(ev.Queue)).Inc()
	case kind == "job" && verb == events.TypeJobAssigned.Name()[len("job."):]:
		queue, _, _ := strings.Cut(rest, ".")
		m.assignments.WithLabelValues(m.queues.value(queue)).Inc()
	case kind == "job" && verb == events.TypeJobClosed.Name()[len("job."):]:
		m.closes.WithLabelValues(m.dispositions.value(ev.Disposition)).Inc()
	}
}

// Describe sends the descriptions of the router's metrics (prometheus.Collector).
func (r *Router) Describe(ch chan<- *prometheus.Desc) {
	m := r.metrics
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.queueLength, m.queueOldest, m.queueAvailable, m.queueIdle, m.queueBusy, m.queueWait, m.leaseHeld, m.consumerPending} {
		ch <- d
	}
}

// Collect sends the router's metrics (prometheus.Collector): its counters and
// histograms, and gauges read now. Queue gauges are read from the engine between
// commands and the consumer's pending count from the broker, each within
// scrapeTimeout; a router that is not active has neither.
func (r *Router) Collect(ch chan<- prometheus.Metric) {
	m := r.metrics
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
	active := r.Status().State == StateActive
	held := 0.0
	if active && r.holdsLease() {
		held = 1
	}
	ch <- prometheus.MustNewConstMetric(m.leaseHeld, prometheus.GaugeValue, held)
	if !active {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if qs, err := r.QueueGauges(ctx); err == nil {
		for _, q := range qs {
			ch <- prometheus.MustNewConstMetric(m.queueLength, prometheus.GaugeValue, float64(q.Length), q.QueueID)
			ch <- prometheus.MustNewConstMetric(m.queueOldest, prometheus.GaugeValue, q.OldestWaitSeconds, q.QueueID)
			ch <- prometheus.MustNewConstMetric(m.queueAvailable, prometheus.GaugeValue, float64(q.AvailableWorkers), q.QueueID)
			ch <- prometheus.MustNewConstMetric(m.queueIdle, prometheus.GaugeValue, float64(q.IdleWorkers), q.QueueID)
			ch <- prometheus.MustNewConstMetric(m.queueBusy, prometheus.GaugeValue, float64(q.AvailableWorkers-q.IdleWorkers), q.QueueID)
			if q.EstimatedWaitSeconds != nil {
				ch <- prometheus.MustNewConstMetric(m.queueWait, prometheus.GaugeValue, *q.EstimatedWaitSeconds, q.QueueID)
			}
		}
	}
	if c, err := r.js.Consumer(ctx, events.StreamIn, events.ConsumerMatcher); err == nil {
		if info, err := c.Info(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(m.consumerPending, prometheus.GaugeValue, float64(info.NumPending))
		}
	}
}

// QueueGauges reads every queue that exists, between commands.
func (r *Router) QueueGauges(ctx context.Context) ([]matcher.QueueGauge, error) {
	got := make(chan []matcher.QueueGauge, 1)
	select {
	case r.reads <- func() { got <- r.engine.QueueGauges(r.cfg.Now()) }:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case g := <-got:
		return g, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
