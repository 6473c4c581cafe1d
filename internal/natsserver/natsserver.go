// Package natsserver starts the nats-server that `patchbay serve` embeds, and the
// in-process servers (single or a three-node cluster) that tests use, and locks the
// data directory so that one process at a time serves it (DirLock).
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
)

// Config configures an embedded server.
type Config struct {
	// Listen is host:port for client connections; port -1 (or 0) picks a free one.
	Listen string
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// ServerName names the server (cluster members need distinct names).
	ServerName string
	// Cluster, when set, joins a cluster: its name, the listen address for routes and
	// the route URLs of the other members.
	Cluster *ClusterConfig
	// ReadyTimeout bounds the wait for the server to accept connections
	// (ReadyTimeoutDefault when zero).
	ReadyTimeout time.Duration
	// Operator, when set, runs the server in operator (decentralised JWT) mode: only
	// users of the accounts it lists can connect, with their JWTs' permissions.
	Operator *OperatorMode
}

// OperatorMode is what a server in operator mode trusts: an operator, the account
// JWTs it signed (held in a memory resolver), and which of them is the system account.
type OperatorMode struct {
	Operator      *jwt.OperatorClaims
	SystemAccount string
	// Accounts maps an account's public key to its JWT.
	Accounts map[string]string
}

// ClusterConfig makes the server a cluster member.
type ClusterConfig struct {
	Name   string
	Listen string // host:port for routes
	Routes []string
}

// Start starts a server with JetStream and waits until it accepts connections. The
// usual start-up failures are reported at once, in words: a listen address that does
// not parse or whose port is out of range, a port already in use, a store directory
// that cannot be written, and any error the server itself reports while starting.
func Start(c Config) (*server.Server, error) {
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen address %q: %w", c.Listen, err)
	}
	if c.StoreDir == "" {
		return nil, errors.New("nats store dir is required")
	}
	opts := &server.Options{
		ServerName: c.ServerName,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   c.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	if c.Operator != nil {
		res := &server.MemAccResolver{}
		for pub, j := range c.Operator.Accounts {
			if err := res.Store(pub, j); err != nil {
				return nil, fmt.Errorf("nats account %s: %w", pub, err)
			}
		}
		opts.TrustedOperators = []*jwt.OperatorClaims{c.Operator.Operator}
		opts.AccountResolver = res
		opts.SystemAccount = c.Operator.SystemAccount
	}
	if c.Cluster != nil {
		ch, cp, err := splitHostPort(c.Cluster.Listen)
		if err != nil {
			return nil, fmt.Errorf("cluster listen address %q: %w", c.Cluster.Listen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: c.Cluster.Name, Host: ch, Port: cp}
		opts.Routes = server.RoutesFromStr(joinComma(c.Cluster.Routes))
		if err := checkListen("cluster listen address", ch, cp); err != nil {
			return nil, err
		}
	}
	if err := checkListen("nats listen address", host, port); err != nil {
		return nil, err
	}
	if err := checkWritable(c.StoreDir); err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	fatal := &fatalCatcher{errs: make(chan error, 1)}
	ns.SetLoggerV2(fatal, false, false, false)
	go ns.Start()
	wait := c.ReadyTimeout
	if wait == 0 {
		wait = ReadyTimeoutDefault
	}
	deadline := time.Now().Add(wait)
	for {
		select {
		case err := <-fatal.errs:
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, fmt.Errorf("nats server on %s: %w", c.Listen, err)
		default:
		}
		if ns.ReadyForConnections(readyPoll) {
			return ns, nil
		}
		if time.Now().After(deadline) {
			ns.Shutdown()
			return nil, fmt.Errorf("nats server did not accept connections on %s within %s", c.Listen, wait)
		}
	}
}

// ReadyTimeoutDefault bounds the wait for an embedded server to accept connections.
const ReadyTimeoutDefault = 10 * time.Second

// readyPoll is how often Start looks for a start-up error while it waits.
const readyPoll = 50 * time.Millisecond

// checkListen binds host:port and lets it go, so that an address in use or one that
// cannot be bound here is reported now rather than as a server that never becomes
// ready. (Another process may still take the port in between; Start then reports the
// server's own error.)
func checkListen(what, host string, port int) error {
	if port <= 0 {
		return nil // a free port is picked
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s %s is already in use (another patchbay or NATS server?): %w", what, addr, err)
		}
		return fmt.Errorf("%s %s cannot be listened on: %w", what, addr, err)
	}
	return l.Close()
}

// checkWritable creates dir if needed and writes a file in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("nats store dir %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".patchbay-write-check-*")
	if err != nil {
		return fmt.Errorf("nats store dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// fatalCatcher is the embedded server's logger: it logs nothing, and hands the first
// fatal error (the server gives up starting) to Start.
type fatalCatcher struct{ errs chan error }

func (f *fatalCatcher) Fatalf(format string, v ...any) {
	select {
	case f.errs <- fmt.Errorf(format, v...):
	default:
	}
}
func (*fatalCatcher) Noticef(string, ...any) {}
func (*fatalCatcher) Warnf(string, ...any)   {}
func (*fatalCatcher) Errorf(string, ...any)  {}
func (*fatalCatcher) Debugf(string, ...any)  {}
func (*fatalCatcher) Tracef(string, ...any)  {}

// splitHostPort reads host:port; the port is a number from 1 to 65535, or 0 or -1 to
// pick a free one.
func splitHostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("want host:port, e.g. 127.0.0.1:4222 (%w)", err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q is not a number", p)
	}
	if n < -1 || n > 65535 {
		return "", 0, fmt.Errorf("port %d is out of range: want 1 to 65535, or -1 for a free one", n)
	}
	if n == 0 {
		n = server.RANDOM_PORT // for nats-server, 0 would mean its default port 4222
	}
	return h, n, nil
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}
