// Command fake-gateway serves the in-process fake Zeebe gateway (bench/fakegateway) on its own,
// for scripts: it prints its address on the first line of stdout, then serves until SIGTERM.
// With -jobs N it hands out N copies of one job; when every one is answered (or -timeout
// passes) it prints "ok ..." or "failed ..." as the second line and goes on serving (a worker
// stays ready), and exits 0 on SIGTERM if all completed, 1 otherwise.
//
//	fake-gateway -jobs 20 -type power-automate:1 -variables '{"operationType":...}' -headers '{...}'
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pa-connector/pa-connector/bench/fakegateway"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	version := flag.String("version", fakegateway.DefaultVersion, "gateway version reported by Topology")
	jobs := flag.Int("jobs", 0, "jobs to hand out (0: serve Topology only, until SIGTERM)")
	jobType := flag.String("type", "power-automate:1", "job type")
	variables := flag.String("variables", "{}", "job variables (JSON object)")
	headers := flag.String("headers", "{}", "task headers (JSON object)")
	outstanding := flag.Int("outstanding", 32, "jobs activated and not yet answered at most")
	timeout := flag.Duration("timeout", time.Minute, "give up when the jobs are not all answered by then")
	flag.Parse()

	s, err := fakegateway.New(fakegateway.Options{Addr: *listen, Version: *version})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake-gateway:", err)
		os.Exit(1)
	}
	defer s.Close()
	fmt.Println(s.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *jobs == 0 {
		<-ctx.Done()
		return
	}
	b := s.Release(fakegateway.Job{Type: *jobType, Variables: *variables, CustomHeaders: *headers}, *jobs, *outstanding)
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	err = b.Wait(wctx)
	cancel()
	if err == nil {
		err = b.Stats().Err()
	}
	if err != nil {
		fmt.Println("failed:", strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		st := b.Stats()
		fmt.Printf("ok: %d jobs completed in %s; first result %s\n", st.Completed, st.Elapsed.Round(time.Millisecond), st.Sample)
	}
	<-ctx.Done()
	if err != nil {
		os.Exit(1)
	}
}
