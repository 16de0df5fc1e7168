package provost_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/provost-dev/provost/internal/config"
)

// The deploy/ examples are what a user copies: every YAML document parses,
// every provost.yaml in them loads with the strict loader, and each runs
// three replicas on PostgreSQL and Redis.
func TestDeployExamples(t *testing.T) {
	var configs []string
	for _, f := range []string{"deploy/compose/compose.yaml", "deploy/kubernetes/provost.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if cm, ok := doc["data"].(map[string]any); ok && doc["kind"] == "ConfigMap" {
				if c, ok := cm["provost.yaml"].(string); ok {
					configs = append(configs, c)
				}
			}
			if spec, ok := doc["spec"].(map[string]any); ok && doc["kind"] == "StatefulSet" && spec["replicas"] != 3 {
				t.Errorf("%s: the StatefulSet runs %v replicas, want 3", f, spec["replicas"])
			}
			if svcs, ok := doc["services"].(map[string]any); ok {
				n := 0
				for name := range svcs {
					if strings.HasPrefix(name, "provost-") {
						n++
					}
				}
				if n != 3 {
					t.Errorf("%s: %d provost replicas, want 3", f, n)
				}
			}
		}
	}
	data, err := os.ReadFile("deploy/compose/provost.yaml")
	if err != nil {
		t.Fatal(err)
	}
	configs = append(configs, string(data))
	if len(configs) != 2 {
		t.Fatalf("found %d provost.yaml, want 2", len(configs))
	}
	for i, c := range configs {
		cfg, err := config.Parse("deploy example", []byte(c))
		if err != nil {
			t.Errorf("provost.yaml %d: %v", i, err)
			continue
		}
		if cfg.Storage.Postgres.DSN == "" || cfg.Storage.Redis.Addr == "" {
			t.Errorf("provost.yaml %d does not share PostgreSQL and Redis: %+v", i, cfg.Storage)
		}
	}
}
