// Package natsserver starts the nats-server that `patchbay serve` embeds, and the
// in-process servers (single or a three-node cluster) that tests use.
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures an embedded server.
type Config struct {
	// Listen is host:port for client connections; port -1 picks a free one.
	Listen string
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// ServerName names the server (cluster members need distinct names).
	ServerName string
	// Cluster, when set, joins a cluster: its name, the listen address for routes and
	// the route URLs of the other members.
	Cluster *ClusterConfig
	// ReadyTimeout bounds the wait for the server to accept connections (10s when zero).
	ReadyTimeout time.Duration
}

// ClusterConfig makes the server a cluster member.
type ClusterConfig struct {
	Name   string
	Listen string // host:port for routes
	Routes []string
}

// Start starts a server with JetStream and waits until it accepts connections.
func Start(c Config) (*server.Server, error) {
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("nats listen address: %w", err)
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
	if c.Cluster != nil {
		ch, cp, err := splitHostPort(c.Cluster.Listen)
		if err != nil {
			return nil, fmt.Errorf("cluster listen address: %w", err)
		}
		opts.Cluster = server.ClusterOpts{Name: c.Cluster.Name, Host: ch, Port: cp}
		opts.Routes = server.RoutesFromStr(joinComma(c.Cluster.Routes))
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go ns.Start()
	wait := c.ReadyTimeout
	if wait == 0 {
		wait = 10 * time.Second
	}
	if !ns.ReadyForConnections(wait) {
		ns.Shutdown()
		return nil, fmt.Errorf("nats server did not accept connections on %s within %s", c.Listen, wait)
	}
	return ns, nil
}

func splitHostPort(s string) (string, int, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q is not a number", p)
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
