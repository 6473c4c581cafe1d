package auth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/stretchr/testify/require"

	"github.com/patchbay/patchbay"
	"github.com/patchbay/patchbay/events"
	"github.com/patchbay/patchbay/internal/auth"
)

// The first start makes the keys, owner-only; later starts reuse them, so credentials
// issued before a restart still verify against the account the server trusts.
func TestLoadOrCreateReusesKeys(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), auth.DirName)
	_, err := auth.Load(dir)
	require.ErrorIs(t, err, auth.ErrNoKeys)

	first, err := auth.LoadOrCreate(dir)
	require.NoError(t, err)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	files, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, files, 6, "three seeds and three JWTs")
	for _, f := range files {
		info, err := f.Info()
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), f.Name())
	}
	creds, err := first.Creds(auth.RoleWorker, "w1", 0)
	require.NoError(t, err)

	again, err := auth.LoadOrCreate(dir)
	require.NoError(t, err)
	require.Equal(t, first.Account, again.Account)
	require.Equal(t, first.SystemAccount, again.SystemAccount)
	require.Equal(t, first.OperatorClaims.Subject, again.OperatorClaims.Subject)
	loaded, err := auth.Load(dir)
	require.NoError(t, err)
	require.Equal(t, first.Account, loaded.Account)

	j, err := jwt.ParseDecoratedJWT(creds)
	require.NoError(t, err)
	uc, err := jwt.DecodeUserClaims(j)
	require.NoError(t, err)
	require.Equal(t, again.Account, uc.Issuer, "the user is signed by the account the restarted server trusts")
	ac, err := jwt.DecodeAccountClaims(again.AccountJWTs[again.Account])
	require.NoError(t, err)
	require.True(t, ac.Limits.IsJSEnabled(), "the patchbay account has JetStream")
	require.Equal(t, again.OperatorClaims.Subject, ac.Issuer)
}

// A seed file that is not a seed is reported, not replaced.
func TestLoadRefusesCorruptSeed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := auth.LoadOrCreate(dir)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "account.nk"), []byte("garbage"), 0o600))
	_, err = auth.LoadOrCreate(dir)
	require.ErrorContains(t, err, "account.nk: not an nkey seed")
}

func TestParseRole(t *testing.T) {
	for _, c := range []struct {
		role, name, wantName, wantErr string
	}{
		{"router", "", "", ""},
		{"router", "x", "", "takes no name"},
		{"admin", "", auth.AdminNameDefault, ""},
		{"admin", "ops", "ops", ""},
		{"producer", "shop", "shop", ""},
		{"producer", "", "", "needs a name"},
		{"worker", "", "", "needs the worker id"},
		{"worker", "w.1", "", `name "w.1"`},
		{"worker", ">", "", `name ">"`},
		{"boss", "", "", `role "boss": want one of router, admin, producer, worker`},
	} {
		_, name, err := auth.ParseRole(c.role, c.name)
		if c.wantErr != "" {
			require.ErrorContains(t, err, c.wantErr, "%s %s", c.role, c.name)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, c.wantName, name)
	}
}

// The credentials carry the role's permissions, and the inbox prefix a client must
// use can be read back from them.
func TestCredsPermissions(t *testing.T) {
	t.Parallel()
	k, err := auth.LoadOrCreate(t.TempDir())
	require.NoError(t, err)
	for _, c := range []struct {
		role  auth.Role
		name  string
		inbox string
	}{
		{auth.RoleRouter, "", ""},
		{auth.RoleAdmin, "ops", patchbay.AdminInboxPrefix("ops")},
		{auth.RoleProducer, "shop", patchbay.ProducerInboxPrefix("shop")},
		{auth.RoleWorker, "w1", patchbay.WorkerInboxPrefix("w1")},
	} {
		creds, err := k.Creds(c.role, c.name, 0)
		require.NoError(t, err)
		require.Equal(t, c.inbox, auth.InboxPrefixOfCreds(creds), c.role)
		j, err := jwt.ParseDecoratedJWT(creds)
		require.NoError(t, err)
		uc, err := jwt.DecodeUserClaims(j)
		require.NoError(t, err)
		p := auth.PermissionsFor(c.role, c.name)
		require.Equal(t, c.inbox, p.InboxPrefix)
		if c.role == auth.RoleRouter {
			require.True(t, uc.Pub.Empty() && uc.Sub.Empty(), "the router may do everything")
			continue
		}
		require.ElementsMatch(t, p.Pub, []string(uc.Pub.Allow))
		require.ElementsMatch(t, p.Sub, []string(uc.Sub.Allow))
		for _, s := range uc.Pub.Allow {
			require.NotContains(t, s, "patchbay.events", "only the router publishes events")
			require.NotContains(t, s, "$KV", "only the router writes the buckets")
		}
	}
	require.Contains(t, auth.PermissionsFor(auth.RoleWorker, "w1").Sub, "patchbay.events.offer.w1.>")
	require.Contains(t, auth.PermissionsFor(auth.RoleWorker, "w1").Pub, "patchbay.req.offer.accept.w1")
	require.Contains(t, auth.PermissionsFor(auth.RoleWorker, "w1").Pub, "patchbay.presence.w1")
}

// subjectAllowed reports whether subject matches one of the NATS subject patterns
// (tokens, '*' for one token, '>' for the rest).
func subjectAllowed(patterns []string, subject string) bool {
	for _, p := range patterns {
		pt, st := strings.Split(p, "."), strings.Split(subject, ".")
		ok := true
		for i, tok := range pt {
			if tok == ">" {
				ok = len(st) > i
				break
			}
			if i >= len(st) || (tok != "*" && tok != st[i]) {
				ok = false
				break
			}
			if i == len(pt)-1 && len(st) != len(pt) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Only an admin (and the router) may change policies, a whole policy file included:
// io.patchbay.policy.apply is on the admin's request subjects, and on no producer's
// or worker's.
func TestOnlyAdminsApplyPolicies(t *testing.T) {
	t.Parallel()
	req, in := events.ReqSubject(events.TypePolicyApply), events.InSubject(events.TypePolicyApply)
	require.Equal(t, "patchbay.req.policy.apply", req)
	admin := auth.PermissionsFor(auth.RoleAdmin, "ops").Pub
	require.True(t, subjectAllowed(admin, req))
	for _, t2 := range []events.Type{events.TypePolicyApply, events.TypePolicyPut, events.TypePolicyDelete} {
		for _, pub := range [][]string{auth.PermissionsFor(auth.RoleProducer, "shop").Pub, auth.PermissionsFor(auth.RoleWorker, "w1").Pub} {
			for _, s := range []string{events.ReqSubject(t2), events.InSubject(t2), events.ReqSubject(t2) + ".w1", in} {
				require.False(t, subjectAllowed(pub, s), "%s may not be published by %v", s, pub)
			}
		}
	}
}
