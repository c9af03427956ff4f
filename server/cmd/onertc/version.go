package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/onertc/onertc/server"
)

// commit is the git commit make stamps with -X (the toolchain's own stamp is missing when
// the build runs with -buildvcs=false or outside a checkout).
var commit string

// buildVersion is what `onertc version` prints: the version make stamps into server.Version
// (git describe), else the module version `go install …@version` records; the commit the Go
// linker or the toolchain stamped (with "-dirty" for uncommitted changes); the Go version and
// platform.
func buildVersion() string {
	version, rev := server.Version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			version = info.Main.Version
		}
		var stamped, dirty string
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision":
				stamped = s.Value
			case s.Key == "vcs.modified" && s.Value == "true":
				dirty = "-dirty"
			}
		}
		if rev == "" && stamped != "" {
			rev = stamped + dirty
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	return fmt.Sprintf("onertc %s\ncommit %s\n%s %s/%s\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func versionCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("onertc version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, "usage: onertc version\n\nPrints the version, the git commit and the Go version and platform it was built with.")
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "onertc version:", err)
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "onertc version: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	fmt.Fprint(stdout, buildVersion())
	return 0
}
