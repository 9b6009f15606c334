package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	. "github.com/pa-connector/pa-connector/engine"
	"github.com/pa-connector/pa-connector/engine/export"
)

// BenchmarkOneTaskInstance: create → activate → complete of a one-task process through Do,
// with durability on (one fsync per group of batches), with and without the records file,
// benchClients instances in flight. It measures the engine without gRPC.
func BenchmarkOneTaskInstance(b *testing.B) {
	b.Run("records", func(b *testing.B) { benchOneTask(b, true) })
	b.Run("no-records", func(b *testing.B) { benchOneTask(b, false) })
}

func benchOneTask(b *testing.B, records bool) {
	dir := b.TempDir()
	opts := Options{DataDir: filepath.Join(dir, "data")}
	if records {
		x, err := export.Open(filepath.Join(dir, "records.log"), 0)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Close()
		opts.Exporter = x
	}
	e, err := Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	bpmnFile, err := os.ReadFile("../integration/testdata/single-task.bpmn")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if r, err := e.Do(ctx, &Cmd{Op: OpDeploy, Resources: []Resource{{Name: "single-task.bpmn", Content: bpmnFile}}}, nil); err != nil || r.Rejection != nil {
		b.Fatal(err, r)
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan struct{}, b.N)
	for i := 0; i < b.N; i++ {
		work <- struct{}{}
	}
	close(work)
	for w := 0; w < benchClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				r, err := e.Do(ctx, &Cmd{Op: OpCreate, ProcessID: "single-task", Version: -1, Variables: []byte(`{"flowName":"x","n":1}`)}, nil)
				if err != nil || r.Rejection != nil {
					b.Error(err, r)
					return
				}
				jobs, err := e.Do(ctx, &Cmd{Op: OpActivate, Type: "power-automate:1", Worker: "w", Timeout: 60000, MaxJobs: 1}, nil)
				if err != nil {
					b.Error(err)
					return
				}
				for _, j := range jobs.Jobs {
					if _, err := e.Do(ctx, &Cmd{Op: OpComplete, Key: j.Key, Variables: []byte(`{"out":1}`)}, nil); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	st := e.Stats()
	b.ReportMetric(float64(st.Commands.Load())/float64(st.Batches.Load()), "cmds/fsync")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "instances/s")
}

// benchClients is how many instances are in flight; the disk's fsync latency (tens of ms here)
// makes throughput grow with it until the engine's CPU is the limit.
const benchClients = 512
