package events

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
)

// Distributed tracing: the CloudEvents distributed tracing extension carries a W3C
// trace context in two extension attributes, traceparent and tracestate (in the
// binary content mode the headers ce-traceparent and ce-tracestate). A command that
// carries one passes it on: every event the command causes, and its answer, carry
// the command's trace id with a span id of the router's (a child of the command's
// span). Events caused by timers start a new trace.
//
// An invalid traceparent or tracestate refuses the command (malformed, naming the
// attribute; invalid_data for one over its length limit): a client that sends one
// learns at once that its tracing is broken, rather than finding its traces cut.
// A tracestate without a traceparent is checked, then ignored.
const (
	// AttrTraceParent and AttrTraceState are the extension attributes' names.
	AttrTraceParent = "traceparent"
	AttrTraceState  = "tracestate"

	// MaxTraceParentBytes is the longest traceparent accepted. Version 00 is exactly
	// 55 bytes; a later version may append fields after a '-', up to this bound.
	MaxTraceParentBytes = 128

	// MaxTraceStateBytes is the longest tracestate accepted: 512 bytes, the length
	// W3C Trace Context asks every participant to pass on (instead of
	// MaxAttributeBytes, which bounds every other attribute). It is carried on every
	// event the command causes.
	MaxTraceStateBytes = 512

	// maxTraceStateMembers is the most list members a tracestate may have (W3C).
	maxTraceStateMembers = 32

	traceParentLen = 55 // "00-" + 32 + "-" + 16 + "-" + 2
)

// TraceContext is a W3C trace context: the trace, the span that caused what carries
// it, its flags, and the vendors' tracestate. The zero value is no trace.
type TraceContext struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte
	State   string // tracestate as sent ("" for none)
}

// Valid says tc names a trace (a non-zero trace id and span id).
func (tc TraceContext) Valid() bool {
	return tc.TraceID != [16]byte{} && tc.SpanID != [8]byte{}
}

// Sampled says the caller may have recorded the trace (flag 01).
func (tc TraceContext) Sampled() bool { return tc.Flags&1 == 1 }

// TraceParent formats tc as a version 00 traceparent.
func (tc TraceContext) TraceParent() string {
	var b [traceParentLen]byte
	return string(tc.appendTraceParent(b[:0]))
}

func (tc TraceContext) appendTraceParent(b []byte) []byte {
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, tc.TraceID[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, tc.SpanID[:])
	b = append(b, '-')
	return hex.AppendEncode(b, []byte{tc.Flags})
}

// TraceIDString is the trace id in lowercase hex.
func (tc TraceContext) TraceIDString() string { return hex.EncodeToString(tc.TraceID[:]) }

// Child is tc with a new random span id: the trace context of something tc caused.
// Flags and tracestate are kept.
func (tc TraceContext) Child() TraceContext {
	tc.SpanID = NewSpanID()
	return tc
}

// NewSpanID is a random non-zero span id.
func NewSpanID() (id [8]byte) {
	for id == [8]byte{} {
		putUint64(id[:], rand.Uint64())
	}
	return id
}

// NewTrace starts a new trace: a random trace id and span id, flags 00 (nothing was
// recorded), no tracestate.
func NewTrace() TraceContext {
	var tc TraceContext
	for tc.TraceID == [16]byte{} {
		putUint64(tc.TraceID[:8], rand.Uint64())
		putUint64(tc.TraceID[8:], rand.Uint64())
	}
	tc.SpanID = NewSpanID()
	return tc
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// ParseTraceParent reads a traceparent: version-traceid-parentid-flags in lowercase
// hex; the version is not ff, neither id is all zeros. Version 00 is exactly 55
// bytes; a later version is read as version 00 and may go on after a '-' (W3C's rule
// for versions a reader does not know), up to MaxTraceParentBytes. The error is an
// *Error naming field.
func ParseTraceParent(field, s string) (TraceContext, error) {
	var tc TraceContext
	if len(s) > MaxTraceParentBytes {
		return tc, Errorf(CodeInvalidData, field, "%s is %d bytes; the limit is %d", field, len(s), MaxTraceParentBytes)
	}
	bad := func(why string) error {
		return Errorf(CodeMalformed, field, "%s %q is not a W3C traceparent (version-traceid-parentid-flags in lowercase hex, like 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01): %s", field, s, why)
	}
	if len(s) < traceParentLen || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return tc, bad("wrong length or layout")
	}
	var version [1]byte
	if !lowerHex(version[:], s[0:2]) || version[0] == 0xff {
		return tc, bad("the version must be 2 lowercase hex digits, not ff")
	}
	if version[0] == 0 && len(s) != traceParentLen {
		return tc, bad("version 00 is exactly 55 characters")
	}
	if len(s) > traceParentLen && s[traceParentLen] != '-' {
		return tc, bad("a later version's fields follow a '-'")
	}
	var flags [1]byte
	switch {
	case !lowerHex(tc.TraceID[:], s[3:35]):
		return tc, bad("the trace id must be 32 lowercase hex digits")
	case !lowerHex(tc.SpanID[:], s[36:52]):
		return tc, bad("the parent id must be 16 lowercase hex digits")
	case !lowerHex(flags[:], s[53:55]):
		return tc, bad("the flags must be 2 lowercase hex digits")
	case tc.TraceID == [16]byte{}:
		return tc, bad("the trace id is all zeros")
	case tc.SpanID == [8]byte{}:
		return tc, bad("the parent id is all zeros")
	}
	tc.Flags = flags[0]
	return tc, nil
}

// lowerHex decodes s, lowercase hex only, into dst (len(s) == 2*len(dst)).
func lowerHex(dst []byte, s string) bool {
	for i := range dst {
		hi, ok1 := lowerHexDigit(s[2*i])
		lo, ok2 := lowerHexDigit(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func lowerHexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// CheckTraceState checks a tracestate: at most MaxTraceStateBytes, at most 32
// comma-separated list members, each empty or key=value with W3C's key and value
// characters (a key of lowercase letters, digits, '_', '-', '*', '/', one '@'
// at most; a value of printable ASCII but ',' and '=', not ending in a space).
func CheckTraceState(field, s string) error {
	if len(s) > MaxTraceStateBytes {
		return Errorf(CodeInvalidData, field, "%s is %d bytes; the limit is %d", field, len(s), MaxTraceStateBytes)
	}
	bad := func(why string) error {
		return Errorf(CodeMalformed, field, "%s is not a W3C tracestate (key=value list members separated by commas): %s", field, why)
	}
	members := 0
	for m := range strings.SplitSeq(s, ",") {
		m = strings.Trim(m, " \t")
		if m == "" {
			continue
		}
		if members++; members > maxTraceStateMembers {
			return bad("more than 32 list members")
		}
		key, value, ok := strings.Cut(m, "=")
		if !ok || !traceStateKey(key) || !traceStateValue(value) {
			return bad("list member " + quoteShort(m) + " is not key=value")
		}
	}
	return nil
}

func traceStateKey(k string) bool {
	if k == "" || len(k) > 256 || strings.Count(k, "@") > 1 {
		return false
	}
	if c := k[0]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
		return false
	}
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_', c == '-', c == '*', c == '/', c == '@':
		default:
			return false
		}
	}
	return true
}

func traceStateValue(v string) bool {
	if v == "" || len(v) > 256 || v[len(v)-1] == ' ' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}

// checkTrace checks a traceparent or tracestate attribute (isTraceAttribute).
func checkTrace(name, field, v string) error {
	if strings.EqualFold(name, AttrTraceParent) {
		_, err := ParseTraceParent(field, v)
		return err
	}
	return CheckTraceState(field, v)
}

// isTraceAttribute says name is traceparent or tracestate, in any case (the SDK
// keeps extension names in lower case, so "TraceParent" is the same attribute).
func isTraceAttribute(name string) bool {
	return strings.EqualFold(name, AttrTraceParent) || strings.EqualFold(name, AttrTraceState)
}

// TraceOf is the trace context a decoded CloudEvent carries (Decode checked it), and
// false when it carries none. It allocates nothing for an event without one.
func TraceOf(e Event) (TraceContext, bool) {
	ctx, ok := e.Context.(*cloudevents.EventContextV1)
	if !ok || ctx == nil || len(ctx.Extensions) == 0 {
		return TraceContext{}, false
	}
	tp, _ := ctx.Extensions[AttrTraceParent].(string)
	if tp == "" {
		return TraceContext{}, false
	}
	tc, err := ParseTraceParent(AttrTraceParent, tp)
	if err != nil {
		return TraceContext{}, false
	}
	if ts, _ := ctx.Extensions[AttrTraceState].(string); ts != "" && CheckTraceState(AttrTraceState, ts) == nil {
		tc.State = ts
	}
	return tc, true
}

// WithTrace is body, a structured CloudEvent as Encode writes it, with tc's
// traceparent (and tracestate) added as extension attributes. body is returned as it
// is when tc is not valid.
func WithTrace(body []byte, tc TraceContext) []byte {
	if !tc.Valid() || len(body) == 0 || body[0] != '{' {
		return body
	}
	const head = `{"specversion":"1.0",`
	at := 1
	if len(body) >= len(head) && string(body[:len(head)]) == head {
		at = len(head)
	}
	out := make([]byte, 0, len(body)+traceParentLen+len(tc.State)+40)
	out = append(out, body[:at]...)
	out = append(out, `"traceparent":"`...)
	out = tc.appendTraceParent(out)
	out = append(out, '"', ',')
	if tc.State != "" {
		out = append(out, `"tracestate":`...)
		out = appendJSONString(out, tc.State)
		out = append(out, ',')
	}
	return append(out, body[at:]...)
}
