// Package natstest starts real nats-servers in-process for tests: one server, or a
// three-node JetStream cluster, on random ports with temporary store directories.
package natstest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/patchbay/patchbay/internal/natsserver"
	"github.com/patchbay/patchbay/internal/router"
)

// RunServer starts a JetStream server on a random port with a temp store dir; it is
// shut down when the test ends.
func RunServer(t testing.TB) *server.Server {
	t.Helper()
	return RunServerAt(t, "127.0.0.1:-1", t.TempDir())
}

// RunServerAt starts a server on an address and store dir (to restart one on the same
// files).
func RunServerAt(t testing.TB, listen, storeDir string) *server.Server {
	t.Helper()
	ns, err := natsserver.Start(natsserver.Config{Listen: listen, StoreDir: storeDir})
	if err != nil {
		t.Fatalf("start nats server: %v", err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// RunCluster starts a three-node JetStream cluster and waits until it has a meta
// leader. It returns the servers; ClusterURLs gives a connect string for all three.
func RunCluster(t testing.TB) []*server.Server {
	t.Helper()
	var servers []*server.Server
	// The route ports are picked free and then bound: a test running meanwhile may
	// take one first. Then the cluster is started again on other ports.
	for attempt := 1; servers == nil; attempt++ {
		var err error
		servers, err = startCluster(t)
		if err != nil && (attempt == 5 || !strings.Contains(err.Error(), "address already in use")) {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := 0
		for _, s := range servers {
			if s.JetStreamIsClustered() && s.JetStreamIsCurrent() {
				ready++
			}
		}
		leader := false
		for _, s := range servers {
			leader = leader || s.JetStreamIsLeader()
		}
		if ready == 3 && leader {
			return servers
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster has no JetStream meta leader after 60s")
		}
		time.Sleep(50 * time.Millisecond) // polling the cluster's own state, not a test wait
	}
}

// startCluster starts three nodes on free route ports; on an error it shuts down
// those it started.
func startCluster(t testing.TB) ([]*server.Server, error) {
	ports := make([]int, 3)
	routes := make([]string, 3)
	for i := range ports {
		ports[i] = freePort(t)
		routes[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
	}
	dir := t.TempDir()
	servers := make([]*server.Server, 0, 3)
	for i := range 3 {
		ns, err := natsserver.Start(natsserver.Config{
			Listen:     "127.0.0.1:-1",
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d", i)),
			ServerName: fmt.Sprintf("n%d", i),
			Cluster: &natsserver.ClusterConfig{
				Name: "patchbay-test", Listen: fmt.Sprintf("127.0.0.1:%d", ports[i]), Routes: routes,
			},
			ReadyTimeout: 30 * time.Second,
		})
		if err != nil {
			for _, ns := range servers {
				ns.Shutdown()
				ns.WaitForShutdown()
			}
			return nil, fmt.Errorf("start cluster node %d: %w", i, err)
		}
		servers = append(servers, ns)
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	}
	return servers, nil
}

// ClusterURLs joins the client URLs of servers.
func ClusterURLs(servers []*server.Server) string {
	s := ""
	for i, ns := range servers {
		if i > 0 {
			s += ","
		}
		s += ns.ClientURL()
	}
	return s
}

// Connect connects to url and closes the connection when the test ends.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// routerWait bounds a test router's start and stop: generous, for a loaded machine
// under -race.
const routerWait = 60 * time.Second

// StartRouter starts a router on nc with cfg and stops it when the test ends.
func StartRouter(t testing.TB, nc *nats.Conn, cfg router.Config) *router.Router {
	t.Helper()
	r, err := router.New(nc, cfg)
	if err != nil {
		t.Fatalf("new router: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), routerWait)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("start router: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), routerWait)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return r
}
