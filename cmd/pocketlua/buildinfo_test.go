package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestVersionFromBuildInfo: without -X, --version names the module version
// of a `go install pkg@version` build, the VCS stamp of a checkout build,
// and devVersion when there is neither; -X values win over both.
func TestVersionFromBuildInfo(t *testing.T) {
	saved := [3]string{version, commit, date}
	t.Cleanup(func() { version, commit, date = saved[0], saved[1], saved[2] })
	version, commit, date = "", "", ""
	goVer := runtime.Version()

	installed := &debug.BuildInfo{Main: debug.Module{Path: "pocketlua", Version: "v1.2.0"}}
	checkout := &debug.BuildInfo{Main: debug.Module{Path: "pocketlua", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"go install pkg@v1.2.0", installed, "v1.2.0 (" + goVer + ")"},
		{"checkout", checkout, devVersion + " (commit 0123456789ab, 2026-01-02T03:04:05Z, modified, " + goVer + ")"},
		{"no module version", &debug.BuildInfo{Main: debug.Module{Path: "pocketlua"}}, devVersion + " (" + goVer + ")"},
		{"no build info", nil, devVersion + " (" + goVer + ")"},
	} {
		if got := versionLineOf(tc.info); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}

	if got := releaseVersionOf(installed); got != "v1.2.0" {
		t.Errorf("the startup log's version: %q, want v1.2.0", got)
	}

	version, commit, date = "v9.9.9", "fedcba9876543210", "2026-05-06"
	if got, want := versionLineOf(checkout), "v9.9.9 (commit fedcba987654, 2026-05-06, "+goVer+")"; got != want {
		t.Errorf("-X: %q, want %q", got, want)
	}
	if got := releaseVersionOf(installed); got != "v9.9.9" {
		t.Errorf("-X version: %q, want v9.9.9", got)
	}
}
