package origin

import (
	"fmt"
	"time"

	"github.com/provost-dev/provost/reason"
)

// Defaults for Config.
const (
	DefaultConcurrentWindow = 5 * time.Minute
	DefaultDormancy         = 720 * time.Hour
)

// Config tunes Detect. A zero field takes its default.
type Config struct {
	// ConcurrentWindow: two origins used within it of each other are in
	// use at the same time. Default 5m.
	ConcurrentWindow time.Duration
	// Dormancy: a credential unused for at least this long, then used, is a
	// dormant revival. Default 720h (30 days).
	Dormancy time.Duration
}

func (c Config) withDefaults() Config {
	if c.ConcurrentWindow <= 0 {
		c.ConcurrentWindow = DefaultConcurrentWindow
	}
	if c.Dormancy <= 0 {
		c.Dormancy = DefaultDormancy
	}
	return c
}

// Detect compares the current use, from cur at now, with the credential's
// history before it (h must not yet include this use). It is pure: the rules
// are in the package documentation. Findings come in the order
// dormant_revival, copied_credential, concurrent_origins, source_drift; nil
// when there are none.
func Detect(cfg Config, h History, cur Origin, now time.Time) []Finding {
	cfg = cfg.withDefaults()
	var out []Finding
	if !h.LastSeen.IsZero() && now.Sub(h.LastSeen) >= cfg.Dormancy {
		out = append(out, Finding{
			Code:    reason.DormantRevival,
			Message: "unused for " + humanDuration(now.Sub(h.LastSeen)) + ", then used",
		})
	}
	latest, recent, ok := latestKnownOther(h, cur, now, cfg.ConcurrentWindow)
	if !ok {
		return out // no known origin other than cur: first use, or nothing to compare
	}
	_, curKnown := h.Known(cur)
	switch {
	case recent != nil && !curKnown:
		out = append(out,
			Finding{
				Code:    reason.CopiedCredential,
				Message: fmt.Sprintf("the credential is in use from %s and, at the same time, from %s", recent.Origin, cur),
			},
			concurrent(*recent, cur, now, cfg.ConcurrentWindow))
	case recent != nil:
		out = append(out, concurrent(*recent, cur, now, cfg.ConcurrentWindow))
	case !curKnown:
		out = append(out, Finding{
			Code:    reason.SourceDrift,
			Message: fmt.Sprintf("the credential's traffic moved from %s to %s", latest.Origin, cur),
		})
	}
	return out
}

// latestKnownOther returns the most recently seen known origin other than
// cur, and, if one was seen within window before now (or after now, from a
// clock ahead of ours), the most recent such one. ok is false when there is
// no known origin other than cur.
func latestKnownOther(h History, cur Origin, now time.Time, window time.Duration) (latest Seen, recent *Seen, ok bool) {
	for i := range h.Origins {
		s := &h.Origins[i]
		if s.Allowed <= 0 || s.Origin == cur {
			continue
		}
		if !ok || s.LastSeen.After(latest.LastSeen) {
			latest, ok = *s, true
		}
	}
	if ok && now.Sub(latest.LastSeen) <= window {
		recent = &latest
	}
	return latest, recent, ok
}

func concurrent(other Seen, cur Origin, now time.Time, window time.Duration) Finding {
	return Finding{
		Code: reason.ConcurrentOrigins,
		Message: fmt.Sprintf("the credential was used from %s %s ago and now from %s, within %s",
			other.Origin, humanDuration(now.Sub(other.LastSeen)), cur, humanDuration(window)),
	}
}

// humanDuration renders d in the largest whole unit: "41 days", "3 hours",
// "5 minutes", "12 seconds". A negative d (a clock ahead) renders as 0 seconds.
func humanDuration(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d >= 24*time.Hour:
		return unit(int64(d/(24*time.Hour)), "day")
	case d >= time.Hour:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute:
		return unit(int64(d/time.Minute), "minute")
	case d > 0:
		return unit(int64(d/time.Second), "second")
	}
	return "0 seconds"
}
