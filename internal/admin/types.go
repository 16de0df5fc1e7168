package admin

import (
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/revocation"
)

// CreateRequest is the body of POST /v1/revocations. Times are RFC 3339.
// For kind fingerprint, Credential may be given instead of Value: the
// server fingerprints it and keeps only the fingerprint.
type CreateRequest struct {
	Kind         string `json:"kind"`
	Value        string `json:"value,omitempty"`
	Credential   string `json:"credential,omitempty"`
	Issuer       string `json:"issuer,omitempty"`
	IssuedBefore string `json:"issued_before,omitempty"`
	Reason       string `json:"reason,omitempty"`
	ExpiresAt    string `json:"expires_at,omitempty"`
}

// Revocation is a revocation as the admin API shows it.
type Revocation struct {
	ID           string     `json:"id"`
	Kind         string     `json:"kind"`
	Value        string     `json:"value"`
	Issuer       string     `json:"issuer,omitempty"`
	IssuedBefore *time.Time `json:"issued_before,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
}

// RevocationList is the answer of GET /v1/revocations.
type RevocationList struct {
	Revocations []Revocation `json:"revocations"`
}

// ReloadResult is the answer of a successful POST /v1/reload.
type ReloadResult struct {
	Status         string `json:"status"`
	BindingsDigest string `json:"bindings_digest"`
}

// Status is the answer of GET /v1/status.
type Status struct {
	Version       string    `json:"version,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds int64     `json:"uptime_seconds"`
	provost.Summary
	DataDir       string `json:"data_dir"`
	Revocations   int    `json:"revocations"`
	ReplayEntries int    `json:"replay_entries"`
}

func fromRevocation(r revocation.Revocation) Revocation {
	return Revocation{
		ID: r.ID, Kind: string(r.Kind), Value: r.Value, Issuer: r.Issuer, Reason: r.Reason,
		IssuedBefore: timePtr(r.IssuedBefore), CreatedAt: r.CreatedAt, ExpiresAt: timePtr(r.ExpiresAt),
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
