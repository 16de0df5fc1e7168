package extauthz

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/provost-dev/provost/internal/config"
)

// Every configuration in docs/envoy.md is valid: Envoy's parts parse into
// Envoy's v3 API types and pass their validation rules (typed_config
// included), Provost's parts parse as Provost configuration, and every
// ext_authz filter fails closed.
func TestEnvoyDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/envoy.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	counts := map[string]int{}
	for _, b := range blocks {
		text := b[1]
		first, _, _ := strings.Cut(text, "\n")
		switch {
		case strings.HasPrefix(first, "# provost.yaml"):
			counts["provost"]++
			if _, err := config.Parse("docs/envoy.md", []byte("version: 1\n"+text)); err != nil {
				t.Errorf("%s: %v", first, err)
			}
		case strings.HasPrefix(first, "# envoy.yaml"):
			counts["bootstrap"]++
			envoyCheck(t, first, text, &bootstrapv3.Bootstrap{})
		case strings.HasPrefix(first, "# envoy cluster"):
			counts["cluster"]++
			envoyCheck(t, first, text, &clusterv3.Cluster{})
		default:
			t.Errorf("a yaml block starts with %q: name what it is", first)
		}
	}
	if counts["provost"] != 3 || counts["bootstrap"] != 2 || counts["cluster"] != 1 {
		t.Errorf("blocks checked: %v", counts)
	}
}

func envoyCheck(t *testing.T, name, text string, m proto.Message) {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := protojson.Unmarshal(js, m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	authz := 0
	check := func(msg proto.Message) {
		if err := validate(msg); err != nil {
			t.Errorf("%s: %T: %v", name, msg, err)
		}
		if a, ok := msg.(*extauthzv3.ExtAuthz); ok {
			authz++
			if a.GetFailureModeAllow() {
				t.Errorf("%s: ext_authz fails open", name)
			}
			if a.GetGrpcService() != nil && (!a.GetIncludePeerCertificate() || a.GetTransportApiVersion().String() != "V3") {
				t.Errorf("%s: gRPC ext_authz without include_peer_certificate or V3", name)
			}
			if a.GetWithRequestBody() != nil {
				t.Errorf("%s: ext_authz buffers the body", name)
			}
		}
	}
	check(m)
	walk(t, name, m.ProtoReflect(), check)
	if _, isBootstrap := m.(*bootstrapv3.Bootstrap); isBootstrap && authz != 1 {
		t.Errorf("%s: %d ext_authz filters", name, authz)
	}
}

// walk calls f on the message packed in every Any inside m (m itself is
// validated as a whole, embedded messages included).
func walk(t *testing.T, name string, m protoreflect.Message, f func(proto.Message)) {
	t.Helper()
	msg := m.Interface()
	if a, ok := msg.(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			t.Errorf("%s: %s: %v", name, a.GetTypeUrl(), err)
			return
		}
		f(inner)
		walk(t, name, inner.ProtoReflect(), f)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				walk(t, name, v.List().Get(i).Message(), f)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				walk(t, name, mv.Message(), f)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			walk(t, name, v.Message(), f)
		}
		return true
	})
}

func validate(m proto.Message) error {
	if v, ok := m.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}
