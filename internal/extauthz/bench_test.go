package extauthz

import (
	"context"
	"testing"
)

// BenchmarkCheck is one allowed Check in process (no network): reading the
// CheckRequest, the engine's whole decision (signature, SVID, binding,
// origin history in SQLite) and rendering the answer.
func BenchmarkCheck(b *testing.B) {
	w, a := open(b, "")
	s := New(a.Engine, nil)
	chain, _ := svid(w, "/payments/api")
	req := envoyReq{src: "10.40.1.5", chain: chain, headers: map[string]string{"authorization": "Bearer " + token(w, "svc:payments", 0)}}.check()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.Check(ctx, req)
		if err != nil || resp.GetOkResponse() == nil {
			b.Fatalf("not allowed: %v %v", resp.GetStatus(), err)
		}
	}
}

// BenchmarkAdapter is the adapter's own share: reading the request and
// rendering a decision, without the engine.
func BenchmarkAdapter(b *testing.B) {
	w, a := open(b, "")
	s := New(a.Engine, nil)
	chain, _ := svid(w, "/payments/api")
	req := envoyReq{src: "10.40.1.5", chain: chain, headers: map[string]string{"authorization": "Bearer " + token(w, "svc:payments", 0)}}.check()
	var r reported
	if err := s.request(req, &r); err != nil {
		b.Fatal(err)
	}
	d, err := a.Engine.Check(context.Background(), &r.req)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var r reported
		if err := s.request(req, &r); err != nil {
			b.Fatal(err)
		}
		if respond(d, r.sent).GetOkResponse() == nil {
			b.Fatal("not allowed")
		}
	}
}
