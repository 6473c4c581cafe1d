package events_test

// Regression tests for bugs found in the events package while writing its tests.

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func knownBug(t *testing.T, fixed bool, format string, args ...any) {
	t.Helper()
	require.Truef(t, fixed, format, args...)
}

func binaryHeader(kv ...string) map[string][]string {
	h := map[string][]string{
		"ce-specversion": {"1.0"}, "ce-id": {"e1"}, "ce-type": {"io.patchbay.offer.accept"}, "ce-source": {"/w"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = []string{kv[i+1]}
	}
	return h
}

// codec.go decodeBinary: "ce-datacontenttype" falls into the default branch and is
// set as an extension, which sdk-go refuses (spec attribute), so the message is
// refused as malformed and the ce-datacontenttype fallback below it is dead code.
func TestRegressionBinaryDataContentTypeHeader(t *testing.T) {
	t.Parallel()
	e, err := events.Decode(binaryHeader("ce-datacontenttype", "application/json"), []byte(`{"jobId":"j1","offerId":"o1","workerId":"w1"}`))
	knownBug(t, err == nil, "Decode refuses a binary message with a ce-datacontenttype header: %v", err)
	require.Equal(t, "application/json", e.DataContentType())
}

// codec.go DecodeData: encoding/json matches field names case-insensitively, so a
// misspelt-case field is not "unknown" and a second spelling silently overrides the
// first.
func TestRegressionDecodeDataCaseInsensitiveFields(t *testing.T) {
	t.Parallel()
	e, err := events.Decode(binaryHeader(), []byte(`{"jobId":"j1","offerId":"o1","workerId":"w1","WORKERID":"w2"}`))
	require.NoError(t, err)
	var got events.OfferAccept
	err = events.DecodeData(e, &got)
	knownBug(t, err != nil, "DecodeData accepts field %q as workerId (got %+v)", "WORKERID", got)
	require.ErrorIs(t, err, events.ErrInvalidData)
}

// codec.go DecodeData: json.Decoder.Decode reads the first JSON value only; anything
// after it is ignored.
func TestRegressionDecodeDataTrailingData(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"jobId":"j1","offerId":"o1","workerId":"w1"} trailing`,
		`{"jobId":"j1","offerId":"o1","workerId":"w1"}{"jobId":"j2"}`,
	} {
		e, err := events.Decode(binaryHeader(), []byte(body))
		require.NoError(t, err)
		err = events.DecodeData(e, &events.OfferAccept{})
		knownBug(t, err != nil, "DecodeData ignores data after the first JSON value: %q", body)
		require.ErrorIs(t, err, events.ErrInvalidData)
	}
}

// codec.go DecodeData: data "null" decodes into the zero payload instead of being
// refused like empty data.
func TestRegressionDecodeDataNull(t *testing.T) {
	t.Parallel()
	e, err := events.Decode(binaryHeader(), []byte(`null`))
	require.NoError(t, err)
	err = events.DecodeData(e, &events.OfferAccept{})
	knownBug(t, err != nil, "DecodeData accepts data null as an empty payload")
	require.ErrorIs(t, err, events.ErrInvalidData)
}

// codec.go Decode: the binary mode refuses any specversion but 1.0, the structured
// mode accepts 0.3 (sdk-go parses it).
func TestRegressionStructuredSpecVersion03(t *testing.T) {
	t.Parallel()
	_, err := events.Decode(nil, []byte(`{"specversion":"0.3","id":"e1","type":"io.patchbay.job.cancel","source":"/p"}`))
	knownBug(t, err != nil, "structured Decode accepts specversion 0.3 (binary refuses it)")
	require.ErrorIs(t, err, events.ErrMalformed)
}

// codec.go Binary: dataschema is not written, and extension values are written with
// fmt.Sprint instead of their CloudEvents canonical string form (a binary value
// becomes "[1 2 3]" instead of base64 "AQID").
func TestRegressionBinaryAttributes(t *testing.T) {
	t.Parallel()
	e, err := events.New(events.TypeWorkerDeregister, "e1", "/w", "", testTime, events.WorkerDeregister{WorkerID: "w1"})
	require.NoError(t, err)
	e.SetDataSchema("https://patchbay.io/schemas/worker.deregister.json")
	e.SetExtension("blob", []byte{1, 2, 3})
	require.NoError(t, e.Validate())
	header, _ := events.Binary(e)
	knownBug(t, len(header["ce-dataschema"]) == 1, "Binary drops dataschema")
	knownBug(t, fmt.Sprint(header["ce-blob"]) == "[AQID]", "Binary writes the []byte extension as %q", header["ce-blob"])
}

// errors.go AsError: a nil error panics (nil pointer dereference on err.Error()).
func TestRegressionAsErrorNil(t *testing.T) {
	t.Parallel()
	var got *events.Error
	panicked := func() (p any) {
		defer func() { p = recover() }()
		got = events.AsError(nil)
		return nil
	}()
	knownBug(t, panicked == nil, "AsError(nil) panics: %v", panicked)
	require.Nil(t, got)
}

// catalog.go Type.Name: slices off len(TypePrefix) bytes without checking the prefix,
// so a type shorter than the prefix panics (and InSubject/ReqSubject with it), and a
// longer foreign type loses its first 12 bytes.
func TestRegressionTypeNameWithoutPrefix(t *testing.T) {
	t.Parallel()
	var name string
	panicked := func() (p any) {
		defer func() { p = recover() }()
		name = events.Type("job.created").Name()
		return nil
	}()
	knownBug(t, panicked == nil, "Type(%q).Name() panics: %v", "job.created", panicked)
	require.Equal(t, "job.created", name)
}

// codec.go Decode: the SDK's reader slices the quotes off data_base64 without
// checking that it is a string, and panics on a one-digit number (alone, or when
// data follows a data_base64 that came before specversion).
func TestRegressionStructuredDataBase64Panics(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"data_base64":1,"specversion":"1.0","id":"e1","source":"/p","type":"t"}`,
		`{"specversion":"1.0","id":"e1","source":"/p","type":"t","data_base64":7}`,
		`{"data_base64":"AQID","specversion":"1.0","id":"e1","source":"/p","type":"t","data":0}`,
	} {
		var err error
		panicked := func() (p any) {
			defer func() { p = recover() }()
			_, err = events.Decode(nil, []byte(body))
			return nil
		}()
		knownBug(t, panicked == nil, "Decode panics on %s: %v", body, panicked)
		require.ErrorIs(t, err, events.ErrMalformed, body)
		require.Equal(t, "data_base64", events.AsError(err).Field)
	}
}
