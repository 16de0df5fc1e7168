package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info describes a build.
type Info struct {
	Version   string // the stamped version, else the module version, else "dev"
	Revision  string // vcs.revision: the commit built ("" when unknown)
	Time      string // vcs.time: the commit's time (RFC 3339)
	Modified  bool   // vcs.modified: built with uncommitted changes
	GoVersion string // the Go toolchain that built it
}

// Read describes the binary from the version stamped at link time
// (stamped; "" or "dev" when none) and the build information Go records
// in it (read: debug.ReadBuildInfo). A stamped version wins; a module
// version (go install module@version, or go build in a tagged checkout)
// comes next; "(devel)" names no version.
func Read(stamped string, read func() (*debug.BuildInfo, bool)) Info {
	b := Info{Version: stamped, GoVersion: runtime.Version()}
	bi, ok := read()
	if !ok || bi == nil {
		if b.Version == "" {
			b.Version = "dev"
		}
		return b
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	if (stamped == "" || stamped == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}
