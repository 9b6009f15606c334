//go:build integration

package conformance

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// §E: gateway-side validation of StreamActivatedJobs: INVALID_ARGUMENT, no record.
func TestK38StreamValidation(t *testing.T) {
	t.Parallel()
	e := eng
	for _, c := range []struct {
		req *pb.StreamActivatedJobsRequest
		msg string
	}{
		{&pb.StreamActivatedJobsRequest{Type: "", Worker: "k38-w", Timeout: 1000}, "Expected to stream activated jobs with type to be present, but it was blank"},
		{&pb.StreamActivatedJobsRequest{Type: "k38", Worker: "k38-w", Timeout: 0}, "Expected to stream activated jobs with timeout to be greater than zero, but it was 0"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		stream, err := e.gw.StreamActivatedJobs(ctx, c.req)
		if err == nil {
			_, err = stream.Recv()
		}
		cancel()
		wantErr(t, err, codes.InvalidArgument, c.msg)
	}
	e.none(t, recFilter(func(r rec) bool { return r.Value.S("worker") == "k38-w" || r.Value.S("type") == "k38" }), "stream validation writes no record")
}

// openStream opens a raw job stream; jobs and the final error arrive on the channels.
func openStream(t testing.TB, gw pb.GatewayClient, req *pb.StreamActivatedJobsRequest) (<-chan *pb.ActivatedJob, <-chan error, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := gw.StreamActivatedJobs(ctx, req)
	if err != nil {
		cancel()
		t.Fatalf("StreamActivatedJobs: %v", err)
	}
	jobs := make(chan *pb.ActivatedJob, 16)
	errc := make(chan error, 1)
	go func() {
		for {
			j, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			jobs <- j
		}
	}()
	return jobs, errc, cancel
}

// §E: a job created while a stream is open is pushed: JOB_BATCH ACTIVATED with the stream's
// worker and no JOB_BATCH ACTIVATE command; polls do not get it.
func TestK39StreamPushesNewJob(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k39.bpmn")
	jobs, errc, _ := openStream(t, e.gw, &pb.StreamActivatedJobsRequest{Type: "k39", Worker: "k39-stream", Timeout: 30000})
	// registration with the engine is asynchronous; the spec's clients wait 2 s (§E)
	time.Sleep(2 * time.Second)
	pik := e.create(t, "k39", map[string]any{"p": 1})
	var job *pb.ActivatedJob
	select {
	case job = <-jobs:
	case err := <-errc:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("no job pushed within 15 s")
	}
	created := e.jobOf(t, pik)
	if job.GetKey() != created.Key || job.GetWorker() != "k39-stream" || job.GetType() != "k39" || job.GetRetries() != 3 {
		t.Errorf("pushed job %v: want key %d worker k39-stream type k39 retries 3", job, created.Key)
	}
	jsonEq(t, "pushed job variables", job.GetVariables(), `{"p":1}`)
	b := e.waitRecord(t, ev("JOB_BATCH", "ACTIVATED").f("jobKeys", []int64{created.Key}), 10*time.Second)
	if b.Value.S("worker") != "k39-stream" || b.Value.S("type") != "k39" {
		t.Errorf("JOB_BATCH ACTIVATED %v: want worker k39-stream type k39", b)
	}
	src := e.waitRecord(t, recFilter(func(r rec) bool { return r.Position == b.SourceRecordPosition }), 10*time.Second)
	if src.ValueType == "JOB_BATCH" && src.Intent == "ACTIVATE" {
		t.Errorf("pushed batch's source is a JOB_BATCH ACTIVATE command (a poll): %v", src)
	}
	polled, err := e.activate(ctxT(t, 15*time.Second), &pb.ActivateJobsRequest{Type: "k39", Worker: "k39-poll", Timeout: 30000, MaxJobsToActivate: 1, RequestTimeout: -1})
	must(t, err, "ActivateJobs")
	if len(polled) != 0 {
		t.Errorf("a poll got the pushed job: %v", polled)
	}
	e.none(t, cmd("JOB_BATCH", "ACTIVATE").f("type", "k39").f("worker", "k39-stream"), "a push has no JOB_BATCH ACTIVATE")
	e.complete(t, job.GetKey(), "{}")
}

// freezer is a TCP proxy whose forwarding can be stopped without closing the connections, so
// that the engine's pushes stall (the client stops reading), and then cut.
type freezer struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	frozen chan struct{}
	once   sync.Once
}

func newFreezer(t testing.TB, target string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, target: target, frozen: make(chan struct{})}
	go f.accept()
	t.Cleanup(f.cut)
	return f
}

func (f *freezer) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", f.target)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, u)
		f.mu.Unlock()
		go f.pipe(c, u)
		go f.pipe(u, c)
	}
}

func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		select {
		case <-f.frozen:
			return // stop reading: the sender's window fills up
		default:
		}
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-f.frozen:
				return
			default:
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

func (f *freezer) freeze() { f.once.Do(func() { close(f.frozen) }) }

func (f *freezer) cut() {
	f.freeze()
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST
		}
		c.Close()
	}
}

// §E: jobs pushed to a stream whose client stopped reading and then went away are yielded
// (JOB YIELD command, JOB YIELDED) and can be activated by a poll. The client stops reading
// (a frozen proxy, so the HTTP/2 window fills: each job carries 512 KiB of variables), two jobs
// are pushed, then the connection is cut; at least one of the pushes cannot have been
// delivered.
func TestK40UndeliverableStreamJobIsYielded(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k40.bpmn")
	px := newFreezer(t, e.addr)
	conn, err := grpc.Dial(px.ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	must(t, err, "dial via proxy")
	defer conn.Close()
	_, errc, _ := openStream(t, pb.NewGatewayClient(conn), &pb.StreamActivatedJobsRequest{Type: "k40", Worker: "k40-stream", Timeout: 60000})
	time.Sleep(2 * time.Second) // stream registration is asynchronous (§E)
	select {
	case err := <-errc:
		t.Fatalf("stream ended early: %v", err)
	default:
	}
	px.freeze()
	big := strings.Repeat("x", 512*1024)
	var pushed []int64
	for range 2 {
		pik := e.create(t, "k40", map[string]any{"big": big})
		job := e.jobOf(t, pik)
		e.waitRecord(t, ev("JOB_BATCH", "ACTIVATED").f("worker", "k40-stream").f("jobKeys", []int64{job.Key}), 15*time.Second)
		pushed = append(pushed, job.Key)
	}
	px.cut()
	yielded := e.waitRecord(t, ev("JOB", "YIELDED").where("one of the pushed jobs", func(r rec) bool {
		return r.Key == pushed[0] || r.Key == pushed[1]
	}), 20*time.Second)
	y := e.waitRecord(t, cmd("JOB", "YIELD").k(yielded.Key), 10*time.Second)
	if y.Position >= yielded.Position {
		t.Errorf("JOB YIELD at %d does not precede JOB YIELDED at %d", y.Position, yielded.Position)
	}
	got := map[int64]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for !got[yielded.Key] && time.Now().Before(deadline) {
		jobs, err := e.activate(ctxT(t, 15*time.Second), &pb.ActivateJobsRequest{Type: "k40", Worker: "k40-poll", Timeout: 60000, MaxJobsToActivate: 2, RequestTimeout: 1000, FetchVariable: []string{"none"}})
		must(t, err, "ActivateJobs")
		for _, j := range jobs {
			got[j.GetKey()] = true
		}
	}
	if !got[yielded.Key] {
		t.Errorf("yielded job %d was not activated by a poll (got %v)", yielded.Key, got)
	}
	for k := range got {
		e.complete(t, k, "{}")
	}
}

// §E: an idle stream stays open for 60 s.
func TestK41StreamStaysOpenIdle(t *testing.T) {
	t.Parallel()
	_, errc, cancel := openStream(t, eng.gw, &pb.StreamActivatedJobsRequest{Type: "k41-idle", Worker: "k41", Timeout: 1000})
	select {
	case err := <-errc:
		t.Fatalf("the idle stream ended: %v", err)
	case <-time.After(60 * time.Second):
	}
	cancel()
	select {
	case err := <-errc:
		if status.Code(err) != codes.Canceled {
			t.Errorf("after cancel: %v, want Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stream did not end after cancel")
	}
}
