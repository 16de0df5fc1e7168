// Package buildinfo says which Provost a binary is: the version stamped at
// link time, else the one Go recorded (runtime/debug.ReadBuildInfo), the
// commit and the Go toolchain. `provost --version` prints it and the
// provost_build_info metric carries it.
//
//	b := buildinfo.Read(stamped, debug.ReadBuildInfo)
//	fmt.Println(b.Version, b.Revision, b.GoVersion)
package buildinfo
