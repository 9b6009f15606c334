//go:build integration

package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/camunda/zeebe/clients/go/v8/pkg/pb"
	"google.golang.org/grpc/codes"
)

// failToIncident activates the only job of typ, fails it with retries 0 and returns the job and
// its JOB_NO_RETRIES incident.
func (e *engine) failToIncident(t testing.TB, typ, message string) (*pb.ActivatedJob, rec) {
	t.Helper()
	job := e.activateOne(t, typ, typ, time.Minute)
	must(t, e.fail(t, &pb.FailJobRequest{JobKey: job.GetKey(), Retries: 0, ErrorMessage: message}), "FailJob retries 0")
	inc := e.waitRecord(t, ev("INCIDENT", "CREATED").f("jobKey", job.GetKey()), 10*time.Second)
	return job, inc
}

// §C: ResolveIncident of an unknown key, and of a job incident whose job has no retries: the
// client gets NOT_FOUND, the log an INVALID_STATE rejection. [src] IncidentResolveProcessor
// rejectResolveCommand: rejectionWriter.appendRejection(command, rejectionType, msg) but
// responseWriter.writeRejectionOnCommand(command, RejectionType.NOT_FOUND, msg); the gateway
// builds the message from the response's type (§0), so it reads "rejected with code 'NOT_FOUND'".
func TestK21ResolveIncidentNotFound(t *testing.T) {
	t.Parallel()
	e := eng
	_, err := e.zc.NewResolveIncidentCommand().IncidentKey(unknownKey).Send(ctxT(t, 15*time.Second))
	e.wantRejection(t, err, codes.NotFound, "INCIDENT", "RESOLVE", "NOT_FOUND",
		fmt.Sprintf("Expected to resolve incident with key '%d', but no such incident was found", unknownKey))

	e.deploy(t, "k21.bpmn")
	e.create(t, "k21", nil)
	job, inc := e.failToIncident(t, "k21", "k21 failed")
	_, err = e.zc.NewResolveIncidentCommand().IncidentKey(inc.Key).Send(ctxT(t, 15*time.Second))
	reason := fmt.Sprintf("Expected to resolve incident with key '%d', but job with key '%d' has no retries left. Please update the job retries and retry resolving the incident", inc.Key, job.GetKey())
	wantErr(t, err, codes.NotFound, rejMsg("RESOLVE", "NOT_FOUND", reason))
	e.waitRecord(t, rej("INCIDENT", "RESOLVE").k(inc.Key).where("rejectionType INVALID_STATE, reason "+reason, func(r rec) bool {
		return r.RejectionType == "INVALID_STATE" && r.RejectionReason == reason
	}), 10*time.Second)
}

// §C, §E: UpdateJobRetries(0) is INVALID_ARGUMENT; (2) + ResolveIncident make the job
// activatable with retries 2.
func TestK22UpdateRetriesThenResolve(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k22.bpmn")
	pik := e.create(t, "k22", nil)
	job, inc := e.failToIncident(t, "k22", "k22 failed")
	key := job.GetKey()

	_, err := e.zc.NewUpdateJobRetriesCommand().JobKey(key).Retries(0).Send(ctxT(t, 15*time.Second))
	e.wantRejection(t, err, codes.InvalidArgument, "JOB", "UPDATE_RETRIES", "INVALID_ARGUMENT",
		fmt.Sprintf("Expected to update retries for job with key '%d' with a positive amount of retries, but the amount given was '0'", key))
	_, err = e.zc.NewUpdateJobRetriesCommand().JobKey(unknownKey).Retries(1).Send(ctxT(t, 15*time.Second))
	e.wantRejection(t, err, codes.NotFound, "JOB", "UPDATE_RETRIES", "NOT_FOUND",
		fmt.Sprintf("Expected to update retries for job with key '%d', but no such job was found", unknownKey))

	_, err = e.zc.NewUpdateJobRetriesCommand().JobKey(key).Retries(2).Send(ctxT(t, 15*time.Second))
	must(t, err, "UpdateJobRetries(2)")
	e.waitRecord(t, ev("JOB", "RETRIES_UPDATED").k(key).f("retries", 2), 10*time.Second)
	// still FAILED until the incident is resolved
	ctx := ctxT(t, 10*time.Second)
	jobs, err := e.activate(ctx, &pb.ActivateJobsRequest{Type: "k22", Worker: "k22", Timeout: 60000, MaxJobsToActivate: 1, RequestTimeout: -1})
	must(t, err, "ActivateJobs")
	if len(jobs) != 0 {
		t.Errorf("job activatable before the incident was resolved: %v", jobs)
	}
	_, err = e.zc.NewResolveIncidentCommand().IncidentKey(inc.Key).Send(ctxT(t, 15*time.Second))
	must(t, err, "ResolveIncident")
	e.waitRecord(t, ev("INCIDENT", "RESOLVED").k(inc.Key), 10*time.Second)
	again := e.activateOne(t, "k22", "k22", time.Minute)
	if again.GetKey() != key || again.GetRetries() != 2 {
		t.Errorf("activated job %d retries %d, want job %d retries 2", again.GetKey(), again.GetRetries(), key)
	}
	e.complete(t, key, "{}")
	e.processCompleted(t, pik, 10*time.Second)
}
