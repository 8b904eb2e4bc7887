package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// buildInfo is the binary's build information, nil when it has none.
func buildInfo() *debug.BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return info
}

// releaseVersion is -X main.version, else the module version of a
// `go install pocketlua/cmd/pocketlua@v1.2.0` build, else devVersion.
func releaseVersion() string { return releaseVersionOf(buildInfo()) }

func releaseVersionOf(info *debug.BuildInfo) string {
	if version != "" {
		return version
	}
	if info != nil && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return devVersion
}

// versionLine is what --version prints after "pocketlua ": the version,
// then the commit, its time and "modified" for a build from a changed
// tree (from -X, else from the VCS stamp go build records in a checkout;
// `go install pkg@version` builds have none), and the Go version.
func versionLine() string { return versionLineOf(buildInfo()) }

func versionLineOf(info *debug.BuildInfo) string {
	rev, when, modified := commit, date, false
	if info != nil && rev == "" {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				if when == "" {
					when = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	parts := []string{}
	if rev != "" {
		parts = append(parts, "commit "+rev[:min(len(rev), 12)])
	}
	if when != "" {
		parts = append(parts, when)
	}
	if modified {
		parts = append(parts, "modified")
	}
	parts = append(parts, runtime.Version())
	return releaseVersionOf(info) + " (" + strings.Join(parts, ", ") + ")"
}
