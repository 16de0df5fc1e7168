package grpcmw_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/provost-dev/provost"
	"github.com/provost-dev/provost/middleware/grpcmw"
	"github.com/provost-dev/provost/stores"
)

// A gRPC service on a loopback port guarded by Provost, called by a real
// client. A credential approved from anywhere reaches the service; a call
// without a credential is Unauthenticated; the CI runner's token, approved
// only from the build hosts, is PermissionDenied from this loopback peer.
func ExampleUnaryServerInterceptor() {
	dataDir, err := os.MkdirTemp("", "provost-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	observed := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return observed }
	ctx := context.Background()
	pol, err := provost.LoadPolicy(ctx, "../../examples/provost.yaml")
	if err != nil {
		log.Fatal(err)
	}
	dir, err := stores.OpenDir(ctx, dataDir, stores.Options{Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer dir.Close()
	eng, err := provost.New(ctx, pol, dir.Stores(), provost.Options{Secret: dir.Secret(), Now: clock})
	if err != nil {
		log.Fatal(err)
	}

	srv := grpc.NewServer(
		grpc.UnaryInterceptor(grpcmw.UnaryServerInterceptor(eng)),
		grpc.StreamInterceptor(grpcmw.StreamServerInterceptor(eng)),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)

	for _, example := range []string{"01-bearer-es256.json", "(none)", "20-ci-approved-build-host.json"} {
		ctx := context.Background()
		if data, err := os.ReadFile("../../examples/requests/" + example); err == nil {
			var file struct{ Authorization string }
			if err := json.Unmarshal(data, &file); err != nil {
				log.Fatal(err)
			}
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", file.Authorization)
		}
		var trailer metadata.MD
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
		if err == nil {
			fmt.Printf("%s: OK %v\n", example, resp.GetStatus())
			continue
		}
		st := status.Convert(err)
		fmt.Printf("%s: %v %q %v\n", example, st.Code(), st.Message(), trailer.Get("www-authenticate"))
	}
	// Output:
	// 01-bearer-es256.json: OK SERVING
	// (none): Unauthenticated "provost: deny: token_missing" [Bearer realm="provost"]
	// 20-ci-approved-build-host.json: PermissionDenied "provost: deny: network_not_approved,posture_absent" []
}
