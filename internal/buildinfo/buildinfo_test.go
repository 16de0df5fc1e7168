package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestRead(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-03-04T05:06:07Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    Info
	}{
		{"stamped wins over the module version", "v1.2.3",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v9.9.9"}, Settings: vcs},
			Info{Version: "v1.2.3", Revision: "0123abcd", Time: "2026-03-04T05:06:07Z", Modified: true, GoVersion: "go1.26.1"}},
		{"go install module@version", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.4.0"}},
			Info{Version: "v0.4.0", GoVersion: "go1.26.1"}},
		{"nothing stamped", "",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.4.0"}},
			Info{Version: "v0.4.0", GoVersion: "go1.26.1"}},
		{"a checkout without a tag", "dev",
			&debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:2]},
			Info{Version: "dev", Revision: "0123abcd", Time: "2026-03-04T05:06:07Z", GoVersion: "go1.26.1"}},
		{"no build information", "dev", nil, Info{Version: "dev", GoVersion: runtime.Version()}},
		{"no build information, nothing stamped", "", nil, Info{Version: "dev", GoVersion: runtime.Version()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Read(tc.stamped, func() (*debug.BuildInfo, bool) { return tc.bi, tc.bi != nil })
			if got != tc.want {
				t.Errorf("Read = %+v, want %+v", got, tc.want)
			}
		})
	}
}
