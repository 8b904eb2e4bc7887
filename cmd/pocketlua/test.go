package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/spf13/pflag"

	"pocketlua/scripts"
	"pocketlua/scripttest"
)

// runTest is `pocketlua test [flags] [FILES|DIRS]`.
func runTest(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pocketlua test", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: pocketlua test [flags] [FILES|DIRS]\n\n"+
			"Runs the tests in *_test.lua files (folders are searched; none means \".\"),\n"+
			"each in a fresh Lua state with fake connections and a virtual clock.\n"+
			"Prints each failure and the line \"N passed, N failed\"; exit status 1 on failure.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pattern := fs.String("run", "", "run only the tests whose name matches this regular expression")
	luaPath := fs.StringArrayP("lua-path", "I", nil, "extra folder searched by require (repeatable)")
	verbose := fs.BoolP("verbose", "v", false, "list passing tests too, with what they logged")
	timeout := fs.Duration("timeout", scripttest.DefaultTimeout, "longest one test may run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pocketlua test: %v\n", err)
		return 2
	}
	opts := scripttest.Options{Paths: fs.Args(), LuaPath: *luaPath, Batteries: scripts.FS,
		Timeout: *timeout, Verbose: *verbose, Out: stdout}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "pocketlua test: --timeout must be positive")
		return 2
	}
	if *pattern != "" {
		re, err := regexp.Compile(*pattern)
		if err != nil {
			fmt.Fprintf(stderr, "pocketlua test: --run: %v\n", err)
			return 2
		}
		opts.Run = re
	}
	res, err := scripttest.Run(opts)
	if err != nil {
		fmt.Fprintf(stderr, "pocketlua test: %v\n", err)
		return 1
	}
	if res.Passed+res.Failed == 0 {
		fmt.Fprintln(stderr, "pocketlua test: no tests ran (check the paths and --run)")
		return 1
	}
	if res.Failed > 0 {
		return 1
	}
	return 0
}
