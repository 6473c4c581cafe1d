// Package js_test runs the JavaScript example client (demo.mjs, invalid.mjs) against
// an in-process NATS server and router. It is skipped when node is not installed; it
// installs the example's npm dependencies itself (npm ci) when node_modules is missing.
package js_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/internal/natstest"
	"github.com/patchbay/patchbay/internal/router"
)

const (
	npmTimeout  = 5 * time.Minute
	nodeTimeout = 60 * time.Second // the scripts give up on their own after 30 s
)

var (
	installOnce sync.Once
	installErr  string
	installSkip string
)

// needNode skips the test without node, and makes sure node_modules is installed
// (once per test binary).
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH; skipping the JavaScript example")
	}
	installOnce.Do(install)
	if installSkip != "" {
		t.Skip(installSkip)
	}
	if installErr != "" {
		t.Fatal(installErr)
	}
	return node
}

// install runs npm ci when the nats package is not installed yet (a clean clone).
func install() {
	if _, err := os.Stat(filepath.Join("node_modules", "nats", "package.json")); err == nil {
		return
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		installSkip = "node_modules is missing and npm is not on PATH; skipping the JavaScript example"
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		installErr = "npm ci in examples/js failed: " + err.Error() + "\n" + string(out)
	}
}

// startRouter starts a NATS server with JetStream and a router on it, and returns the
// server's client URL.
func startRouter(t *testing.T) string {
	t.Helper()
	ns := natstest.RunServer(t)
	nc := natstest.Connect(t, ns.ClientURL())
	r, err := router.New(nc, router.Config{})
	if err != nil {
		t.Fatalf("router.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("router start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Errorf("router stop: %v", err)
		}
	})
	return ns.ClientURL()
}

// runNode runs a script of this directory with NATS_URL set and returns its exit
// error and its stdout; both streams are logged.
func runNode(t *testing.T, node, natsURL, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	// NATS_URL points at the test server; QUEUE is left unset so each run uses a
	// random queue of its own.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "NATS_URL=") || strings.HasPrefix(kv, "QUEUE=")
	})
	cmd.Env = append(env, "NATS_URL="+natsURL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("node %s: %v\n--- stdout\n%s--- stderr\n%s", script, err, stdout.String(), stderr.String())
	if ctx.Err() != nil {
		t.Fatalf("node %s did not finish within %s", script, nodeTimeout)
	}
	return stdout.String(), err
}

// TestDemo: a job's whole life from JavaScript: register, create, offer, accept,
// complete, close, job.closed event, deregister.
func TestDemo(t *testing.T) {
	node := needNode(t)
	url := startRouter(t)
	out, err := runNode(t, node, url, "demo.mjs")
	if err != nil {
		t.Fatalf("demo.mjs failed: %v", err)
	}
	ok := regexp.MustCompile(`(?m)^OK job js-job-[0-9a-f]+ closed Resolved$`)
	if !ok.MatchString(out) {
		t.Fatalf("demo.mjs output has no line %q", ok)
	}
	if !regexp.MustCompile(`(?m)^accepted: assignment \S+$`).MatchString(out) {
		t.Fatalf("demo.mjs did not print the assignment id")
	}
}

// TestInvalidJob: a refused command reaches the JavaScript client as an error with the
// wire code and field.
func TestInvalidJob(t *testing.T) {
	node := needNode(t)
	url := startRouter(t)
	out, err := runNode(t, node, url, "invalid.mjs")
	if err != nil {
		t.Fatalf("invalid.mjs failed: %v", err)
	}
	if !regexp.MustCompile(`(?m)^ERR invalid_data queueId$`).MatchString(out) {
		t.Fatalf("invalid.mjs output has no line %q", "ERR invalid_data queueId")
	}
}
