package server

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provost-dev/provost/internal/config"
)

// A credential sent in the query (?access_token=, ?api_key=, ...) is
// redacted before anything records, logs or answers the target: it appears
// in no answer, no log line and no byte of the data directory (the
// evidence log and every store that exports read).
func TestQueryCredentialsRedacted(t *testing.T) {
	w := newFixture(t)
	r := w.start(config.Serve{})
	secrets := []string{"sk_live_" + strings.Repeat("Q", 24), w.MustToken("svc:reports", nil), "k3y-" + strings.Repeat("Z", 20)}
	var answers bytes.Buffer
	read := func(resp *http.Response) {
		defer resp.Body.Close()
		resp.Header.Write(&answers)
		io.Copy(&answers, resp.Body)
	}
	// The check API.
	body := `{"method":"GET","target":"/v1/reports?q=1&access_token=` + secrets[0] + `&key=` + secrets[2] + `","peer":"10.40.7.7"}`
	resp, err := http.Post(r.url+PathCheck, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("check API: %s", resp.Status)
	}
	read(resp)
	// Forward-auth, with the token both in the header and in the query.
	resp, _ = fwd{headers: map[string]string{"X-Original-Method": "GET", "X-Original-URI": "/v1/reports?api_key=" + secrets[1] + "&token=" + secrets[0],
		"Authorization": "Bearer " + secrets[1], "X-Forwarded-For": "10.40.7.7"}}.do(t, http.DefaultClient, r.url)
	if resp.StatusCode != 200 {
		t.Fatalf("forward-auth: %s (%s)", resp.Status, resp.Header.Get("X-Provost-Reasons"))
	}
	if !strings.Contains(answers.String(), "access_token=REDACTED") {
		t.Fatalf("the check API's answer does not show the redacted target:\n%s", answers.String())
	}
	var data bytes.Buffer
	filepath.WalkDir(filepath.Join(w.Dir, "data"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			data.Write(b)
		}
		return nil
	})
	if data.Len() == 0 {
		t.Fatal("read nothing from the data directory")
	}
	for i, s := range secrets {
		for where, text := range map[string]string{"answers": answers.String(), "logs": w.logs.String(), "data directory": data.String()} {
			if strings.Contains(text, s) {
				t.Errorf("secret %d appears in the %s", i, where)
			}
		}
	}
}
