package events_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay/events"
)

func TestSubjectConstants(t *testing.T) {
	t.Parallel()
	require.Equal(t, events.SubjectInPrefix+">", events.SubjectInAll)
	require.Equal(t, events.SubjectReqPrefix+">", events.SubjectReqAll)
	require.Equal(t, events.SubjectEventsPrefix+">", events.SubjectEventsAll)
	require.Equal(t, events.SubjectEventsPrefix+events.TypeCommandFailed.Name(), events.SubjectCommandFailed)
}

func TestInboundSubjects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ty  events.Type
		in  string
		req string
	}{
		{events.TypeJobCreated, "patchbay.in.job.created", "patchbay.req.job.created"},
		{events.TypeJobComplete, "patchbay.in.job.complete", "patchbay.req.job.complete"},
		{events.TypeJobClose, "patchbay.in.job.close", "patchbay.req.job.close"},
		{events.TypeJobCancel, "patchbay.in.job.cancel", "patchbay.req.job.cancel"},
		{events.TypeWorkerRegister, "patchbay.in.worker.register", "patchbay.req.worker.register"},
		{events.TypeWorkerUpdate, "patchbay.in.worker.update", "patchbay.req.worker.update"},
		{events.TypeWorkerDeregister, "patchbay.in.worker.deregister", "patchbay.req.worker.deregister"},
		{events.TypeOfferAccept, "patchbay.in.offer.accept", "patchbay.req.offer.accept"},
		{events.TypeOfferDecline, "patchbay.in.offer.decline", "patchbay.req.offer.decline"},
		{events.TypePolicyPut, "patchbay.in.policy.put", "patchbay.req.policy.put"},
		{events.TypePolicyDelete, "patchbay.in.policy.delete", "patchbay.req.policy.delete"},
		{events.TypeJobUpdate, "patchbay.in.job.update", "patchbay.req.job.update"},
		{events.TypeJobUnassign, "patchbay.in.job.unassign", "patchbay.req.job.unassign"},
		{events.TypePolicyApply, "patchbay.in.policy.apply", "patchbay.req.policy.apply"},
	}
	require.Len(t, tests, len(events.Inbound()))
	for _, tt := range tests {
		t.Run(tt.ty.Name(), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.in, events.InSubject(tt.ty))
			require.Equal(t, tt.req, events.ReqSubject(tt.ty))

			got, ok := events.TypeOfSubject(tt.in)
			require.True(t, ok)
			require.Equal(t, tt.ty, got)
			got, ok = events.TypeOfSubject(tt.req)
			require.True(t, ok)
			require.Equal(t, tt.ty, got)
		})
	}
	// And the round trip over the catalog itself, so a new inbound type is covered
	// even before a row is written for it.
	for _, ty := range events.Inbound() {
		for _, subject := range []string{events.InSubject(ty), events.ReqSubject(ty)} {
			got, ok := events.TypeOfSubject(subject)
			require.Truef(t, ok, "%s", subject)
			require.Equal(t, ty, got)
		}
	}
}

func TestTypeOfSubjectRefuses(t *testing.T) {
	t.Parallel()
	for _, subject := range []string{
		"",
		"patchbay.in.",
		"patchbay.req.",
		"patchbay.in.>",
		"patchbay.in.job.received", // outbound type
		"patchbay.req.command.failed",
		"patchbay.in.job.created.extra",
		"patchbay.in.JOB.CREATED",
		"patchbay.events.job.q1.j1.created",
		"patchbay.job.created",
		"job.created",
		"xpatchbay.in.job.created",
		"patchbay.in.io.patchbay.job.created",
	} {
		_, ok := events.TypeOfSubject(subject)
		require.Falsef(t, ok, "%q", subject)
	}
}

func TestJobSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		queueID string
		jobID   string
		ty      events.Type
		want    string
	}{
		{"received", "q1", "j1", events.TypeJobReceived, "patchbay.events.job.q1.j1.received"},
		{"queued", "support-en", "job_42", events.TypeJobQueued, "patchbay.events.job.support-en.job_42.queued"},
		{"assigned", "q1", "j1", events.TypeJobAssigned, "patchbay.events.job.q1.j1.assigned"},
		{"completed", "q1", "j1", events.TypeJobCompleted, "patchbay.events.job.q1.j1.completed"},
		{"closed", "q1", "j1", events.TypeJobClosed, "patchbay.events.job.q1.j1.closed"},
		{"cancelled", "q1", "j1", events.TypeJobCancelled, "patchbay.events.job.q1.j1.cancelled"},
		{"empty queue", "", "j1", events.TypeJobRejected, "patchbay.events.job._.j1.rejected"},
		{"queue with dot", "a.b", "j1", events.TypeJobRejected, "patchbay.events.job._.j1.rejected"},
		{"queue wildcard *", "*", "j1", events.TypeJobRejected, "patchbay.events.job._.j1.rejected"},
		{"queue wildcard >", ">", "j1", events.TypeJobRejected, "patchbay.events.job._.j1.rejected"},
		{"queue with space", "a b", "j1", events.TypeJobRejected, "patchbay.events.job._.j1.rejected"},
		{"queue starting with -", "-q", "j1", events.TypeJobRejected, "patchbay.events.job._.j1.rejected"},
		{"queue too long", strings.Repeat("q", 129), "j1", events.TypeJobRejected, "patchbay.events.job._.j1.rejected"},
		{"empty job", "q1", "", events.TypeJobRejected, "patchbay.events.job.q1._.rejected"},
		{"job with dot", "q1", "j.1", events.TypeJobRejected, "patchbay.events.job.q1._.rejected"},
		{"both invalid", "", "*", events.TypeJobRejected, "patchbay.events.job._._.rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := events.JobSubject(tt.queueID, tt.jobID, tt.ty)
			require.Equal(t, tt.want, got)
			require.True(t, strings.HasPrefix(got, events.SubjectEventsPrefix))
			require.Len(t, strings.Split(got, "."), 6, "a job subject always has six tokens")
		})
	}
}

func TestOfferAndWorkerSubjects(t *testing.T) {
	t.Parallel()
	offers := []struct {
		ty   events.Type
		want string
	}{
		{events.TypeOfferIssued, "patchbay.events.offer.w1.j1.issued"},
		{events.TypeOfferAccepted, "patchbay.events.offer.w1.j1.accepted"},
		{events.TypeOfferDeclined, "patchbay.events.offer.w1.j1.declined"},
		{events.TypeOfferExpired, "patchbay.events.offer.w1.j1.expired"},
		{events.TypeOfferRevoked, "patchbay.events.offer.w1.j1.revoked"},
	}
	for _, tt := range offers {
		require.Equal(t, tt.want, events.OfferSubject("w1", "j1", tt.ty))
		require.True(t, strings.HasPrefix(tt.want, strings.TrimSuffix(events.OfferWorkerAll("w1"), ">")))
	}
	require.Equal(t, "patchbay.events.offer.w1.>", events.OfferWorkerAll("w1"))
	// one filter selects a job's whole history: its job events and its offers
	require.Equal(t, "patchbay.events.*.*.j1.*", events.JobAll("j1"))
	for _, subject := range []string{events.OfferSubject("w1", "j1", events.TypeOfferIssued), events.JobSubject("q", "j1", events.TypeJobClosed)} {
		require.True(t, matchSubject(events.JobAll("j1"), subject), subject)
	}
	require.False(t, matchSubject(events.JobAll("j1"), events.OfferSubject("w1", "j2", events.TypeOfferIssued)))
	require.False(t, matchSubject(events.JobAll("j1"), events.WorkerSubject("j1", events.TypeWorkerRegistered)))

	workers := []struct {
		ty   events.Type
		want string
	}{
		{events.TypeWorkerRegistered, "patchbay.events.worker.agent-7.registered"},
		{events.TypeWorkerUpdated, "patchbay.events.worker.agent-7.updated"},
		{events.TypeWorkerDeregistered, "patchbay.events.worker.agent-7.deregistered"},
	}
	for _, tt := range workers {
		require.Equal(t, tt.want, events.WorkerSubject("agent-7", tt.ty))
	}

	require.Equal(t, "patchbay.events.job.q1.>", events.JobQueueAll("q1"))
	require.True(t, strings.HasPrefix(events.JobSubject("q1", "j1", events.TypeJobQueued), strings.TrimSuffix(events.JobQueueAll("q1"), ">")))
	require.Equal(t, "patchbay.events.job.q1.*.closed", events.JobQueueTypeAll("q1", events.TypeJobClosed))
	require.True(t, matchSubject(events.JobQueueTypeAll("q1", events.TypeJobClosed), events.JobSubject("q1", "j1", events.TypeJobClosed)))
	require.False(t, matchSubject(events.JobQueueTypeAll("q1", events.TypeJobClosed), events.JobSubject("q1", "j1", events.TypeJobQueued)))
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"Z", true},
		{"0", true},
		{"job-1", true},
		{"job_1", true},
		{"0-_", true},
		{"ABCdef123", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"-a", false},
		{"_a", false},
		{"a.b", false},
		{"a b", false},
		{" a", false},
		{"a*", false},
		{"a>", false},
		{"a/b", false},
		{"a:b", false},
		{"é", false},
		{"abc\n", false},
		{"\nabc", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		require.Equalf(t, tt.want, events.ValidID(tt.id), "ValidID(%q)", tt.id)
	}
}

func TestCheckID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		field   string
		id      string
		wantErr error
		wantMsg string
	}{
		{"valid", "jobId", "j-1", nil, ""},
		{"max length", "queueId", strings.Repeat("q", 128), nil, ""},
		{"empty", "jobId", "", events.ErrInvalidData, "jobId is required"},
		{"dot", "workerId", "w.1", events.ErrInvalidData, `workerId "w.1" must be 1-128 letters, digits, '-' or '_', starting with a letter or digit`},
		{"too long", "queueId", strings.Repeat("q", 129), events.ErrInvalidData, ""},
		{"leading underscore", "channelId", "_voice", events.ErrInvalidData, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := events.CheckID(tt.field, tt.id)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			var e *events.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, events.CodeInvalidData, e.Code)
			require.Equal(t, tt.field, e.Field)
			if tt.wantMsg != "" {
				require.Equal(t, tt.wantMsg, e.Message)
			}
		})
	}
}

func TestParseCommandSubject(t *testing.T) {
	for _, c := range []struct {
		subject string
		t       events.Type
		worker  string
		ok      bool
	}{
		{"patchbay.in.offer.accept", events.TypeOfferAccept, "", true},
		{"patchbay.req.offer.accept.alice", events.TypeOfferAccept, "alice", true},
		{"patchbay.in.job.complete.w-1_x", events.TypeJobComplete, "w-1_x", true},
		{"patchbay.req.worker.register.alice", events.TypeWorkerRegister, "alice", true},
		{"patchbay.req.job.created.alice", "", "", false}, // no worker's command
		{"patchbay.req.offer.accept.*", "", "", false},
		{"patchbay.req.offer.accept.a.b", "", "", false},
		{"patchbay.req.offer", "", "", false},
		{"patchbay.events.offer.accept.alice", "", "", false},
	} {
		typ, worker, ok := events.ParseCommandSubject(c.subject)
		require.Equal(t, c.ok, ok, c.subject)
		require.Equal(t, c.t, typ, c.subject)
		require.Equal(t, c.worker, worker, c.subject)
	}
	require.Equal(t, "patchbay.req.offer.accept.alice", events.WorkerReqSubject(events.TypeOfferAccept, "alice"))
	require.Equal(t, "patchbay.in.job.close.alice", events.WorkerInSubject(events.TypeJobClose, "alice"))
}

// matchSubject reports whether a NATS subject filter (with * and >) matches subject.
func matchSubject(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(f) == len(s)
}
