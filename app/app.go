// Package app is Warden's composition root: it parses the command line, picks
// the data directory, sets up logging and wires the store, the WhatsApp dialer,
// the core Manager and the window together.
package app

import (
	"flag"
	"fmt"
	"io"
	"os"
)

// Version is Warden's version; FyneApp.toml holds the same number.
const Version = "0.1.0"

// Run runs Warden with the given arguments (without the program name) and
// returns the process exit status.
func Run(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("warden", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "directory for Warden's data (default: the user's data directory)")
	demo := fs.Bool("demo", false, "run against an offline demo server with simulated phones")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, "warden", Version)
		return 0
	}
	fmt.Fprintf(stdout, "warden %s: data dir %q, demo %v, log level %s\n", Version, *dataDir, *demo, *logLevel)
	fmt.Fprintln(stdout, "The window is not built yet; the engine is in core/.")
	return 0
}
