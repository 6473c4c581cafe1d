package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
)

// TimeoutDefault is the default of --timeout.
const TimeoutDefault = 5 * time.Second

// NATSURLDefault is where the client commands look for NATS when --nats-url is not
// given: the address `patchbay serve` listens on by default.
const NATSURLDefault = "nats://127.0.0.1:4222"

// clientFlags are the connection flags every client command shares.
type clientFlags struct {
	natsURL string
	auth    natsAuth
	timeout time.Duration
	// inboxPrefix is where request inboxes are made (--inbox-prefix; else the one
	// patchbay creds allow, see inboxOption).
	inboxPrefix string
}

// addClientFlags registers the connection flags on fs (a parent command's persistent
// flags, so that `patchbay job create --nats-url ...` works) and returns their values.
func addClientFlags(fs *pflag.FlagSet) *clientFlags {
	c := &clientFlags{}
	url := NATSURLDefault
	if env := os.Getenv("NATS_URL"); env != "" {
		url = env
	}
	fs.StringVar(&c.natsURL, "nats-url", url, "NATS server(s) the router uses (comma-separated URLs; default $NATS_URL, else "+NATSURLDefault+")")
	c.auth.add(fs, "NATS")
	fs.StringVar(&c.inboxPrefix, "inbox-prefix", "", "make request inboxes under this prefix, as NATS users allowed only their own inboxes must (default: the one `patchbay creds` put in --nats-creds, else _INBOX)")
	fs.DurationVar(&c.timeout, "timeout", TimeoutDefault, "how long to wait for NATS, and how long a command is resent while the router cannot answer (it is restarting)")
	return c
}

// connect connects to NATS and returns a patchbay client and the function that
// closes its connection. name tells the NATS server who is connected; opts are added
// to the client's (a call retries for --timeout unless they say otherwise).
func (c *clientFlags) connect(name string, opts ...patchbay.Option) (*patchbay.Client, func(), error) {
	if c.timeout <= 0 {
		return nil, nil, fmt.Errorf("--timeout must be positive (got %s)", c.timeout)
	}
	auth, err := c.auth.options()
	if err != nil {
		return nil, nil, err
	}
	nopts := append([]nats.Option{
		nats.Name("patchbay " + name),
		nats.Timeout(c.timeout),
		nats.MaxReconnects(-1),
	}, auth...)
	if p := c.inboxOption(); p != "" {
		nopts = append(nopts, nats.CustomInboxPrefix(p))
	}
	nc, err := nats.Connect(c.natsURL, nopts...)
	if err != nil {
		return nil, nil, c.auth.connectError(c.natsURL, err)
	}
	copts := append([]patchbay.Option{patchbay.WithSource("/patchbay/cli/" + name), patchbay.WithRetryDeadline(c.timeout)}, opts...)
	client, err := patchbay.New(nc, copts...)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return client, nc.Close, nil
}

// parseKeyValues parses repeated key=value flags (--label, --tag) into a map. Values
// that read as numbers or as true/false become numbers and booleans; a value that is
// a JSON array or object (skills='["support","sales"]') becomes that array or
// object; anything else, or a value in double quotes (k="5"), is a string. It returns
// nil for no items.
func parseKeyValues(flag string, items []string) (map[string]any, error) {
	if len(items) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok {
			return nil, fmt.Errorf("--%s %q: want key=value", flag, it)
		}
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, fmt.Errorf("--%s %q: the key must not be empty", flag, it)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("--%s %q: key %q is given twice", flag, it, k)
		}
		out[k] = parseMapValue(v)
	}
	return out, nil
}

// parseMapValue is parseValue, and also reads a JSON array or object.
func parseMapValue(s string) any {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
		var v any
		if json.Unmarshal([]byte(t), &v) == nil {
			return v
		}
	}
	return parseValue(s)
}

// parseValue reads a label or selector value: an integer or a finite decimal number,
// true or false, and otherwise a string (double quotes around it are removed, so
// "5" stays the string 5).
func parseValue(s string) any {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	// ParseFloat also reads "NaN", "Inf" and hex floats, which are words on the
	// command line (and NaN and Inf have no JSON form): only plain decimals count.
	if isDecimal(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	}
	return s
}

// isDecimal reports whether s is made of digits, signs, a point and exponent marks.
func isDecimal(s string) bool {
	return s != "" && strings.Trim(s, "0123456789.+-eE") == ""
}

// checkIDFlag checks that an id flag's value is a valid patchbay id.
func checkIDFlag(flag, v string) error {
	if v == "" {
		return fmt.Errorf("--%s is required", flag)
	}
	if !events.ValidID(v) {
		return fmt.Errorf("--%s %q: an id is 1-128 letters, digits, '-' or '_', starting with a letter or digit", flag, v)
	}
	return nil
}

// withoutCancel is ctx without its cancellation but with a deadline: for the
// requests a command must still send while it stops (deregister, close a job).
func withoutCancel(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// outlive returns a context that ends grace after ctx ends (or when its cancel is
// called). A worker's accept, complete and close are sent with it: they are resent
// through a router restart for as long as the worker runs, and may still finish for
// grace once it is told to stop.
func outlive(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(out, func() { t.Stop() })
	})
	return out, func() { stop(); cancel() }
}

// lineWriter serialises whole lines written from several goroutines.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}
