package extauthz

import (
	"context"
	"log/slog"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/transport"
	"github.com/provost-dev/provost/verdict"
)

// seenTransport is a Checker that denies and remembers the transport the
// context it was asked with names.
type seenTransport struct{ got *transport.Name }

func (s seenTransport) Check(ctx context.Context, _ *provost.Request) (*provost.Decision, error) {
	*s.got = transport.From(ctx)
	d := &provost.Decision{Outcome: verdict.Deny}
	d.Credential.Verdict = verdict.Rejected
	return d, nil
}

// ext_authz names itself to the checker, for provost_decisions_total.
func TestExtAuthzNamesItsTransport(t *testing.T) {
	var got transport.Name
	s := New(seenTransport{&got}, slog.New(slog.DiscardHandler))
	resp, err := s.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: "10.40.2.2", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 1234}}}}},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/r"}},
	}})
	if err != nil || resp.GetStatus().GetCode() == 0 {
		t.Fatalf("a denial was answered %v, %v", resp, err)
	}
	if got != transport.ExtAuthz {
		t.Errorf("transport %q, want %q", got, transport.ExtAuthz)
	}
}
