package trail

import (
	"bytes"
	"net/netip"
	"testing"
)

// FuzzAddrRange checks that a network filter either fails or gives a range
// that holds the prefix's own address, with lo <= hi.
func FuzzAddrRange(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "::ffff:1.2.3.4", "0.0.0.0/0", "::/0", "1.2.3.4/33", "fe80::1%eth0", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := addrRange(s)
		if err != nil {
			return
		}
		if len(lo) != 16 || len(hi) != 16 || bytes.Compare(lo, hi) > 0 {
			t.Fatalf("%q: range %x..%x", s, lo, hi)
		}
		var a netip.Addr
		if p, err := netip.ParsePrefix(s); err == nil {
			a = p.Addr()
		} else {
			a = netip.MustParseAddr(s)
		}
		k := a.As16()
		if bytes.Compare(k[:], lo) < 0 || bytes.Compare(k[:], hi) > 0 {
			t.Fatalf("%q: %s outside %x..%x", s, a, lo, hi)
		}
	})
}
