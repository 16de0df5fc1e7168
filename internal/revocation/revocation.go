package revocation

import "github.com/provost-dev/provost/revocation"

// The contract of revocations is defined in the public package revocation,
// so that embedders can plug their own store; this package holds the SQLite
// store and its in-memory index.
type (
	Kind       = revocation.Kind
	Revocation = revocation.Revocation
	Query      = revocation.Query
	Store      = revocation.Store
)

// The kinds of revocation, in the order Match tries them.
const (
	KindFingerprint = revocation.KindFingerprint
	KindJTI         = revocation.KindJTI
	KindSubject     = revocation.KindSubject
	KindIssuer      = revocation.KindIssuer
	KindBinding     = revocation.KindBinding
)

// Size limits checked by Validate.
const (
	MaxValueBytes  = revocation.MaxValueBytes
	MaxReasonBytes = revocation.MaxReasonBytes
)

// Errors of the contract.
var (
	ErrInvalid  = revocation.ErrInvalid
	ErrNotFound = revocation.ErrNotFound
)

// Kinds lists every kind, in the order Match tries them.
func Kinds() []Kind { return revocation.Kinds() }
