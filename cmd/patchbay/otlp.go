package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// OpenTelemetry export of the router's spans (receive, apply, persist, publish of
// each command), over OTLP/HTTP (protobuf). OTLP/HTTP rather than gRPC: the same
// spans, without a gRPC client in the binary's work at run time, and every collector
// accepts it (port 4318).

// otlpEnvVars are the standard variables that turn export on without the flag; the
// exporter reads them itself (with OTEL_EXPORTER_OTLP_HEADERS, ..._TIMEOUT, ...).
var otlpEnvVars = []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}

// otlpOptions turns --otlp-endpoint into exporter options: host:port is plain HTTP
// to http://host:port/v1/traces; an http:// or https:// URL is used as it is (its
// path, when it has one, replacing /v1/traces). ok is false when export is off: no
// flag and none of otlpEnvVars set.
func otlpOptions(endpoint string, getenv func(string) string) (opts []otlptracehttp.Option, ok bool, err error) {
	if endpoint == "" {
		for _, v := range otlpEnvVars {
			if getenv(v) != "" {
				return nil, true, nil // the exporter reads the environment
			}
		}
		return nil, false, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("--otlp-endpoint %q: %s (want host:port, or an http:// or https:// URL)", endpoint, why)
	}
	if strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		switch {
		case err != nil:
			return nil, false, bad(err.Error())
		case u.Scheme != "http" && u.Scheme != "https":
			return nil, false, bad("the scheme must be http or https")
		case u.Host == "":
			return nil, false, bad("no host")
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		return []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}, true, nil
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return nil, false, bad(err.Error())
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
		return nil, false, bad("the port must be 1 to 65535 after a host")
	}
	return []otlptracehttp.Option{otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure()}, true, nil
}

// newTracerProvider is the span exporter serve configures: nil (no spans, no cost)
// unless --otlp-endpoint or the standard environment turns it on. Spans are sent in
// batches; shutdown sends what is left.
func newTracerProvider(ctx context.Context, endpoint string) (*sdktrace.TracerProvider, error) {
	opts, ok, err := otlpOptions(endpoint, os.Getenv)
	if err != nil || !ok {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	res, err := resource.Merge(
		resource.NewSchemaless(attribute.String("service.name", "patchbay"), attribute.String("service.version", buildVersion())),
		resource.Environment(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
	)
	if err != nil {
		return nil, fmt.Errorf("OTLP resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
