package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// openResult is the memory, readiness and crash-recovery run: a fresh engine, idle, then with
// Open instances whose jobs are not completed, killed with SIGKILL and restarted on the same
// data directory; every job must still be activatable.
type openResult struct {
	Records            string  `json:"records"`
	Open               int     `json:"openInstances"`
	ReadyMS            float64 `json:"readyMs"` // exec → first Topology, fresh data dir
	EngineReadyMS      float64 `json:"engineReadyMs"`
	IdleRSSMB          float64 `json:"idleRssMB"` // 1 s after ready
	CreatePerSec       float64 `json:"openCreatesPerSec"`
	OpenRSSMB          float64 `json:"openRssMB"` // 1 s after the last create
	OpenHWMMB          float64 `json:"openPeakRssMB"`
	DataDirMB          float64 `json:"dataDirMB"`
	RecoveryMS         float64 `json:"recoveryMs"` // exec → first Topology after kill -9
	EngineRecoveryMS   float64 `json:"engineRecoveryMs"`
	EngineRecReadyMS   float64 `json:"engineRecoveryReadyMs"` // ready_ms of the restart
	RecoveredInstances int     `json:"recoveredInstances"`
	RecoveredJobs      int     `json:"recoveredJobs"`
	RecoveredRSSMB     float64 `json:"recoveredRssMB"`
	Activated          int     `json:"activatedAfterRestart"`
	ActivateMS         float64 `json:"activateAllMs"`
}

func (b *bench) runOpen(ctx context.Context, run int, records string) (*openResult, error) {
	name := fmt.Sprintf("run%d-open-records-%s", run, records)
	dir := filepath.Join(b.work, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	recPath := "off"
	if records == "on" {
		recPath = filepath.Join(dir, "records.log")
	}
	data, logPath := filepath.Join(dir, "data"), filepath.Join(dir, "engine.log")
	r := &openResult{Records: records, Open: b.open}

	eng, err := startEngine(ctx, b.engineBin, data, recPath, "", logPath, b.engineArgs, b.engineEnv)
	if err != nil {
		return nil, err
	}
	r.ReadyMS, r.EngineReadyMS = ms(eng.ReadyAfter), eng.EngineReadyMS()
	b.readyFresh = append(b.readyFresh, r.ReadyMS)
	time.Sleep(time.Second)
	m, err := eng.Mem()
	if err != nil {
		eng.kill()
		return nil, err
	}
	r.IdleRSSMB = mb(m.RSS)

	zc, err := newZB(eng.addr)
	if err != nil {
		eng.kill()
		return nil, err
	}
	processID, jobType := "engine-bench-open", fmt.Sprintf("engine-bench-open-%d", time.Now().UnixNano())
	err = deploy(ctx, zc, processID, jobType)
	zc.Close()
	if err != nil {
		eng.kill()
		return nil, err
	}
	took, err := createInstances(ctx, eng.addr, processID, b.open, b.load.Creators, b.load.Conns)
	if err != nil {
		eng.kill()
		return nil, fmt.Errorf("%s: creating %d open instances: %w", name, b.open, err)
	}
	r.CreatePerSec = float64(b.open) / took.Seconds()
	time.Sleep(time.Second)
	if m, err = eng.Mem(); err != nil {
		eng.kill()
		return nil, err
	}
	r.OpenRSSMB, r.OpenHWMMB = mb(m.RSS), mb(m.Peak)
	r.DataDirMB = mb(dirSize(data))

	// kill -9, then the same data dir and address again.
	eng.kill()
	eng, err = startEngine(ctx, b.engineBin, data, recPath, eng.addr, logPath, b.engineArgs, b.engineEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: restart after SIGKILL: %w", name, err)
	}
	defer eng.kill()
	r.RecoveryMS, r.EngineRecoveryMS, r.EngineRecReadyMS = ms(eng.ReadyAfter), eng.RecoveryMS(), eng.EngineReadyMS()
	r.RecoveredInstances, r.RecoveredJobs = eng.Recovered()
	if r.RecoveredInstances != b.open || r.RecoveredJobs != b.open {
		return nil, fmt.Errorf("%s: LOST STATE: after SIGKILL the engine recovered %d instances and %d jobs, want %d of each",
			name, r.RecoveredInstances, r.RecoveredJobs, b.open)
	}
	time.Sleep(time.Second)
	if m, err = eng.Mem(); err == nil {
		r.RecoveredRSSMB = mb(m.RSS)
	}
	t0 := time.Now()
	jobs, err := activateAll(ctx, eng.addr, jobType, b.open, 60*time.Second)
	r.Activated = len(jobs)
	if err != nil {
		return nil, fmt.Errorf("%s: LOST STATE after SIGKILL: %w", name, err)
	}
	r.ActivateMS = ms(time.Since(t0))
	if err := completeAll(ctx, eng.addr, jobs); err != nil {
		return nil, fmt.Errorf("%s: completing the recovered jobs: %w", name, err)
	}
	if err := noJobsLeft(ctx, eng.addr, jobType); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := eng.Alive(); err != nil {
		return nil, err
	}
	if err := eng.stop(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if records == "on" {
		rc, err := checkRecords(recPath, processID, jobType)
		if err != nil {
			return nil, fmt.Errorf("%s: records: %w", name, err)
		}
		if rc.InstancesCompleted != b.open {
			return nil, fmt.Errorf("%s: the records file shows %d instances completed after the restart, want %d",
				name, rc.InstancesCompleted, b.open)
		}
	}
	if !b.keep {
		_ = os.RemoveAll(dir)
	}
	return r, nil
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
