package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pa-connector/pa-connector/engine/bpmn"
)

// prepareJob evaluates a service task's job type and retries; a wrong type is an
// EXTRACT_VALUE_ERROR incident and nil.
func (e *Engine) prepareJob(inst *ElementInstance, el *bpmn.Element) *Job {
	var env map[string]any
	eval := func(raw string) (any, bool) {
		if !bpmn.IsFEEL(raw) {
			e.warnings = nil // a static value: no evaluation, no warnings
			return raw, true
		}
		if env == nil {
			env = e.env(inst)
		}
		v, err := e.value(raw, env)
		if err != nil {
			e.incident(inst, "EXTRACT_VALUE_ERROR", err.Error(), -1, "activate")
			return nil, false
		}
		return v, true
	}
	tv, ok := eval(el.JobType)
	if !ok {
		return nil
	}
	typ, isString := tv.(string)
	if !isString {
		e.incident(inst, "EXTRACT_VALUE_ERROR", e.mismatch("Expected result of the expression '%s' to be 'STRING', but was '%s'.", exprText(el.JobType), feelType(tv)), -1, "activate")
		return nil
	}
	rv, ok := eval(el.Retries)
	if !ok {
		return nil
	}
	var retries int64
	switch r := rv.(type) {
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || bpmn.IsFEEL(el.Retries) {
			e.incident(inst, "EXTRACT_VALUE_ERROR", e.mismatch("Expected result of the expression '%s' to be 'NUMBER', but was 'STRING'.", exprText(el.Retries)), -1, "activate")
			return nil
		}
		retries = int64(n)
	case int64:
		retries = r
	case float64:
		retries = int64(r)
	case json.Number: // a decimal FEEL result: its long value, as Zeebe takes it
		f, _ := r.Float64()
		retries = int64(f)
	default:
		e.incident(inst, "EXTRACT_VALUE_ERROR", e.mismatch("Expected result of the expression '%s' to be 'NUMBER', but was '%s'.", exprText(el.Retries), feelType(rv)), -1, "activate")
		return nil
	}
	if retries > math.MaxInt32 {
		retries = math.MaxInt32
	}
	def := e.st.Definitions[inst.DefinitionKey]
	return &Job{State: JobActivatable, Type: typ, Retries: int32(retries), RecurringTime: -1, Deadline: -1,
		CustomHeaders: headersJSON(el.Headers), ElementID: el.ID, ElementInstanceKey: inst.Key,
		ProcessInstanceKey: inst.ProcessInstanceKey, ProcessID: def.ProcessID, DefinitionKey: def.Key, Version: def.Version}
}

// headersJSON is the task headers as a JSON object in document order.
func headersJSON(hs []bpmn.Header) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, h := range hs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(h.Key)
		v, _ := json.Marshal(h.Value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

func (e *Engine) createJob(inst *ElementInstance, j *Job) {
	j.Key = e.st.key()
	e.st.Jobs[j.Key] = j
	inst.JobKey = j.Key
	e.st.addActivatable(j)
	e.event("JOB", "CREATED", j.Key, e.jobValue(j, nil))
	e.becameActivatable(j)
}

// becameActivatable notes a job for the open streams of its type, or for long polls.
func (e *Engine) becameActivatable(j *Job) {
	if !e.replaying {
		e.ready = append(e.ready, j.Key)
	}
}

func (e *Engine) jobValue(j *Job, vars json.RawMessage) jobValue {
	if vars == nil {
		vars = json.RawMessage("{}")
	}
	return jobValue{Type: j.Type, Retries: j.Retries, RetryBackoff: j.RetryBackoff, RecurringTime: j.RecurringTime,
		Deadline: j.Deadline, Timeout: j.Timeout, Worker: j.Worker, ErrorMessage: j.ErrorMessage, ErrorCode: j.ErrorCode,
		CustomHeaders: json.RawMessage(j.CustomHeaders), Variables: vars, ElementID: j.ElementID,
		ElementInstanceKey: j.ElementInstanceKey, ProcessInstanceKey: j.ProcessInstanceKey, BpmnProcessID: j.ProcessID,
		ProcessDefinitionKey: j.DefinitionKey, ProcessDefinitionVersion: j.Version, JobKind: "BPMN_ELEMENT", TenantID: DefaultTenant}
}

// emptyJob is the value of a command on a job that does not exist.
func emptyJob(vars json.RawMessage) jobValue {
	return jobValue{Retries: -1, RecurringTime: -1, Deadline: -1, Timeout: -1, CustomHeaders: json.RawMessage("{}"),
		Variables: orObject(vars), ElementInstanceKey: -1, ProcessInstanceKey: -1, ProcessDefinitionKey: -1,
		ProcessDefinitionVersion: -1, JobKind: "BPMN_ELEMENT", TenantID: DefaultTenant}
}

// jobCommand writes a job command's record and checks the job's state.
func (e *Engine) jobCommand(c *Cmd, intent, verb string, vars json.RawMessage) (*Job, *Result) {
	j := e.st.Jobs[c.Key]
	value := emptyJob(vars)
	if j != nil {
		value = e.jobValue(j, orObject(vars))
	}
	e.command("JOB", intent, c.Key, value)
	if j == nil {
		return nil, e.rejected("JOB", intent, c.Key, value, RejectNotFound,
			fmt.Sprintf("Expected to %s job with key '%d', but no such job was found", verb, c.Key))
	}
	if j.State != JobActivatable && j.State != JobActivated {
		return nil, e.rejected("JOB", intent, c.Key, value, RejectInvalidState,
			fmt.Sprintf("Expected to %s job with key '%d', but it is in state '%s'", verb, c.Key, j.State))
	}
	return j, nil
}

func (e *Engine) completeJob(c *Cmd) *Result {
	j, res := e.jobCommand(c, "COMPLETE", "complete", c.Variables)
	if res != nil {
		return res
	}
	e.st.removeActivatable(j)
	delete(e.st.Jobs, j.Key)
	e.event("JOB", "COMPLETED", j.Key, e.jobValue(j, orObject(c.Variables)))
	inst := e.st.Elements[j.ElementInstanceKey]
	if inst != nil && inst.State == Activated {
		inst.JobKey = 0
		e.completeWith(inst, e.elementOf(inst), c.Variables)
	}
	return &Result{Key: j.Key}
}

const maxErrorMessage = 10000

// truncateMessage cuts an error message to 10,000 characters plus "..." (on a rune boundary).
func truncateMessage(s string) string {
	if utf8.RuneCountInString(s) <= maxErrorMessage {
		return s
	}
	n := 0
	for i := range s {
		if n == maxErrorMessage {
			return s[:i] + "..."
		}
		n++
	}
	return s
}

func (e *Engine) failJob(c *Cmd) *Result {
	j, res := e.jobCommand(c, "FAIL", "fail", c.Variables)
	if res != nil {
		return res
	}
	e.st.removeActivatable(j)
	j.Retries = c.Retries
	j.ErrorMessage = truncateMessage(c.Message)
	j.Deadline = -1
	j.RetryBackoff = 0
	j.RecurringTime = -1
	switch {
	case c.Retries > 0 && c.Backoff > 0:
		j.State = JobFailed
		j.RetryBackoff = c.Backoff
		j.RecurringTime = e.now + c.Backoff
	case c.Retries > 0:
		j.State = JobActivatable
	default:
		j.State = JobFailed
	}
	e.event("JOB", "FAILED", j.Key, e.jobValue(j, orObject(c.Variables)))
	if inst := e.st.Elements[j.ElementInstanceKey]; inst != nil && len(c.Variables) > 0 {
		e.setDocument(inst, c.Variables, true)
	}
	switch {
	case j.State == JobActivatable:
		e.st.addActivatable(j)
		e.becameActivatable(j)
	case j.Retries <= 0:
		msg := j.ErrorMessage
		if msg == "" {
			msg = "No more retries left."
		}
		if inst := e.st.Elements[j.ElementInstanceKey]; inst != nil {
			e.incident(inst, "JOB_NO_RETRIES", msg, j.Key, "")
		}
	}
	return &Result{Key: j.Key}
}

func (e *Engine) updateTimeout(c *Cmd) *Result {
	j := e.st.Jobs[c.Key]
	value := emptyJob(nil)
	if j != nil {
		value = e.jobValue(j, nil)
	}
	value.Timeout = c.Timeout
	e.command("JOB", "UPDATE_TIMEOUT", c.Key, value)
	if j == nil {
		return e.rejected("JOB", "UPDATE_TIMEOUT", c.Key, value, RejectNotFound,
			fmt.Sprintf("Expected to update job deadline with key '%d', but no such job was found", c.Key))
	}
	if j.State != JobActivated {
		return e.rejected("JOB", "UPDATE_TIMEOUT", c.Key, value, RejectInvalidState,
			fmt.Sprintf("Expected to update the timeout of job with key '%d', but it is not active", c.Key))
	}
	j.Deadline = e.now + c.Timeout
	e.event("JOB", "TIMEOUT_UPDATED", j.Key, e.jobValue(j, nil))
	return &Result{Key: j.Key}
}

func (e *Engine) updateRetries(c *Cmd) *Result {
	j := e.st.Jobs[c.Key]
	value := emptyJob(nil)
	if j != nil {
		value = e.jobValue(j, nil)
	}
	value.Retries = c.Retries
	e.command("JOB", "UPDATE_RETRIES", c.Key, value)
	if c.Retries <= 0 {
		return e.rejected("JOB", "UPDATE_RETRIES", c.Key, value, RejectInvalidArgument,
			fmt.Sprintf("Expected to update retries for job with key '%d' with a positive amount of retries, but the amount given was '%d'", c.Key, c.Retries))
	}
	if j == nil {
		return e.rejected("JOB", "UPDATE_RETRIES", c.Key, value, RejectNotFound,
			fmt.Sprintf("Expected to update retries for job with key '%d', but no such job was found", c.Key))
	}
	j.Retries = c.Retries
	e.event("JOB", "RETRIES_UPDATED", j.Key, e.jobValue(j, nil))
	return &Result{Key: j.Key}
}

// activateJobs is ActivateJobs: up to MaxJobs activatable jobs of the type, oldest key first.
func (e *Engine) activateJobs(c *Cmd) *Result {
	value := jobBatchValue{Type: c.Type, Worker: c.Worker, Timeout: c.Timeout, MaxJobsToActivate: c.MaxJobs,
		JobKeys: []int64{}, Jobs: []jobValue{}, TenantIDs: []string{DefaultTenant}}
	e.command("JOB_BATCH", "ACTIVATE", -1, value)
	switch {
	case c.MaxJobs < 1:
		return e.rejected("JOB_BATCH", "ACTIVATE", -1, value, RejectInvalidArgument,
			fmt.Sprintf("Expected to activate job batch with max jobs to activate to be greater than zero, but it was '%d'", c.MaxJobs))
	case c.Timeout < 1:
		return e.rejected("JOB_BATCH", "ACTIVATE", -1, value, RejectInvalidArgument,
			fmt.Sprintf("Expected to activate job batch with timeout to be greater than zero, but it was '%d'", c.Timeout))
	case strings.TrimSpace(c.Type) == "":
		return e.rejected("JOB_BATCH", "ACTIVATE", -1, value, RejectInvalidArgument,
			"Expected to activate job batch with type to be present, but it was blank")
	}
	res := &Result{}
	keys := e.st.Activatable[c.Type]
	size := 0
	for len(keys) > 0 && len(res.Jobs) < int(c.MaxJobs) {
		j := e.st.Jobs[keys[0]]
		aj := e.activateJob(j, c.Worker, c.Timeout, c.Fetch)
		size += len(aj.Variables) + len(aj.CustomHeaders) + 256
		if size > maxBatchBytes && len(res.Jobs) > 0 {
			// Too large for one answer: leave the rest for the next request.
			e.deactivate(j)
			value.Truncated = true
			break
		}
		res.Jobs = append(res.Jobs, aj)
		value.JobKeys = append(value.JobKeys, j.Key)
		value.Jobs = append(value.Jobs, e.jobValue(j, nil))
		keys = e.st.Activatable[c.Type]
	}
	e.event("JOB_BATCH", "ACTIVATED", e.st.key(), value)
	return res
}

// maxBatchBytes keeps an ActivateJobs answer under gRPC's 4 MiB message limit.
const maxBatchBytes = 3 << 20

func (e *Engine) activateJob(j *Job, worker string, timeout int64, fetch []string) *ActivatedJob {
	e.st.removeActivatable(j)
	j.State = JobActivated
	j.Worker = worker
	j.Timeout = timeout
	j.Deadline = e.now + timeout
	vars := "{}"
	if inst := e.st.Elements[j.ElementInstanceKey]; inst != nil && !e.replaying {
		vars = e.variablesJSON(inst, fetch)
	}
	return &ActivatedJob{Key: j.Key, Type: j.Type, ProcessInstanceKey: j.ProcessInstanceKey, ProcessID: j.ProcessID,
		Version: j.Version, DefinitionKey: j.DefinitionKey, ElementID: j.ElementID, ElementInstanceKey: j.ElementInstanceKey,
		CustomHeaders: j.CustomHeaders, Worker: worker, Retries: j.Retries, Deadline: j.Deadline, Variables: vars}
}

// deactivate undoes activateJob within the same command.
func (e *Engine) deactivate(j *Job) {
	j.State, j.Worker, j.Timeout, j.Deadline = JobActivatable, "", 0, -1
	e.st.addActivatable(j)
}

// pushJob activates one job for a job stream (no JOB_BATCH ACTIVATE command is written).
func (e *Engine) pushJob(c *Cmd) *Result {
	j := e.st.Jobs[c.Key]
	if j == nil || j.State != JobActivatable {
		return &Result{}
	}
	aj := e.activateJob(j, c.Worker, c.Timeout, c.Fetch)
	e.event("JOB_BATCH", "ACTIVATED", e.st.key(), jobBatchValue{Type: j.Type, Worker: c.Worker, Timeout: c.Timeout,
		MaxJobsToActivate: 1, JobKeys: []int64{j.Key}, Jobs: []jobValue{e.jobValue(j, nil)}, TenantIDs: []string{DefaultTenant}})
	if !e.replaying {
		e.queuePush(c.StreamID, aj)
	}
	return &Result{Jobs: []*ActivatedJob{aj}}
}

// yieldJob takes back a pushed job its stream could not deliver; it is left to polls.
func (e *Engine) yieldJob(c *Cmd) *Result {
	j := e.st.Jobs[c.Key]
	if j == nil || j.State != JobActivated {
		return &Result{}
	}
	e.command("JOB", "YIELD", j.Key, e.jobValue(j, nil))
	j.State, j.Deadline = JobActivatable, -1
	e.st.addActivatable(j)
	e.event("JOB", "YIELDED", j.Key, e.jobValue(j, nil))
	if !e.replaying {
		e.woken[j.Type] = true
	}
	return &Result{}
}

func (e *Engine) timeOutJob(c *Cmd) *Result {
	j := e.st.Jobs[c.Key]
	if j == nil || j.State != JobActivated || j.Deadline > e.now {
		return &Result{}
	}
	e.command("JOB", "TIME_OUT", j.Key, e.jobValue(j, nil))
	j.State, j.Deadline = JobActivatable, -1
	e.st.addActivatable(j)
	e.event("JOB", "TIMED_OUT", j.Key, e.jobValue(j, nil))
	e.becameActivatable(j)
	return &Result{}
}

func (e *Engine) recurJob(c *Cmd) *Result {
	j := e.st.Jobs[c.Key]
	if j == nil || j.State != JobFailed || j.RecurringTime < 0 || j.RecurringTime > e.now || j.Retries <= 0 {
		return &Result{}
	}
	e.command("JOB", "RECUR_AFTER_BACKOFF", j.Key, e.jobValue(j, nil))
	j.State, j.RecurringTime = JobActivatable, -1
	e.st.addActivatable(j)
	e.event("JOB", "RECURRED_AFTER_BACKOFF", j.Key, e.jobValue(j, nil))
	e.becameActivatable(j)
	return &Result{}
}
