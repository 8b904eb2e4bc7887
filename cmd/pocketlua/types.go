package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"pocketlua/luadefs"
)

// defaultTypesDir is where `pocketlua types` writes without a DIR.
const defaultTypesDir = "types"

// runTypes is `pocketlua types [--luarc PATH] [--force] [DIR]`.
func runTypes(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pocketlua types", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: pocketlua types [flags] [DIR]\n\n"+
			"Writes lua-language-server definitions of the pocketlua API (globals, modules,\n"+
			"conn, timers, listeners, the batteries' classes, pocketlua.test) into DIR\n"+
			"(default %q), and a .luarc.json that points the editor at them.\n\nFlags:\n", defaultTypesDir)
		fs.PrintDefaults()
	}
	luarc := fs.String("luarc", ".luarc.json", "the .luarc.json to write (\"\": none)")
	force := fs.Bool("force", false, "replace an existing .luarc.json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "pocketlua types: %v\n", err)
		return 2
	}
	dir := defaultTypesDir
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		fmt.Fprintf(stderr, "pocketlua types: one folder at most, got %q\n", fs.Args())
		return 2
	}
	wrote, err := luadefs.Write(dir)
	if err != nil {
		fmt.Fprintf(stderr, "pocketlua types: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "pocketlua types: %d definition files in %s\n", len(wrote), dir)
	if *luarc == "" {
		return 0
	}
	if err := luadefs.WriteLuarc(*luarc, dir, *force); err != nil {
		fmt.Fprintf(stderr, "pocketlua types: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "pocketlua types: %s points at %s\n", *luarc, dir)
	return 0
}
