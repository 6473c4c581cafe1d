package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/spf13/pflag"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/internal/azapi"
)

// routingAPIConfig holds serve's flags for the Azure-compatible HTTP API.
type routingAPIConfig struct {
	enabled   bool
	tokenFile string
}

func (c *routingAPIConfig) add(f *pflag.FlagSet) {
	f.BoolVar(&c.enabled, "routing-api", false, "serve the Azure Job Router compatible HTTP API under /routing/ on --http; it acts with the router's credentials, so put it behind your own authentication or give --routing-api-token-file")
	f.StringVar(&c.tokenFile, "routing-api-token-file", "", "file holding a bearer token every /routing/ request must carry (Authorization: Bearer <token>)")
}

// validate checks the flags before anything starts.
func (c *routingAPIConfig) validate(httpAddr string) error {
	switch {
	case !c.enabled && c.tokenFile != "":
		return errors.New("--routing-api-token-file needs --routing-api")
	case c.enabled && httpAddr == "":
		return errors.New(`--routing-api needs the HTTP listener: --http must not be ""`)
	}
	if c.tokenFile != "" {
		if _, err := c.token(); err != nil {
			return err
		}
	}
	return nil
}

func (c *routingAPIConfig) token() (string, error) {
	b, err := os.ReadFile(c.tokenFile)
	if err != nil {
		return "", fmt.Errorf("--routing-api-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--routing-api-token-file %s: the file is empty", c.tokenFile)
	}
	return token, nil
}

// mount adds the API to the HTTP listener's handler h when --routing-api is given.
func (c *routingAPIConfig) mount(h http.Handler, nc *nats.Conn) (http.Handler, error) {
	if !c.enabled {
		return h, nil
	}
	var opts []azapi.Option
	if c.tokenFile != "" {
		token, err := c.token()
		if err != nil {
			return nil, err
		}
		opts = append(opts, azapi.WithToken(token))
	}
	client, err := patchbay.New(nc, patchbay.WithSource("/patchbay/routing-api"))
	if err != nil {
		return nil, err
	}
	return azapi.Mount(h, azapi.Handler(client, opts...)), nil
}
