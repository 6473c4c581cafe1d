package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// DirName is the folder of a data directory that holds the keys.
const DirName = "auth"

// AccountName names the account patchbay and its clients use; SystemAccountName the
// NATS system account.
const (
	AccountName       = "PATCHBAY"
	SystemAccountName = "SYS"
	OperatorName      = "patchbay"
)

// The files under <data-dir>/auth: one nkey seed per key (the secret) and the JWT it
// signs (public, rewritten at each start from the seeds).
const (
	operatorSeedFile = "operator.nk"
	operatorJWTFile  = "operator.jwt"
	systemSeedFile   = "system.nk"
	systemJWTFile    = "system.jwt"
	accountSeedFile  = "account.nk"
	accountJWTFile   = "account.jwt"
)

// ErrNoKeys matches the error of Load when the data directory has no keys yet.
var ErrNoKeys = errors.New("no auth keys")

// Keys are the operator, the system account and the patchbay account of one data
// directory, with the JWTs the embedded server trusts.
type Keys struct {
	Dir string

	operator, system, account nkeys.KeyPair

	// OperatorClaims is the operator the server trusts.
	OperatorClaims *jwt.OperatorClaims
	// SystemAccount and Account are the accounts' public keys; AccountJWTs maps each
	// to its JWT, signed by the operator.
	SystemAccount, Account string
	AccountJWTs            map[string]string
}

// LoadOrCreate reads the keys under dir (<data-dir>/auth), generating the ones that
// are missing: on first start all of them. The directory is made 0700 and every file
// 0600. The account JWTs are signed anew each time, so a newer patchbay's account
// settings apply to an old directory; credentials stay valid, since they depend only
// on the account key.
func LoadOrCreate(dir string) (*Keys, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth directory %s cannot be created: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth directory %s: %w", dir, err)
	}
	return load(dir, true)
}

// Load reads the keys under dir without creating any: for `patchbay creds`, which
// must sign with the account the server trusts. It fails with ErrNoKeys when the
// directory has none yet.
func Load(dir string) (*Keys, error) { return load(dir, false) }

func load(dir string, create bool) (*Keys, error) {
	k := &Keys{Dir: dir}
	var err error
	if k.operator, err = seed(dir, operatorSeedFile, nkeys.CreateOperator, create); err != nil {
		return nil, err
	}
	if k.system, err = seed(dir, systemSeedFile, nkeys.CreateAccount, create); err != nil {
		return nil, err
	}
	if k.account, err = seed(dir, accountSeedFile, nkeys.CreateAccount, create); err != nil {
		return nil, err
	}
	if err := k.sign(); err != nil {
		return nil, err
	}
	if create {
		for file, j := range map[string]string{
			operatorJWTFile: k.operatorJWT(),
			systemJWTFile:   k.AccountJWTs[k.SystemAccount],
			accountJWTFile:  k.AccountJWTs[k.Account],
		} {
			if err := writeFile(filepath.Join(dir, file), []byte(j)); err != nil {
				return nil, err
			}
		}
	}
	return k, nil
}

// sign makes the operator and account JWTs.
func (k *Keys) sign() error {
	opub, _ := k.operator.PublicKey()
	k.SystemAccount, _ = k.system.PublicKey()
	k.Account, _ = k.account.PublicKey()

	oc := jwt.NewOperatorClaims(opub)
	oc.Name = OperatorName
	oc.SystemAccount = k.SystemAccount
	if _, err := oc.Encode(k.operator); err != nil {
		return fmt.Errorf("sign operator: %w", err)
	}
	k.OperatorClaims = oc

	sc := jwt.NewAccountClaims(k.SystemAccount)
	sc.Name = SystemAccountName
	sys, err := sc.Encode(k.operator)
	if err != nil {
		return fmt.Errorf("sign system account: %w", err)
	}
	ac := jwt.NewAccountClaims(k.Account)
	ac.Name = AccountName
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
		MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
		Streams: jwt.NoLimit, Consumer: jwt.NoLimit, MaxAckPending: jwt.NoLimit,
	}
	acc, err := ac.Encode(k.operator)
	if err != nil {
		return fmt.Errorf("sign patchbay account: %w", err)
	}
	k.AccountJWTs = map[string]string{k.SystemAccount: sys, k.Account: acc}
	return nil
}

func (k *Keys) operatorJWT() string {
	j, _ := k.OperatorClaims.Encode(k.operator)
	return j
}

// User issues a user of the patchbay account with the permissions of role for name,
// expiring after expiry (never when zero). It returns the user's JWT and seed.
func (k *Keys) User(r Role, name string, expiry time.Duration) (string, []byte, error) {
	ukp, err := nkeys.CreateUser()
	if err != nil {
		return "", nil, err
	}
	upub, _ := ukp.PublicKey()
	useed, _ := ukp.Seed()
	uc := jwt.NewUserClaims(upub)
	uc.Name = string(r)
	if name != "" {
		uc.Name += ":" + name
	}
	if expiry > 0 {
		uc.Expires = time.Now().Add(expiry).Unix()
	}
	p := PermissionsFor(r, name)
	if !p.All {
		uc.Pub.Allow.Add(p.Pub...)
		uc.Sub.Allow.Add(p.Sub...)
	}
	j, err := uc.Encode(k.account)
	if err != nil {
		return "", nil, fmt.Errorf("sign user: %w", err)
	}
	return j, useed, nil
}

// Creds issues a user as User does and returns its credentials file (the user JWT
// and its seed in the decorated form nats.UserCredentials reads).
func (k *Keys) Creds(r Role, name string, expiry time.Duration) ([]byte, error) {
	j, s, err := k.User(r, name, expiry)
	if err != nil {
		return nil, err
	}
	return jwt.FormatUserConfig(j, s)
}

// InboxPrefixOfCreds returns the inbox prefix a credentials file's permissions
// require: the one subscribe permission "_INBOX.<something>.>" other than
// "_INBOX.>" itself. It returns "" when there is none (the creds allow every inbox, or
// are not a JWT the server signed in this way).
func InboxPrefixOfCreds(creds []byte) string {
	j, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		return ""
	}
	uc, err := jwt.DecodeUserClaims(j)
	if err != nil {
		return ""
	}
	for _, s := range uc.Sub.Allow {
		if len(s) > len("_INBOX.>") && s[:len("_INBOX.")] == "_INBOX." && s[len(s)-2:] == ".>" {
			return s[:len(s)-2]
		}
	}
	return ""
}

// seed reads the nkey seed in dir/file, or (create) makes one with mk and stores it.
func seed(dir, file string, mk func() (nkeys.KeyPair, error), create bool) (nkeys.KeyPair, error) {
	path := filepath.Join(dir, file)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		kp, err := nkeys.FromSeed(b)
		if err != nil {
			return nil, fmt.Errorf("%s: not an nkey seed: %w", path, err)
		}
		return kp, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", path, err)
	case !create:
		return nil, fmt.Errorf("%w in %s (start `patchbay serve --auth` on this data directory once to make them)", ErrNoKeys, dir)
	}
	kp, err := mk()
	if err != nil {
		return nil, err
	}
	s, _ := kp.Seed()
	if err := writeFile(path, s); err != nil {
		return nil, err
	}
	return kp, nil
}

// writeFile writes b to path with mode 0600, through a temporary file and a rename so
// that a crash leaves either the old file or the new one.
func writeFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
