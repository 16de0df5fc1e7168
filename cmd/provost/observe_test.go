package main

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/internal/app"
	"github.com/provost-dev/provost/internal/demo"
	"github.com/provost-dev/provost/internal/provosttest"
)

// Every decision, whoever asks, is counted once observe has run.
func TestObserveCountsDecisions(t *testing.T) {
	w, err := provosttest.NewWorld(t.TempDir(), "https://api.test", []string{"127.0.0.1"}, demo.Bindings)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, app.Options{ConfigFile: w.ConfigFile()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m, err := observe(ctx, a, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := w.Token("svc:reports", time.Hour, nil)
	for _, peer := range []string{"10.40.1.1", "203.0.113.9"} {
		if _, err := a.Engine.Check(ctx, &provost.Request{Method: "GET", Target: "/r", Authorization: "Bearer " + tok, Peer: netip.MustParseAddr(peer)}); err != nil {
			t.Fatal(err)
		}
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var allow, deny float64
	for _, f := range families {
		if f.GetName() != "provost_decisions_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			labels := ""
			for _, l := range metric.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + ","
			}
			switch {
			case strings.Contains(labels, "outcome=allow"):
				allow += metric.GetCounter().GetValue()
			case strings.Contains(labels, "outcome=deny"):
				deny += metric.GetCounter().GetValue()
			}
		}
	}
	if allow != 1 || deny != 1 { // one decision each, counted once whatever its reasons
		t.Fatalf("decisions counted: allow %v, deny %v", allow, deny)
	}
}
