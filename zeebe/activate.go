package zeebe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pa-connector/pa-connector/backoff"
)

// The gateway loops (topology, polling, the job stream) back off with gatewayBackoff and log
// once per failure streak: one line when it starts, a reminder every reminderEvery attempts,
// and one line when the gateway answers again.
const reminderEvery = 10

// The gateway loops (topology, activation, streams) back off from 250 ms up to 10 s.
const (
	gatewayBackoffBase = 250 * time.Millisecond
	gatewayBackoffCap  = 10 * time.Second
)

func gatewayBackoff() *backoff.Backoff {
	return &backoff.Backoff{Base: gatewayBackoffBase, Cap: gatewayBackoffCap}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// backoff returns a new backoff for a gateway loop.
func (w *Worker) backoff() *backoff.Backoff {
	if w.newBackoff != nil {
		return w.newBackoff()
	}
	return gatewayBackoff()
}

// waitForGateway asks for the topology until the gateway answers; it decides whether to stream.
func (w *Worker) waitForGateway(ctx context.Context) bool {
	retry := w.backoff()
	for failures := 0; ; failures++ {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		topo, err := w.Gateway.NewTopologyCommand().Send(rctx)
		cancel()
		if err == nil {
			w.ready.Store(true)
			version := topo.GetGatewayVersion()
			stream := streamingFor(w.Streaming, version)
			w.Log.Info().Str("gateway_version", version).Bool("streaming", stream).Msg("connected to the Zeebe gateway")
			return stream
		}
		if ctx.Err() != nil {
			return false
		}
		d := retry.Next()
		if failures%reminderEvery == 0 {
			ev := w.Log.Error().Err(gatewayError(err)).Dur("retry_in", d).Int("attempt", failures+1)
			if strings.Contains(err.Error(), "access token") {
				ev = ev.Str("hint", "the authorization server refused the gateway credentials: check ZEEBE_CLIENT_ID, ZEEBE_CLIENT_SECRET, ZEEBE_AUTHORIZATION_SERVER_URL and ZEEBE_TOKEN_AUDIENCE")
			}
			ev.Msg("Zeebe gateway not reachable")
		}
		sleep(ctx, d)
	}
}

// streamingFor decides on job streaming: the gateway offers it from 8.4 on.
func streamingFor(setting, version string) bool {
	switch strings.ToLower(setting) {
	case "true", "on", "yes", "1":
		return true
	case "false", "off", "no", "0":
		return false
	}
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 8 || (major == 8 && minor >= 4)
}

// poll activates jobs of one type for free slots, so that it never activates more than the
// worker can start. Without a stream it takes the slots before it asks, and long-polls. With a
// stream it only picks up what the stream cannot (jobs that were activatable before the stream
// opened, jobs handed back): it asks for as many jobs as slots are free without taking them
// (taking them would turn the stream's pushes away), without long polling, and hands back at
// once a job the stream has beaten it to; it pauses after an empty answer (PollInterval,
// growing to 2 s while answers stay empty) and while no slot is free.
func (w *Worker) poll(ctx context.Context, jobType string, streaming bool) {
	retry := w.backoff()
	failures := 0
	idle := &backoff.Backoff{Min: w.PollInterval, Base: w.PollInterval, Cap: max(2*time.Second, w.PollInterval)}
	// A long poll holds the slots it asks for until jobs come or it times out: each job type's
	// poll asks for its share, so that one idle type's poll cannot starve the others' (with
	// power-automate:1 and dataverse:1, an idle dataverse:1 poll held every slot for its timeout).
	share := max(1, (w.MaxJobsActive+len(w.Types)-1)/len(w.Types))
	for ctx.Err() == nil {
		var n int
		if streaming {
			if n = w.active.free(); n == 0 {
				if !w.active.waitFree(ctx) {
					return
				}
				continue
			}
		} else if n = w.active.tryTake(share); n == 0 {
			if !w.active.take(ctx) {
				return
			}
			n = 1 + w.active.tryTake(share-1)
		}
		jobs, err := w.activate(ctx, jobType, n, streaming)
		if !streaming {
			w.active.release(n - len(jobs))
		}
		for _, j := range jobs {
			switch {
			case streaming:
				w.take(ctx, j)
			case ctx.Err() != nil:
				w.active.release(1)
				w.handBackAsync(j, 0, "pa-connector is shutting down; the job was not started")
			default:
				w.start(j)
			}
		}
		if err != nil && ctx.Err() == nil && !isDeadline(err) {
			w.ready.Store(false)
			d := retry.Next()
			if failures%reminderEvery == 0 {
				w.Log.Error().Err(gatewayError(err)).Str("job_type", jobType).Dur("retry_in", d).Int("attempt", failures+1).
					Msg("activating jobs failed")
			}
			failures++
			sleep(ctx, d)
			continue
		}
		if failures > 0 {
			w.Log.Info().Str("job_type", jobType).Int("attempts", failures).Msg("gateway reachable again")
		}
		failures = 0
		retry.Reset()
		w.ready.Store(true)
		if len(jobs) > 0 {
			idle.Reset()
		} else if streaming {
			sleep(ctx, idle.Next())
		}
	}
}

// activate asks for up to n jobs. With streaming it asks for no long polling: the client does
// that for a context without a deadline (requestTimeout -1), so a timer bounds the call instead.
func (w *Worker) activate(ctx context.Context, jobType string, n int, streaming bool) ([]entities.Job, error) {
	var rctx context.Context
	var cancel context.CancelFunc
	if streaming {
		rctx, cancel = context.WithCancel(ctx)
		t := time.AfterFunc(w.RequestTimeout+10*time.Second, cancel)
		defer t.Stop()
	} else {
		rctx, cancel = context.WithTimeout(ctx, w.RequestTimeout)
	}
	defer cancel()
	return w.Gateway.NewActivateJobsCommand().JobType(jobType).MaxJobsToActivate(int32(n)).
		Timeout(w.JobTimeout).WorkerName(w.Name).FetchVariables(w.FetchVariables...).Send(rctx)
}

// stream receives pushed jobs. Go's gRPC client offers no flow control (Zeebe's Java client
// asks for one message per free slot), and closing a stream loses the jobs the gateway has
// already sent on it: the client drops them and they come back only after their timeout. So
// the stream stays open for as long as the worker runs and every job it brings is answered: a
// job pushed while every slot is taken is handed back at once, unstarted, retries unchanged,
// with a retry backoff (bounces.go) so that the gateway offers it again once a slot may have
// freed instead of pushing it straight back. A gateway without streaming (UNIMPLEMENTED)
// ends it, leaving polling.
func (w *Worker) stream(ctx context.Context, jobType string) {
	retry := w.backoff()
	failures := 0
	for ctx.Err() == nil {
		ch := make(chan entities.Job)
		done := make(chan error, 1)
		opened := time.Now()
		go func() {
			done <- w.Gateway.NewStreamJobsCommand().JobType(jobType).Consumer(ch).Timeout(w.JobTimeout).
				WorkerName(w.Name).FetchVariables(w.FetchVariables...).Send(ctx)
		}()
		var err error
		delivered := false
	recv:
		for {
			select {
			case j := <-ch:
				if j.ActivatedJob == nil { // the client passes one on after reopening a stream
					continue
				}
				delivered = true
				w.take(ctx, j)
			case err = <-done:
				break recv
			}
		}
		if ctx.Err() != nil {
			return
		}
		if status.Code(err) == codes.Unimplemented {
			w.Log.Warn().Str("job_type", jobType).Msg("the gateway does not offer job streaming; polling only")
			return
		}
		// A stream that worked (delivered a job, or stayed open for 30 s) starts a new streak.
		if delivered || time.Since(opened) > 30*time.Second {
			retry.Reset()
			failures = 0
		}
		d := retry.Next()
		if failures%reminderEvery == 0 {
			w.Log.Warn().Err(gatewayError(err)).Str("job_type", jobType).Dur("retry_in", d).Int("attempt", failures+1).
				Msg("job stream closed; reopening")
		}
		failures++
		sleep(ctx, d)
	}
}

// take starts a job that arrived without a reserved slot (pushed, or polled beside a stream)
// if a slot is free, and hands it back otherwise, with a backoff that grows while the same job
// keeps finding the worker full (bounces).
func (w *Worker) take(ctx context.Context, j entities.Job) {
	switch {
	case ctx.Err() != nil:
		w.handBackAsync(j, 0, "pa-connector is shutting down; the job was not started")
	case w.active.tryTake(1) == 0:
		w.Metrics.handled(j.Type, "", "handed-back-busy", 0)
		w.handBackAsync(j, w.busy.next(j.Key), "pa-connector is at its PA_CONNECTOR_MAX_JOBS_ACTIVE; the job was not started")
	default:
		w.busy.forget(j.Key)
		w.start(j)
	}
}

// handBackAsync hands a job back without holding up the stream.
func (w *Worker) handBackAsync(j entities.Job, backoff time.Duration, why string) {
	w.inflight.Add(1)
	go func() {
		defer w.inflight.Done()
		w.handBack(j, backoff, why)
	}()
}

func isDeadline(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}
