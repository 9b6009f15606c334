package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/commands"
	"github.com/camunda/zeebe/clients/go/v8/pkg/entities"
	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeGateway records the commands the adapter sends; it answers every one with success.
type fakeGateway struct {
	pb.GatewayClient // nil: any other call panics, which the tests would see
	mu               sync.Mutex
	completed        []*pb.CompleteJobRequest
	failed           []*pb.FailJobRequest
	thrown           []*pb.ThrowErrorRequest
}

func (f *fakeGateway) CompleteJob(_ context.Context, r *pb.CompleteJobRequest, _ ...grpc.CallOption) (*pb.CompleteJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed = append(f.completed, r)
	return &pb.CompleteJobResponse{}, nil
}

func (f *fakeGateway) FailJob(_ context.Context, r *pb.FailJobRequest, _ ...grpc.CallOption) (*pb.FailJobResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = append(f.failed, r)
	return &pb.FailJobResponse{}, nil
}

func (f *fakeGateway) ThrowError(_ context.Context, r *pb.ThrowErrorRequest, _ ...grpc.CallOption) (*pb.ThrowErrorResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.thrown = append(f.thrown, r)
	return &pb.ThrowErrorResponse{}, nil
}

func never(context.Context, error) bool { return false }

func (f *fakeGateway) NewTopologyCommand() *commands.TopologyCommand {
	return commands.NewTopologyCommand(f, never)
}
func (f *fakeGateway) NewActivateJobsCommand() commands.ActivateJobsCommandStep1 {
	return commands.NewActivateJobsCommand(f, never)
}
func (f *fakeGateway) NewStreamJobsCommand() commands.StreamJobsCommandStep1 {
	return commands.NewStreamJobsCommand(f, never)
}
func (f *fakeGateway) NewCompleteJobCommand() commands.CompleteJobCommandStep1 {
	return commands.NewCompleteJobCommand(f, never)
}
func (f *fakeGateway) NewFailJobCommand() commands.FailJobCommandStep1 {
	return commands.NewFailJobCommand(f, never)
}
func (f *fakeGateway) NewThrowErrorCommand() commands.ThrowErrorCommandStep1 {
	return commands.NewThrowErrorCommand(f, never)
}
func (f *fakeGateway) NewSetVariablesCommand() commands.SetVariablesCommandStep1 {
	return commands.NewSetVariablesCommand(f, never)
}
func (f *fakeGateway) NewUpdateJobTimeoutCommand() commands.UpdateJobTimeoutCommandStep1 {
	return commands.NewUpdateJobTimeoutCommand(f, never)
}
func (f *fakeGateway) NewPublishMessageCommand() commands.PublishMessageCommandStep1 {
	return commands.NewPublishMessageCommand(f, never)
}

type handlerFunc func(context.Context, Job) (Result, error)

func (h handlerFunc) Handle(ctx context.Context, j Job) (Result, error) { return h(ctx, j) }

func activated(key int64) entities.Job {
	return entities.Job{ActivatedJob: &pb.ActivatedJob{
		Key: key, Type: "power-automate:1", Retries: 3, Deadline: time.Now().Add(time.Minute).UnixMilli(),
		ProcessInstanceKey: 7, BpmnProcessId: "p", ElementId: "Task", CustomHeaders: `{"a":"b"}`, Variables: `{}`,
	}}
}

func TestAdapterAnswers(t *testing.T) {
	cases := []struct {
		name    string
		handler handlerFunc
		check   func(t *testing.T, g *fakeGateway, log string)
	}{
		{"success completes with the variables", func(context.Context, Job) (Result, error) {
			return Result{Variables: map[string]any{"x": 1}}, nil
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.completed) != 1 || g.completed[0].Variables != `{"x":1}` {
				t.Fatalf("completed = %v", g.completed)
			}
			var line map[string]any
			json.Unmarshal([]byte(strings.TrimSpace(log)), &line)
			for _, k := range []string{"job_key", "process_instance_key", "bpmn_process_id", "element_id", "operation", "outcome", "duration_ms"} {
				if _, ok := line[k]; !ok {
					t.Errorf("the outcome log line lacks %s: %s", k, log)
				}
			}
		}},
		{"panic fails with one retry fewer and the process lives on", func(context.Context, Job) (Result, error) {
			panic("boom in handler")
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed) != 1 || g.failed[0].Retries != 2 || !strings.Contains(g.failed[0].ErrorMessage, "boom in handler") {
				t.Fatalf("failed = %v", g.failed)
			}
		}},
		{"permanent error raises an incident", func(context.Context, Job) (Result, error) {
			return Result{}, Permanentf("bad input")
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed) != 1 || g.failed[0].Retries != 0 {
				t.Fatalf("failed = %v", g.failed)
			}
		}},
		{"transient error with backoff", func(context.Context, Job) (Result, error) {
			return Result{}, &RetryError{Err: errors.New("503"), Backoff: 30 * time.Second}
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed) != 1 || g.failed[0].Retries != 2 || g.failed[0].RetryBackOff != 30000 {
				t.Fatalf("failed = %v", g.failed)
			}
		}},
		{"throttled keeps retries", func(context.Context, Job) (Result, error) {
			return Result{}, &RetryError{Err: errors.New("429"), Backoff: time.Minute, KeepRetries: true}
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed) != 1 || g.failed[0].Retries != 3 || g.failed[0].RetryBackOff != 60000 {
				t.Fatalf("failed = %v", g.failed)
			}
		}},
		{"BPMN error is thrown with variables", func(context.Context, Job) (Result, error) {
			return Result{}, &BPMNError{Code: "DESKTOP_FLOW_FAILED", Message: "m", Variables: map[string]any{"e": "x"}}
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.thrown) != 1 || g.thrown[0].ErrorCode != "DESKTOP_FLOW_FAILED" || g.thrown[0].Variables != `{"e":"x"}` {
				t.Fatalf("thrown = %v", g.thrown)
			}
		}},
		{"long messages are truncated", func(context.Context, Job) (Result, error) {
			return Result{}, Permanentf("%s", strings.Repeat("x", 10000))
		}, func(t *testing.T, g *fakeGateway, log string) {
			if len(g.failed[0].ErrorMessage) != MaxMessageLength {
				t.Fatalf("message length %d", len(g.failed[0].ErrorMessage))
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &fakeGateway{}
			var buf bytes.Buffer
			w := &Worker{Gateway: g, Handler: c.handler, Log: zerolog.New(&buf), MaxJobsActive: 1}
			w.slots = make(chan struct{}, 1)
			w.run(context.Background(), activated(42))
			c.check(t, g, buf.String())
		})
	}
}

func TestAdapterHandsBackOnShutdown(t *testing.T) {
	g := &fakeGateway{}
	started := make(chan struct{})
	w := &Worker{Gateway: g, Log: zerolog.Nop(), Handler: handlerFunc(func(ctx context.Context, _ Job) (Result, error) {
		close(started)
		<-ctx.Done()
		return Result{}, ctx.Err()
	})}
	jobsCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.run(jobsCtx, activated(1)); close(done) }()
	<-started
	cancel() // the grace period is over
	<-done
	if len(g.failed) != 1 || g.failed[0].Retries != 3 || g.failed[0].RetryBackOff != 0 {
		t.Fatalf("failed = %v, want the job handed back with retries unchanged and no backoff", g.failed)
	}
}

// pushBack refuses the first n commands with RESOURCE_EXHAUSTED, as a broker under backpressure.
type pushBack struct {
	*fakeGateway
	mu sync.Mutex
	n  int
}

func (p *pushBack) refuse() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n > 0 {
		p.n--
		return status.Error(codes.ResourceExhausted, "writer buffer is full")
	}
	return nil
}

func (p *pushBack) CompleteJob(ctx context.Context, r *pb.CompleteJobRequest, o ...grpc.CallOption) (*pb.CompleteJobResponse, error) {
	if err := p.refuse(); err != nil {
		return nil, err
	}
	return p.fakeGateway.CompleteJob(ctx, r, o...)
}

func (p *pushBack) NewCompleteJobCommand() commands.CompleteJobCommandStep1 {
	return commands.NewCompleteJobCommand(p, never)
}

func TestAnswerResentUnderBackpressure(t *testing.T) {
	g := &pushBack{fakeGateway: &fakeGateway{}, n: 3}
	var buf bytes.Buffer
	w := &Worker{Gateway: g, Log: zerolog.New(&buf), Handler: handlerFunc(func(context.Context, Job) (Result, error) {
		return Result{Variables: map[string]any{"ok": true}}, nil
	})}
	w.run(context.Background(), activated(5))
	if len(g.completed) != 1 {
		t.Fatalf("completed %d times, want the refused complete resent until the broker took it", len(g.completed))
	}
	if !strings.Contains(buf.String(), `"outcome":"completed"`) {
		t.Fatalf("log: %s", buf.String())
	}
}
