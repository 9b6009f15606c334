package connector

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"sync"

	"github.com/pa-connector/pa-connector/operations"
)

// A run record is the local variable RecordedRunVariable that a trigger writes on its element
// instance right after Dataverse answered:
//
//	{"status": 200, "body": {...the trigger's answer...}, "sig": base64url(HMAC-SHA256)}
//
// A redelivered job returns the recorded run instead of triggering again. Since anyone who can
// set variables can write a variable of that name (a process-scope paConnectorRun, an old
// record copied by an output mapping), the worker uses a record only when its signature
// verifies: an HMAC over the element instance key, the process instance key, the status and
// the body, under a key derived from PA_CONNECTOR_CALLBACK_KEY. Any other value of the variable
// is an incident: a run may have started, and neither using the record nor triggering again is
// safe.

// runRecordLabel is the HKDF label of the record key and the first line of what is signed.
const runRecordLabel = "pa-connector run record v1"

// RunRecords signs and verifies run records.
type RunRecords struct {
	mac []byte
	// secret is the configured key, to refuse jobs that read it through a secret placeholder;
	// nil for a random key.
	secret []byte
	// macs holds *recordMAC: an HMAC and its buffers, reset and reused (a new HMAC-SHA256 and
	// its message cost a dozen allocations per trigger; docs/benchmarks.md, issue 11).
	macs sync.Pool
}

// recordMAC is one HMAC-SHA256 under the record key, with the buffers of what it signs.
type recordMAC struct {
	h        hash.Hash
	buf, sum []byte
}

// NewRunRecords derives the record key from the callback key. With no key, it draws a random
// key for this process: records then verify only in the process that wrote them, so a job
// redelivered to another replica or after a restart becomes an incident instead of resuming.
func NewRunRecords(secret string) *RunRecords {
	if secret == "" {
		k := make([]byte, 32)
		_, _ = rand.Read(k) // never fails (crypto/rand)
		return &RunRecords{mac: k}
	}
	mac, err := hkdf.Key(sha256.New, []byte(secret), nil, runRecordLabel, 32)
	if err != nil {
		panic(err) // only for an output length HKDF cannot give; 32 is fine
	}
	return &RunRecords{mac: mac, secret: []byte(secret)}
}

// Ephemeral reports whether the key is this process's random one.
func (r *RunRecords) Ephemeral() bool { return r.secret == nil }

// isKey reports whether a resolved secret value is the configured key.
func (r *RunRecords) isKey(v string) bool {
	return r != nil && r.secret != nil && subtle.ConstantTimeCompare([]byte(v), r.secret) == 1
}

// processRecords is a zero Handler's: a random key per process.
var processRecords = sync.OnceValue(func() *RunRecords { return NewRunRecords("") })

func (h *Handler) records() *RunRecords {
	if h.Records != nil {
		return h.Records
	}
	return processRecords()
}

// record returns the variable to write for a run Dataverse started for job.
func (r *RunRecords) record(job Job, res *operations.Response) (map[string]any, error) {
	body := res.Body
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding the trigger's answer: %w", err)
	}
	// What is signed must be what the next job reads back and encodes again. That holds for
	// the decoded JSON the answer is, except a string that is not UTF-8: encoding replaces its
	// bad bytes with \ufffd once. Store the replaced form then.
	if bytes.Contains(raw, []byte(`\ufffd`)) {
		if body, err = decodeJSON(string(raw), ""); err != nil {
			return nil, err
		}
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	status := int64(res.Status)
	return map[string]any{"status": status, "body": body, "sig": r.mac256(job, status, raw)}, nil
}

// sign is the signature of a record of job with this status and (decoded) body.
func (r *RunRecords) sign(job Job, status int64, body any) (string, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	return r.mac256(job, status, raw), nil
}

func (r *RunRecords) mac256(job Job, status int64, raw []byte) string {
	m, _ := r.macs.Get().(*recordMAC)
	if m == nil {
		m = &recordMAC{h: hmac.New(sha256.New, r.mac)}
	}
	m.h.Reset()
	b := append(m.buf[:0], runRecordLabel+"\n"...)
	for _, n := range [...]int64{job.ElementInstanceKey, job.ProcessInstanceKey, status} {
		b = append(strconv.AppendInt(b, n, 10), '\n')
	}
	m.h.Write(b)
	m.h.Write(raw)
	m.buf, m.sum = b, m.h.Sum(m.sum[:0])
	sig := base64.RawURLEncoding.EncodeToString(m.sum)
	r.macs.Put(m)
	return sig
}

// recordedRun returns the run recorded on this job's element instance, or nil when there is
// none (the variable is absent or null). A value this worker cannot verify is a permanent
// error: a run may have started, and a blind second trigger could start another.
func (h *Handler) recordedRun(job Job, vars map[string]any) (*operations.Response, error) {
	v, present := vars[RecordedRunVariable]
	if !present || v == nil {
		return nil, nil
	}
	unverifiable := func(why string) error {
		return Permanentf("a %s variable is present that this worker cannot verify (%s), so a run may have started: "+
			"check the desktop flow's runs; to trigger again, set %s to null on the task before resolving this incident. "+
			"Workers resume each other's runs only when every replica has the same PA_CONNECTOR_CALLBACK_KEY",
			RecordedRunVariable, why, RecordedRunVariable)
	}
	rec, ok := v.(map[string]any)
	if !ok {
		return nil, unverifiable("it is " + typeName(v) + ", not a record the worker writes")
	}
	sig, _ := rec["sig"].(string)
	if sig == "" {
		return nil, unverifiable("it has no signature: written by an older pa-connector, or not by the worker")
	}
	status, ok := rec["status"].(int64)
	if !ok {
		return nil, unverifiable("its status is not a number")
	}
	want, err := h.records().sign(job, status, rec["body"])
	if err != nil || !hmac.Equal([]byte(sig), []byte(want)) {
		return nil, unverifiable("its signature does not match: it was written for another element instance, " +
			"by a worker with another PA_CONNECTOR_CALLBACK_KEY or none (a random key per process), or not by the worker")
	}
	// Signed by a worker for this element instance: exactly what Dataverse answered then.
	return &operations.Response{Status: int(status), Header: http.Header{"X-Pa-Connector-Replayed": {"true"}}, Body: rec["body"]}, nil
}
