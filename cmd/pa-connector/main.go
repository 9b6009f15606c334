// Command pa-connector is a Zeebe job worker that runs Power Automate desktop flows.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pa-connector/pa-connector/connector"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "expr" {
		os.Exit(runExpr(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	cfg, err := connector.ParseConfig(os.Args[1:], os.Getenv, os.Stdout)
	if errors.Is(err, connector.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pa-connector: configuration:", err)
		os.Exit(2)
	}
	logger := connector.NewLogger(cfg, os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := connector.Run(ctx, cfg, logger); err != nil {
		logger.Error().Err(err).Msg("pa-connector failed")
		os.Exit(1)
	}
}
