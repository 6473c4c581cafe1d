package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"
)

// natsAuth is how a command authenticates to NATS and verifies it: the same flags on
// serve (for --nats-url) and on every client command.
type natsAuth struct {
	creds, user, password, token string
	tlsCA, tlsCert, tlsKey       string
}

// add registers the flags on fs; what names the NATS deployment they are for.
func (a *natsAuth) add(fs *pflag.FlagSet, what string) {
	fs.StringVar(&a.creds, "nats-creds", "", "credentials file (JWT and seed) for "+what)
	fs.StringVar(&a.user, "nats-user", "", "user name for "+what)
	fs.StringVar(&a.password, "nats-password", "", "password for "+what+" (with --nats-user)")
	fs.StringVar(&a.token, "nats-token", "", "token for "+what)
	fs.StringVar(&a.tlsCA, "tls-ca", "", "CA certificate to verify "+what)
	fs.StringVar(&a.tlsCert, "tls-cert", "", "client certificate for "+what+" (with --tls-key)")
	fs.StringVar(&a.tlsKey, "tls-key", "", "client key for "+what+" (with --tls-cert)")
}

// options are the connection options the flags ask for. Files are checked here, so a
// missing or unreadable one is reported by its flag before anything connects.
func (a *natsAuth) options() ([]nats.Option, error) {
	var opts []nats.Option
	switch {
	case a.password != "" && a.user == "":
		return nil, errors.New("--nats-password needs --nats-user")
	case (a.tlsCert == "") != (a.tlsKey == ""):
		return nil, errors.New("--tls-cert and --tls-key go together")
	case a.creds != "" && (a.user != "" || a.token != ""):
		return nil, errors.New("--nats-creds, --nats-user and --nats-token are different ways to authenticate: give one")
	case a.user != "" && a.token != "":
		return nil, errors.New("--nats-user and --nats-token are different ways to authenticate: give one")
	}
	for _, f := range []struct{ flag, path string }{
		{"--nats-creds", a.creds}, {"--tls-ca", a.tlsCA}, {"--tls-cert", a.tlsCert}, {"--tls-key", a.tlsKey},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			return nil, fmt.Errorf("%s %s: %w", f.flag, f.path, unwrapPath(err))
		}
	}
	if a.creds != "" {
		opts = append(opts, nats.UserCredentials(a.creds))
	}
	if a.user != "" {
		opts = append(opts, nats.UserInfo(a.user, a.password))
	}
	if a.token != "" {
		opts = append(opts, nats.Token(a.token))
	}
	if a.tlsCA != "" {
		opts = append(opts, nats.RootCAs(a.tlsCA))
	}
	if a.tlsCert != "" {
		opts = append(opts, nats.ClientCert(a.tlsCert, a.tlsKey))
	}
	return opts, nil
}

// connectError says why connecting to NATS at url failed, in terms of the flags that
// can fix it.
func (a *natsAuth) connectError(url string, err error) error {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) ||
		strings.Contains(msg, "authorization violation") || strings.Contains(msg, "authentication"):
		how := "no credentials were given (--nats-creds, --nats-user, --nats-token)"
		switch {
		case a.creds != "":
			how = "check --nats-creds " + a.creds
		case a.user != "":
			how = "check --nats-user and --nats-password"
		case a.token != "":
			how = "check --nats-token"
		}
		return fmt.Errorf("NATS at %s refused the connection: %w (%s)", url, err, how)
	case strings.Contains(msg, "x509") || strings.Contains(msg, "tls"):
		return fmt.Errorf("TLS with NATS at %s failed: %w (check --tls-ca, --tls-cert, --tls-key and the URL's scheme)", url, err)
	case errors.Is(err, nats.ErrNoServers) || strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host"):
		return fmt.Errorf("no NATS server answers at %s: %w (is `patchbay serve` running? see --nats-url or NATS_URL)", url, err)
	}
	return fmt.Errorf("connect to NATS at %s: %w", url, err)
}

// unwrapPath drops the path a *PathError repeats: the flag already names it.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
