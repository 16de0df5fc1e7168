package configcheck

import (
	"net"
	"net/netip"
	"strconv"
)

// listener is one address Provost listens on.
type listener struct {
	field, addr string
}

// listenerList names every listener the configuration sets; serve.listen
// always (its default when unset).
func (c *checker) listenerList() []listener {
	cfg := c.cfg
	out := []listener{{"serve.listen", cfg.ServeConfig().Listen}}
	for _, l := range []listener{{"grpc.listen", cfg.GRPC.Listen}, {"proxy.listen", cfg.Proxy.Listen}, {"admin.listen", cfg.Admin.Listen}} {
		if l.addr != "" {
			out = append(out, l)
		}
	}
	return out
}

// listeners checks each listener is host:port and that no two would bind
// the same port on an overlapping address (port 0 picks a free one and
// never clashes). serve, grpc and admin run in `provost serve`; proxy.listen
// in `provost proxy`, usually on the same host, so it is checked too.
func (c *checker) listeners() {
	ls := c.listenerList()
	type bound struct {
		listener
		host string
		port int
	}
	var ok []bound
	for _, l := range ls {
		host, port, err := splitListen(l.addr)
		if err != nil {
			c.problem(l.field, "%q is not host:port: %v", l.addr, err)
			continue
		}
		for _, o := range ok {
			if port != 0 && port == o.port && overlap(host, o.host) {
				c.problem(l.field, "%s clashes with %s (%s): both would listen on port %d", l.addr, o.field, o.addr, port)
			}
		}
		ok = append(ok, bound{l, host, port})
	}
}

func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, strconv.ErrRange
	}
	return host, port, nil
}

// overlap reports whether two listen hosts can bind the same address: equal
// hosts, or either one every address ("", 0.0.0.0, ::). A name (localhost)
// is compared as written.
func overlap(a, b string) bool {
	if a == b || wildcard(a) || wildcard(b) {
		return true
	}
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	return errA == nil && errB == nil && pa.Unmap() == pb.Unmap()
}

func wildcard(h string) bool {
	if h == "" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsUnspecified()
}
