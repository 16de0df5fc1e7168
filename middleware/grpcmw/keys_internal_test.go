package grpcmw

import (
	"strings"
	"testing"

	"github.com/provost-dev/provost"
)

// The metadata keys are the headers Provost reads, in lower case.
func TestMetadataKeys(t *testing.T) {
	for key, header := range map[string]string{
		keyHop: provost.HeaderHop, keyPosture: provost.HeaderPosture, keyWorkloadJWT: provost.HeaderWorkloadJWT,
		keyXFCC: provost.HeaderXFCC, keyClientCert: provost.HeaderClientCert, keyClientCertChain: provost.HeaderClientCertChain,
	} {
		if key != strings.ToLower(header) {
			t.Errorf("metadata key %q for header %q", key, header)
		}
	}
}
