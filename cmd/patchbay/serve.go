package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/dashboard"
	"github.com/patchbay/patchbay/internal/monitor"
	"github.com/patchbay/patchbay/internal/natsserver"
	"github.com/patchbay/patchbay/internal/policyfile"
	"github.com/patchbay/patchbay/internal/router"
	"github.com/patchbay/patchbay/matcher"
)

// serveConfig holds the serve flags.
type serveConfig struct {
	dataDir          string
	natsListen       string
	natsURL          string
	auth             natsAuth
	offerExpiry      time.Duration
	queueOfferExpiry []string
	ackWait          time.Duration
	eventsMaxAge     time.Duration
	replicas         int
	logLevel         string
	logFormat        string
	stopTimeout      time.Duration
	leaseTTL         time.Duration
	retention        time.Duration
	policies         string
	policiesPrune    bool
	policiesQueueMap string
	replyPrefixes    []string
	brokerAuth       bool
	httpAddr         string
	dashboard        bool
	pprof            bool
	otlpEndpoint     string
	routingAPI       routingAPIConfig
}

func newServeCmd() *cobra.Command {
	c := &serveConfig{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the router (embeds a NATS server with JetStream unless --nats-url is given)",
		Long: `Run the patchbay router.

By default it embeds a NATS server with JetStream, stores its files under --data-dir
and listens on --nats-listen, so any NATS client (or the nats CLI) can connect to it.
With --nats-url it connects to an existing NATS deployment instead and embeds nothing.

One data directory serves one process: serve locks --data-dir (the file
patchbay.lock in it) before it starts the embedded server, and a second serve on the
same directory stops at once, naming the directory and the pid that holds it. The lock
goes with the process however it ends, so a killed router leaves none behind, and the
next one takes over its lease at once. A listen address that is in use or invalid, and
a data directory that cannot be written, are reported at once too.

At start it creates or updates its streams and KV buckets, recovers its state and
resumes its timers. SIGINT or SIGTERM drains it and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), c) },
	}
	f := cmd.Flags()
	f.StringVar(&c.dataDir, "data-dir", "./data", "where the embedded NATS server keeps its JetStream files")
	f.StringVar(&c.natsListen, "nats-listen", "127.0.0.1:4222", "address the embedded NATS server listens on")
	f.StringVar(&c.natsURL, "nats-url", "", "use this NATS deployment instead of embedding one (comma-separated URLs)")
	c.auth.add(f, "--nats-url")
	f.DurationVar(&c.offerExpiry, "offer-expiry", matcher.OfferExpiryDefault, "how long an offer stays open")
	f.StringSliceVar(&c.queueOfferExpiry, "queue-offer-expiry", nil, "per-queue offer expiry, queue=duration (repeatable, e.g. sales=10s)")
	f.DurationVar(&c.ackWait, "ack-wait", router.AckWaitDefault, "redelivery wait for an unacknowledged command")
	f.DurationVar(&c.eventsMaxAge, "events-max-age", router.EventsMaxAgeDefault, "how long events are kept on the stream (-1s keeps them forever)")
	f.IntVar(&c.replicas, "replicas", router.ReplicasDefault, "replicas of streams and buckets (3 on a three-node cluster)")
	f.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&c.logFormat, "log-format", "auto", "console, json, or auto (console on a terminal, json otherwise)")
	f.DurationVar(&c.stopTimeout, "stop-timeout", 5*time.Second, "how long a graceful stop may take")
	f.StringVar(&c.policies, "policies", "", "routing policies file (YAML or JSON), applied as a whole (all or nothing) at start and whenever it changes")
	f.BoolVar(&c.policiesPrune, "policies-prune", false, "with --policies: delete the policies the file does not declare (the file is the whole configuration)")
	f.StringVar(&c.policiesQueueMap, "policies-queue-map", "", "with --policies: YAML or JSON file mapping TaskRouter queue SIDs or names to patchbay queue ids")
	f.DurationVar(&c.leaseTTL, "lease-ttl", router.LeaseTTLDefault, "how soon a standby router takes over from one that died")
	f.DurationVar(&c.retention, "retention", matcher.RetentionDefault, "how long closed and cancelled jobs, and deregistered workers that hold nothing, are kept")
	f.StringSliceVar(&c.replyPrefixes, "reply-prefix", nil, "subject prefix the router may answer commands on (repeatable; default _INBOX., where NATS clients make their request inboxes); other reply subjects are refused")
	f.BoolVar(&c.brokerAuth, "auth", false, "the embedded server requires credentials and enforces each role's subjects (keys under <data-dir>/auth; issue credentials with `patchbay creds`); not with --nats-url")
	f.StringVar(&c.httpAddr, "http", monitor.AddrDefault, `address of the HTTP listener for the dashboard (/), /healthz, /readyz and /metrics ("" turns it off)`)
	f.BoolVar(&c.dashboard, "dashboard", true, "serve the read-only live dashboard at / on --http (false: only /healthz, /readyz and /metrics)")
	f.BoolVar(&c.pprof, "pprof", false, "serve Go's profiles at /debug/pprof/ on --http (CPU, heap, goroutines; for measuring, off by default: keep --http on loopback)")
	f.StringVar(&c.otlpEndpoint, "otlp-endpoint", "", "export the router's spans with OpenTelemetry over OTLP/HTTP to host:port (plain HTTP) or an http(s):// URL; the standard OTEL_EXPORTER_OTLP_ENDPOINT turns it on too; off by default")
	c.routingAPI.add(f)
	return cmd
}

// newLogger logs to out: readable console lines, or JSON ("auto": console when out is
// a terminal).
func newLogger(out io.Writer, terminal bool, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	var w = zerolog.New(out)
	switch format {
	case "json":
	case "console":
		w = zerolog.New(zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly, NoColor: !terminal})
	case "auto", "":
		if terminal {
			w = zerolog.New(zerolog.ConsoleWriter{Out: out, TimeFormat: time.TimeOnly})
		}
	default:
		return zerolog.Logger{}, fmt.Errorf("--log-format %q: want console, json or auto", format)
	}
	return w.Level(lvl).With().Timestamp().Logger(), nil
}

func parseQueueExpiry(items []string) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, it := range items {
		q, d, ok := strings.Cut(it, "=")
		if !ok {
			return nil, fmt.Errorf("--queue-offer-expiry %q: want queue=duration", it)
		}
		dur, err := time.ParseDuration(d)
		if err != nil {
			return nil, fmt.Errorf("--queue-offer-expiry %q: %v", it, err)
		}
		out[q] = dur
	}
	return out, nil
}

func (c *serveConfig) natsOptions() ([]nats.Option, error) {
	opts, err := c.auth.options()
	if err != nil {
		return nil, err
	}
	return append([]nats.Option{nats.Name("patchbay router"), nats.MaxReconnects(-1)}, opts...), nil
}

func serve(ctx context.Context, c *serveConfig) error {
	log, err := newLogger(os.Stderr, isatty.IsTerminal(os.Stderr.Fd()), c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	qexp, err := parseQueueExpiry(c.queueOfferExpiry)
	if err != nil {
		return err
	}
	if c.retention <= 0 {
		return fmt.Errorf("--retention %s: must be positive", c.retention)
	}
	cfg := router.Config{
		Engine:        matcher.Config{OfferExpiry: c.offerExpiry, QueueOfferExpiry: qexp, Retention: c.retention},
		AckWait:       c.ackWait,
		EventsMaxAge:  c.eventsMaxAge,
		Replicas:      c.replicas,
		LeaseTTL:      c.leaseTTL,
		Logger:        &log,
		ReplyPrefixes: c.replyPrefixes,
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	tp, err := newTracerProvider(ctx, c.otlpEndpoint)
	if err != nil {
		return err
	}
	if tp != nil {
		cfg.TracerProvider = tp
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), c.stopTimeout)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				log.Warn().Err(err).Msg("OTLP export: the last spans were not sent")
			}
		}()
		log.Info().Msg("exporting spans over OTLP")
	}
	var policyOpts policyfile.Options
	if c.policiesQueueMap != "" {
		m, err := policyfile.ReadQueueMap(c.policiesQueueMap)
		if err != nil {
			return fmt.Errorf("--policies-queue-map: %w", err)
		}
		policyOpts.QueueMap = m
	}
	if err := c.routingAPI.validate(c.httpAddr); err != nil {
		return err
	}
	if c.policies != "" {
		if _, err := policyfile.Read(c.policies, policyOpts); err != nil {
			return fmt.Errorf("--policies: %w", err)
		}
	}
	if c.brokerAuth && c.natsURL != "" {
		return errors.New("--auth is for the embedded server: with --nats-url, the NATS deployment's operator configures authorization (deploy/README.md), and --nats-creds gives the router its credentials")
	}
	opts, err := c.natsOptions()
	if err != nil {
		return err
	}
	url := c.natsURL
	var ns *server.Server
	if url == "" {
		dir, err := filepath.Abs(c.dataDir)
		if err != nil {
			return err
		}
		// The lock comes first: a second serve on the same directory must not touch
		// the running one's server or files.
		lock, err := natsserver.LockDir(dir)
		if err != nil {
			if errors.Is(err, natsserver.ErrDirLocked) {
				return fmt.Errorf("--data-dir: %w; stop that router first, or give this one another --data-dir", err)
			}
			return fmt.Errorf("--data-dir: %w", err)
		}
		defer func() { _ = lock.Unlock() }()
		// Holding the directory proves no predecessor router is alive on this store:
		// its lease can be taken over at once.
		cfg.OwnsStore = true
		nsc := natsserver.Config{Listen: c.natsListen, StoreDir: dir}
		if c.brokerAuth {
			mode, routerUser, err := embeddedAuth(dir)
			if err != nil {
				return err
			}
			nsc.Operator = mode
			opts = append(opts, routerUser)
		}
		ns, err = natsserver.Start(nsc)
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		url = ns.ClientURL()
		log.Info().Str("listen", c.natsListen).Str("data_dir", dir).Bool("auth", c.brokerAuth).Msg("embedded NATS server started")
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return c.auth.connectError(url, err)
	}
	defer nc.Close()
	r, err := router.New(nc, cfg)
	if err != nil {
		return err
	}
	// The listener comes before Start, which waits while another router holds the
	// lease: a standby answers its readiness checks.
	var dash *dashboard.Dashboard
	if c.httpAddr != "" {
		var opts []monitor.Option
		if c.dashboard {
			client, err := patchbay.New(nc, patchbay.WithSource("/patchbay/dashboard"), patchbay.WithRetryDeadline(dashboard.CallTimeout))
			if err != nil {
				return err
			}
			dash = dashboard.New(client, dashboard.Config{})
			defer dash.Stop()
			opts = append(opts, monitor.WithDashboard(dash))
		}
		h, err := c.routingAPI.mount(monitor.Handler(r, opts...), nc)
		if err != nil {
			return err
		}
		if c.pprof {
			h = withPprof(h)
		}
		stop, err := serveHTTP(c.httpAddr, h, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	if err := r.Start(ctx); err != nil {
		if ctx.Err() != nil && r.Status().State == router.StateStopped {
			// Stopped (SIGTERM, Ctrl-C) before it held the lease: a clean stop.
			log.Info().Msg("stopped before it held the lease (standing by)")
			return nil
		}
		return err
	}
	if dash != nil {
		// The stream exists now. In the background: nothing waits for the dashboard,
		// which keeps trying if it cannot follow the stream yet.
		go func() {
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := dash.Start(dctx); err != nil {
				log.Warn().Err(err).Msg("dashboard")
			}
		}()
	}
	if c.policies != "" {
		if err := watchPolicies(ctx, nc, c.policies, policyOpts, c.policiesPrune, log); err != nil {
			_ = r.Stop(context.Background())
			return err
		}
	}
	log.Info().Str("nats", url).Msg("patchbay is routing; press Ctrl-C to stop")
	select {
	case <-ctx.Done():
	case <-r.Failed():
		_ = r.Stop(context.Background())
		return r.Err()
	}
	log.Info().Msg("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), c.stopTimeout)
	defer cancel()
	err = r.Stop(sctx)
	if derr := nc.Drain(); derr != nil && err == nil {
		err = derr
	}
	return err
}

// serveHTTP listens on addr (an address in use is reported at once) and serves h
// until stop is called.
func serveHTTP(addr string, h http.Handler, log zerolog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http: %w", err)
	}
	// Stopping ends the requests still open too (a dashboard's event streams).
	base, cancelBase := context.WithCancel(context.Background())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http listener")
		}
	}()
	log.Info().Str("http", l.Addr().String()).Msg("serving /healthz, /readyz and /metrics (and the dashboard at / unless --dashboard=false)")
	return func() {
		cancelBase()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// withPprof serves Go's profiles under /debug/pprof/ in front of h.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}
