// Command pa-connector is a Zeebe job worker that runs Power Automate desktop flows.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/pa-connector/pa-connector/secrets"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "expr" {
		os.Exit(runExpr(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 1 && os.Args[1] == "templates" {
		os.Exit(runTemplates(os.Args[2:], os.Getenv, os.Stdout, os.Stderr))
	}
	cfg, err := ParseConfig(os.Args[1:], os.Getenv, os.Stdout)
	if errors.Is(err, ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pa-connector: configuration:", err)
		os.Exit(2)
	}
	live := secrets.NewRegistry()
	logger := newLogger(cfg, os.Stderr, live)
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg, logger, live); err != nil {
		logger.Error().Err(err).Msg("pa-connector failed")
		os.Exit(1)
	}
}

// tuneGC trades memory for CPU where the operator has not chosen: the worker's heap is small
// and short-lived (a job's variables and response), so collecting less often saves 10-20% of
// its CPU per job (docs/benchmarks.md); the soft memory limit keeps it inside a 128 MiB container.
// GOGC and GOMEMLIMIT, when set, win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
}
