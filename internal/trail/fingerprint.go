package trail

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ShortLen is the length of the fingerprint prefix tables show: "fp1:"
// and 12 characters (72 bits).
const ShortLen = 16

// maxCandidates bounds the fingerprints an ambiguous prefix lists.
const maxCandidates = 10

// ErrNoFingerprint is returned by Resolve when no indexed record names a
// credential whose fingerprint starts with the prefix.
var ErrNoFingerprint = errors.New("no indexed record names a credential with this fingerprint")

// AmbiguousError is returned by Resolve when a prefix starts more than one
// indexed fingerprint.
type AmbiguousError struct {
	Prefix     string
	Candidates []string // the first maxCandidates, in order
	More       bool     // more than these match
}

func (e *AmbiguousError) Error() string {
	more := ""
	if e.More {
		more = fmt.Sprintf(" (the first %d shown)", len(e.Candidates))
	}
	return fmt.Sprintf("fingerprint prefix %s is ambiguous; it starts%s:\n  %s", e.Prefix, more, strings.Join(e.Candidates, "\n  "))
}

// prefixEnd is the least string greater than every string starting with p
// (p is ASCII and not empty).
func prefixEnd(p string) string {
	b := []byte(p)
	b[len(b)-1]++
	return string(b)
}

// Resolve returns the one indexed fingerprint that starts with prefix (a
// whole fingerprint is its own prefix). It returns ErrNoFingerprint when
// none does, and an *AmbiguousError when several do.
func (x *Index) Resolve(ctx context.Context, prefix string) (string, error) {
	if prefix == "" {
		return "", errors.New("trail: an empty fingerprint prefix")
	}
	first, err := x.nextFingerprint(ctx, prefix, prefix, true)
	if err != nil {
		return "", err
	}
	if first == "" {
		return "", fmt.Errorf("%w: none starts with %s", ErrNoFingerprint, prefix)
	}
	last, err := x.lastFingerprint(ctx, prefix)
	if err != nil {
		return "", err
	}
	if first == last {
		return first, nil
	}
	amb := &AmbiguousError{Prefix: prefix, Candidates: []string{first}}
	for cur := first; ; {
		next, err := x.nextFingerprint(ctx, prefix, cur, false)
		if err != nil {
			return "", err
		}
		if next == "" {
			break
		}
		if len(amb.Candidates) == maxCandidates {
			amb.More = true
			break
		}
		amb.Candidates = append(amb.Candidates, next)
		cur = next
	}
	return "", amb
}

// Known reports whether an indexed record names the credential fp.
func (x *Index) Known(ctx context.Context, fp string) (bool, error) {
	var ok bool
	if err := x.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM trail_record WHERE fingerprint = ?)`, fp).Scan(&ok); err != nil {
		return false, fmt.Errorf("trail: %w", err)
	}
	return ok, nil
}

// nextFingerprint is the least indexed fingerprint starting with prefix
// that is after from (or equal to it, when orEqual), or "".
func (x *Index) nextFingerprint(ctx context.Context, prefix, from string, orEqual bool) (string, error) {
	op := ">"
	if orEqual {
		op = ">="
	}
	return x.oneFingerprint(ctx, `SELECT fingerprint FROM trail_record WHERE fingerprint `+op+` ? AND fingerprint < ?
		ORDER BY fingerprint LIMIT 1`, from, prefixEnd(prefix))
}

// lastFingerprint is the greatest indexed fingerprint starting with
// prefix, or "".
func (x *Index) lastFingerprint(ctx context.Context, prefix string) (string, error) {
	return x.oneFingerprint(ctx, `SELECT fingerprint FROM trail_record WHERE fingerprint >= ? AND fingerprint < ?
		ORDER BY fingerprint DESC LIMIT 1`, prefix, prefixEnd(prefix))
}

func (x *Index) oneFingerprint(ctx context.Context, q string, args ...any) (string, error) {
	var fp string
	err := x.db.QueryRowContext(ctx, q, args...).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("trail: resolve fingerprint: %w", err)
	}
	return fp, nil
}

// Shorten returns, for each fingerprint in fps, the text a table shows
// for it: its first ShortLen characters when no other indexed fingerprint
// starts with them (so Resolve takes them back), else the whole
// fingerprint.
func (x *Index) Shorten(ctx context.Context, fps []string) (map[string]string, error) {
	out := make(map[string]string, len(fps))
	for _, fp := range fps {
		if _, done := out[fp]; done {
			continue
		}
		if len(fp) <= ShortLen {
			out[fp] = fp
			continue
		}
		p := fp[:ShortLen]
		first, err := x.nextFingerprint(ctx, p, p, true)
		if err != nil {
			return nil, err
		}
		last, err := x.lastFingerprint(ctx, p)
		if err != nil {
			return nil, err
		}
		if first == fp && last == fp {
			out[fp] = p
		} else {
			out[fp] = fp
		}
	}
	return out, nil
}
