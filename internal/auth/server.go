package auth

import "github.com/patchbay/patchbay/internal/natsserver"

// ServerMode is the operator mode of an embedded server that trusts these keys.
func (k *Keys) ServerMode() *natsserver.OperatorMode {
	return &natsserver.OperatorMode{Operator: k.OperatorClaims, SystemAccount: k.SystemAccount, Accounts: k.AccountJWTs}
}
