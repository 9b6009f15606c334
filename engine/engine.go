// Package engine is a single-node process engine with Zeebe 8.5's semantics: commands come in,
// one goroutine processes them against the state it alone owns, the records it writes are
// exported, and the answer goes back once the command is durable. The package knows nothing of
// gRPC (engine/gateway serves the Zeebe gateway API on top of it) nor of Power Automate.
//
// Durability: every command is appended to a write-ahead log (engine/wal) and the log is
// fsynced once per batch (group commit) before any answer of the batch is sent. The state is
// never written as such except in snapshots; it is derived by replaying the log, which works
// because processing is deterministic: it reads the time from the command, draws keys from a
// counter in the state and iterates maps in sorted order. Decisions that depend on things
// outside the state (the clock, open job streams) are themselves commands in the log.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/pa-connector/pa-connector/engine/wal"
	"github.com/pa-connector/pa-connector/expr"
)

// Options configure Open.
type Options struct {
	DataDir string
	// Exporter receives every record, in position order; nil exports nothing.
	Exporter Exporter
	// BackpressureLimit refuses non-exempt commands while more than this many are in flight
	// (0: never).
	BackpressureLimit int
	// SnapshotBytes: a snapshot is written when the log after the last one exceeds this size.
	SnapshotBytes int64
	Log           zerolog.Logger
}

// Exporter writes records somewhere. LastPosition is the position of the last record it holds,
// so that records lost in a crash between the log's fsync and the export are written again.
type Exporter interface {
	Export(records []Record) error
	LastPosition() int64
}

// ErrBackpressure is returned by Do when the engine refuses a command for load.
var ErrBackpressure = errors.New("backpressure")

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("engine closed")

type request struct {
	cmd   *Cmd
	reply chan *Result
	res   *Result
	await chan *Result // CreateProcessInstanceWithResult
}

// Engine is a running engine.
type Engine struct {
	opts Options
	log  zerolog.Logger
	wal  *wal.Log

	in       chan *request
	stop     chan struct{}
	done     chan struct{}
	inflight atomic.Int64
	closed   atomic.Bool

	// Owned by the loop goroutine.
	st           *State
	replaying    bool
	lastExp      int64 // last position the exporter holds (replay re-exports after it)
	exportFailed bool
	recs         []Record
	source       int64 // position of the command being processed
	now          int64
	lastTime     int64
	ready        []int64        // jobs that became activatable while processing the current command
	warnings     []expr.Warning // of the last FEEL evaluation (value), for its incident's message
	awaiting     map[int64]*awaiter
	pushes       []push
	woken        map[string]bool
	work         []func()
	afterSync    []func()
	durable      chan *applied // applied batches on their way to the disk
	syncDone     chan struct{}
	await        chan *Result // the awaiting channel of the command being processed
	steps        int

	streamsMu sync.Mutex
	streams   map[int64]*Stream
	nextID    int64

	programs expr.Cache

	notify func(types []string) // wakes long polls; set by the gateway
	stats  Stats
}

type awaiter struct {
	ch    chan *Result
	fetch []string
}

type push struct {
	stream *Stream
	job    *ActivatedJob
}

// Stats are counters for metrics.
type Stats struct {
	Commands  atomic.Int64
	Records   atomic.Int64
	Batches   atomic.Int64
	Rejected  atomic.Int64
	Refused   atomic.Int64 // backpressure
	Snapshots atomic.Int64
}

// Open loads the state from dir (snapshot, then the log after it) and starts processing.
func Open(opts Options) (*Engine, error) {
	if opts.SnapshotBytes <= 0 {
		opts.SnapshotBytes = 8 << 20
	}
	w, err := wal.Open(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("opening the log: %w", err)
	}
	e := &Engine{
		opts:     opts,
		log:      opts.Log,
		wal:      w,
		in:       make(chan *request, 4096),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		st:       newState(),
		awaiting: map[int64]*awaiter{},
		woken:    map[string]bool{},
		streams:  map[int64]*Stream{},
		durable:  make(chan *applied, 64),
		syncDone: make(chan struct{}),
	}
	if n := w.TruncatedBytes(); n > 0 {
		e.log.Warn().Int64("bytes", n).Msg("cut a torn tail from the log (a crash during a write)")
	}
	start := time.Now()
	if err := e.recover(); err != nil {
		w.Close()
		return nil, err
	}
	e.log.Info().Dur("recovery", time.Since(start)).Int("instances", e.countInstances()).
		Int("jobs", len(e.st.Jobs)).Msg("state recovered")
	go e.run()
	return e, nil
}

func (e *Engine) countInstances() int {
	n := 0
	for _, el := range e.st.Elements {
		if el.FlowScopeKey == -1 {
			n++
		}
	}
	return n
}

func (e *Engine) recover() error {
	idx, data, err := e.wal.Snapshot()
	if err != nil {
		return fmt.Errorf("reading the snapshot: %w", err)
	}
	if data != nil {
		st := newState()
		if err := json.Unmarshal(data, st); err != nil {
			return fmt.Errorf("decoding the snapshot at %d: %w", idx, err)
		}
		e.st = st
	}
	e.lastExp = -1
	if e.opts.Exporter != nil {
		e.lastExp = e.opts.Exporter.LastPosition()
	}
	e.replaying = true
	err = e.wal.Replay(func(_ uint64, rec []byte) error {
		var c Cmd
		if err := json.Unmarshal(rec, &c); err != nil {
			return fmt.Errorf("decoding a logged command: %w", err)
		}
		e.now = c.Time
		e.lastTime = c.Time
		e.apply(&c)
		return e.exportReplayed()
	})
	e.replaying = false
	e.ready = e.ready[:0]
	return err
}

// exportReplayed exports records a crash kept from the exporter.
func (e *Engine) exportReplayed() error {
	if e.opts.Exporter == nil || len(e.recs) == 0 {
		e.recs = e.recs[:0]
		return nil
	}
	i := 0
	for i < len(e.recs) && e.recs[i].Position <= e.lastExp {
		i++
	}
	var err error
	if i < len(e.recs) {
		err = e.opts.Exporter.Export(e.recs[i:])
	}
	e.recs = e.recs[:0]
	return err
}

// SetNotify installs the function told, after each batch, which job types have activatable
// jobs that no stream took (to wake long polls).
func (e *Engine) SetNotify(f func(types []string)) { e.notify = f }

// Done is closed when the engine has stopped processing.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// exempt commands are never refused for load (Zeebe: complete, fail, cancel, deploy; and the
// gateway giving back a job it could not deliver).
func exempt(op string) bool {
	switch op {
	case OpComplete, OpFail, OpCancel, OpDeploy, OpYield:
		return true
	}
	return false
}

// Do submits a command and waits for its answer. When ctx ends first, the command may still be
// applied. await, when not nil, receives the variables of a CreateProcessInstanceWithResult.
func (e *Engine) Do(ctx context.Context, c *Cmd, await chan *Result) (*Result, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	n := e.inflight.Add(1)
	defer e.inflight.Add(-1)
	if lim := e.opts.BackpressureLimit; lim > 0 && n > int64(lim) && !exempt(c.Op) {
		e.stats.Refused.Add(1)
		return nil, ErrBackpressure
	}
	r := &request{cmd: c, reply: make(chan *Result, 1), await: await}
	select {
	case e.in <- r:
	case <-e.stop:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-r.reply:
		if res == nil {
			return nil, ErrClosed
		}
		return res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops processing after the current batch, writes a snapshot and closes the log.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(e.stop)
	<-e.done
	err := e.snapshot()
	if cerr := e.wal.Close(); err == nil {
		err = cerr
	}
	return err
}

const (
	maxBatch = 1024
	tick     = 100 * time.Millisecond
)

func (e *Engine) run() {
	go e.syncer()
	defer func() {
		close(e.durable)
		<-e.syncDone
		close(e.done)
	}()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		// A new slice each time: the syncer still holds the previous batch.
		batch := make([]*request, 0, 64)
		due := false
		select {
		case r := <-e.in:
			batch = append(batch, r)
		case <-t.C:
			due = true
		case <-e.stop:
			e.failPending()
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-e.in:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		e.process(batch, due)
	}
}

// failPending answers what is queued after Close with "closed".
func (e *Engine) failPending() {
	for {
		select {
		case r := <-e.in:
			close(r.reply)
		default:
			return
		}
	}
}

func (e *Engine) clock() int64 {
	now := time.Now().UnixMilli()
	if now < e.lastTime {
		now = e.lastTime
	}
	e.lastTime = now
	return now
}

// process applies a batch of commands and hands it to the syncer, which makes it durable and
// only then lets anything of it out (answers, records, pushed jobs). The next batch is applied
// while the syncer waits for the disk.
func (e *Engine) process(batch []*request, due bool) {
	e.now = e.clock()
	if due {
		batch = append(batch, e.dueCommands()...)
	}
	if len(batch) == 0 {
		return
	}
	logged := make([][]byte, 0, len(batch))
	for i := 0; i < len(batch); i++ {
		r := batch[i]
		r.cmd.Time = e.now
		data, err := json.Marshal(r.cmd)
		if err != nil {
			r.res = &Result{Rejection: &Rejection{Type: RejectProcessingError, Reason: err.Error()}}
			continue
		}
		logged = append(logged, data)
		e.await = r.await
		r.res = e.apply(r.cmd)
		e.await = nil
		if r.res.Rejection != nil {
			e.stats.Rejected.Add(1)
		}
		batch = append(batch, e.streamPushes()...)
	}
	a := &applied{logged: logged, batch: batch, recs: e.recs, after: e.afterSync, pushes: e.pushes}
	for t := range e.woken {
		a.woken = append(a.woken, t)
		delete(e.woken, t)
	}
	e.recs, e.afterSync, e.pushes = nil, nil, nil
	e.durable <- a
	if e.wal.Size() > e.opts.SnapshotBytes {
		e.barrier()
		if err := e.snapshot(); err != nil {
			e.log.Error().Err(err).Msg("writing a snapshot")
		}
	}
}

// applied is a batch whose effects are in the state but not yet durable.
type applied struct {
	logged  [][]byte
	batch   []*request
	recs    []Record
	after   []func()
	pushes  []push
	woken   []string
	barrier chan struct{} // a barrier: closed once everything handed over before it is durable
}

// barrier waits until every batch handed to the syncer is durable and out.
func (e *Engine) barrier() {
	b := make(chan struct{})
	e.durable <- &applied{barrier: b}
	<-b
}

// syncer appends what the processor applied, fsyncs once for all of it (group commit), then
// exports its records, answers, pushes jobs to streams and wakes long polls.
func (e *Engine) syncer() {
	defer close(e.syncDone)
	for first := range e.durable {
		group := []*applied{first}
	more:
		for {
			select {
			case a, ok := <-e.durable:
				if !ok {
					break more
				}
				group = append(group, a)
			default:
				break more
			}
		}
		var logged [][]byte
		for _, a := range group {
			logged = append(logged, a.logged...)
		}
		if len(logged) > 0 {
			if _, err := e.wal.Append(logged...); err != nil {
				e.fatal(err)
			}
			if err := e.wal.Sync(); err != nil {
				e.fatal(err)
			}
			e.stats.Commands.Add(int64(len(logged)))
			e.stats.Batches.Add(1)
		}
		for _, a := range group {
			e.release(a)
		}
	}
}

// release lets a durable batch out.
func (e *Engine) release(a *applied) {
	if a.barrier != nil {
		close(a.barrier)
		return
	}
	if e.opts.Exporter != nil && len(a.recs) > 0 && !e.exportFailed {
		if err := e.opts.Exporter.Export(a.recs); err != nil {
			// Exporting on after a lost batch would leave a gap; the next start exports again
			// everything after the last record the file holds.
			e.exportFailed = true
			e.log.Error().Err(err).Msg("exporting records failed; no more records are exported until the engine restarts, which exports the missing ones")
		}
	}
	e.stats.Records.Add(int64(len(a.recs)))
	for _, r := range a.batch {
		if r.reply != nil {
			r.reply <- r.res
		}
	}
	for _, f := range a.after {
		f()
	}
	e.deliverPushes(a.pushes)
	if len(a.woken) > 0 && e.notify != nil {
		e.notify(a.woken)
	}
}

// fatal: a log that cannot be written means no answer can be promised; stop rather than lie.
func (e *Engine) fatal(err error) {
	e.log.Fatal().Err(err).Msg("writing the log failed; stopping so that nothing unlogged is acknowledged")
}

func (e *Engine) snapshot() error {
	data, err := json.Marshal(e.st)
	if err != nil {
		return err
	}
	if err := e.wal.WriteSnapshot(e.wal.LastIndex(), data); err != nil {
		return err
	}
	e.stats.Snapshots.Add(1)
	return nil
}

// dueCommands are the commands the clock makes due: job deadlines, backoffs, timers, message
// time to live.
func (e *Engine) dueCommands() []*request {
	var out []*request
	add := func(c *Cmd) { out = append(out, &request{cmd: c}) }
	for _, k := range sortedKeys(e.st.Jobs) {
		j := e.st.Jobs[k]
		switch {
		case j.State == JobActivated && j.Deadline <= e.now:
			add(&Cmd{Op: OpTimeOut, Key: k})
		case j.State == JobFailed && j.RecurringTime > 0 && j.RecurringTime <= e.now && j.Retries > 0:
			add(&Cmd{Op: OpRecur, Key: k})
		}
	}
	for _, k := range sortedKeys(e.st.Timers) {
		if e.st.Timers[k].DueDate <= e.now {
			add(&Cmd{Op: OpTrigger, Key: k})
		}
	}
	for _, k := range sortedKeys(e.st.Messages) {
		if e.st.Messages[k].Deadline <= e.now {
			add(&Cmd{Op: OpExpire, Key: k})
		}
	}
	return out
}

func contextBackground() context.Context { return context.Background() }
