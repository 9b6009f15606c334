//go:build integration

package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func (e *engine) publish(t testing.TB, name, corr, id string, ttl time.Duration, vars string) (int64, error) {
	t.Helper()
	c := e.zc.NewPublishMessageCommand().MessageName(name).CorrelationKey(corr).MessageId(id).TimeToLive(ttl)
	if vars != "" {
		var err error
		c, err = c.VariablesFromString(vars)
		must(t, err, "variables")
	}
	resp, err := c.Send(ctxT(t, 15*time.Second))
	return resp.GetKey(), err
}

// §G: a missing correlation key variable is an EXTRACT_VALUE_ERROR incident on the catch
// event. FEEL warnings may follow the message (their text is unverified), so only its start is
// asserted.
func TestK66MissingCorrelationKeyIncident(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k66.bpmn")
	pik := e.create(t, "k66", nil)
	inc := e.incidentOf(t, pik)
	catch := e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATING").pi(pik).f("elementId", "Catch"), 10*time.Second)
	const want = "Failed to extract the correlation key for 'flowSessionId': The value must be either a string or a number, but was 'NULL'."
	if inc.Value.S("errorType") != "EXTRACT_VALUE_ERROR" || !strings.HasPrefix(inc.Value.S("errorMessage"), want) {
		t.Errorf("incident %s %q\n      want EXTRACT_VALUE_ERROR %q…", inc.Value.S("errorType"), inc.Value.S("errorMessage"), want)
	}
	if inc.Value.S("elementId") != "Catch" || inc.Value.I("elementInstanceKey") != catch.Key {
		t.Errorf("incident %v: want elementId Catch, elementInstanceKey %d", inc, catch.Key)
	}
	e.none(t, recFilter(func(r rec) bool {
		return strings.HasSuffix(r.ValueType, "MESSAGE_SUBSCRIPTION") && r.Value.I("processInstanceKey") == pik
	}), "nothing is subscribed")
}

// §G: a numeric correlation key (42) matches a message with correlationKey "42".
func TestK67NumericCorrelationKeyMatchesString(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k67.bpmn")
	res := e.createWithResult(t, "k67", map[string]any{"orderId": 42})
	_, err := e.publish(t, "k67-msg", "42", "", time.Minute, `{"m":1}`)
	must(t, err, "publish")
	r := awaitResult(t, res)
	jsonEq(t, "process result", r.GetVariables(), `{"orderId":42,"m":1}`)
	e.elementCompleted(t, r.GetProcessInstanceKey(), "Catch", 10*time.Second)
}

// §G: a message published before the catch event is reached (TTL 1 h) correlates when the
// subscription opens; its variables reach the process.
func TestK68BufferedMessageCorrelatesLater(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k68.bpmn")
	res := e.createWithResult(t, "k68", map[string]any{"cid": "c68"})
	job := e.activateOne(t, "k68", "k68", time.Minute)
	key, err := e.publish(t, "k68-msg", "c68", "", time.Hour, `{"fromMsg":"hello"}`)
	must(t, err, "publish")
	pub := e.waitRecord(t, ev("MESSAGE", "PUBLISHED").k(key), 10*time.Second)
	e.complete(t, job.GetKey(), "{}")
	r := awaitResult(t, res)
	jsonEq(t, "process result", r.GetVariables(), `{"cid":"c68","fromMsg":"hello"}`)
	catch := e.waitRecord(t, ev("PROCESS_INSTANCE", "ELEMENT_ACTIVATED").pi(r.GetProcessInstanceKey()).f("elementId", "Catch"), 10*time.Second)
	if pub.Position >= catch.Position {
		t.Errorf("the message (position %d) was not published before the catch event activated (%d)", pub.Position, catch.Position)
	}
}

// §G: TTL 0 and no subscription: PUBLISHED then EXPIRED, never correlated later.
func TestK69ZeroTTLMessageExpiresImmediately(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k69.bpmn")
	key, err := e.publish(t, "k69-msg", "c69", "", 0, `{"first":true}`)
	must(t, err, "publish")
	pub := e.waitRecord(t, ev("MESSAGE", "PUBLISHED").k(key), 10*time.Second)
	exp := e.waitRecord(t, ev("MESSAGE", "EXPIRED").k(key), 10*time.Second)
	if exp.Position <= pub.Position {
		t.Errorf("EXPIRED (%d) before PUBLISHED (%d)", exp.Position, pub.Position)
	}
	pik := e.create(t, "k69", map[string]any{"cid": "c69"})
	e.waitRecord(t, ev("MESSAGE_SUBSCRIPTION", "CREATED").pi(pik), 15*time.Second)
	e.barrier(t)
	if got := e.find(ev("PROCESS_INSTANCE", "ELEMENT_COMPLETED").pi(pik).f("elementId", "Catch")); len(got) > 0 {
		t.Fatalf("the expired message correlated: %v", got[0])
	}
	// the subscription is live: a second TTL-0 message correlates
	_, err = e.publish(t, "k69-msg", "c69", "", 0, `{"second":true}`)
	must(t, err, "publish")
	e.processCompleted(t, pik, 10*time.Second)
	e.none(t, ev("VARIABLE", "CREATED").pi(pik).f("name", "first"), "the expired message's variables never arrive")
}

// §G: a second message with the same name, correlationKey and messageId while the first is
// buffered.
func TestK70DuplicateMessageIdAlreadyExists(t *testing.T) {
	t.Parallel()
	e := eng
	_, err := e.publish(t, "k70-msg", "c70", "id70", time.Hour, "")
	must(t, err, "first publish")
	_, err = e.publish(t, "k70-msg", "c70", "id70", time.Hour, "")
	e.wantRejection(t, err, codes.AlreadyExists, "MESSAGE", "PUBLISH", "ALREADY_EXISTS",
		"Expected to publish a new message with id 'id70', but a message with that id was already published")
	e.barrier(t)
	if got := e.find(ev("MESSAGE", "PUBLISHED").f("messageId", "id70")); len(got) != 1 {
		t.Errorf("%d MESSAGE PUBLISHED with id70, want 1", len(got))
	}
}

// §G: the same messageId with another correlationKey is a different message.
func TestK71SameMessageIdOtherCorrelationKey(t *testing.T) {
	t.Parallel()
	e := eng
	k1, err := e.publish(t, "k71-msg", "c71-a", "id71", time.Hour, "")
	must(t, err, "first publish")
	k2, err := e.publish(t, "k71-msg", "c71-b", "id71", time.Hour, "")
	must(t, err, "second publish (other correlation key)")
	if k1 == k2 {
		t.Errorf("both messages got key %d", k1)
	}
	e.waitRecord(t, ev("MESSAGE", "PUBLISHED").k(k1).f("correlationKey", "c71-a").f("messageId", "id71"), 10*time.Second)
	e.waitRecord(t, ev("MESSAGE", "PUBLISHED").k(k2).f("correlationKey", "c71-b").f("messageId", "id71"), 10*time.Second)
}

// §G: one message, two waiting instances of the same process: exactly one correlates (also with
// a TTL, the buffered message is not given to the second instance).
func TestK72MessageCorrelatesOncePerProcess(t *testing.T) {
	t.Parallel()
	e := eng
	e.deploy(t, "k72.bpmn")
	p1 := e.create(t, "k72", map[string]any{"cid": "c72"})
	p2 := e.create(t, "k72", map[string]any{"cid": "c72"})
	e.waitRecord(t, ev("MESSAGE_SUBSCRIPTION", "CREATED").pi(p1), 15*time.Second)
	e.waitRecord(t, ev("MESSAGE_SUBSCRIPTION", "CREATED").pi(p2), 15*time.Second)
	_, err := e.publish(t, "k72-msg", "c72", "", time.Minute, "")
	must(t, err, "publish")
	first := e.waitRecord(t, recFilter(func(r rec) bool {
		return r.RecordType == "EVENT" && r.ValueType == "PROCESS_INSTANCE" && r.Intent == "ELEMENT_COMPLETED" &&
			r.Value.S("bpmnElementType") == "PROCESS" && (r.Key == p1 || r.Key == p2)
	}), 15*time.Second)
	other := p1
	if first.Key == p1 {
		other = p2
	}
	// give a wrong second correlation time to happen
	time.Sleep(time.Second)
	e.none(t, ev("PROCESS_INSTANCE", "ELEMENT_COMPLETED").pi(other).f("elementId", "Catch"), fmt.Sprintf("the message correlated to instance %d only", first.Key))
	_, err = e.zc.NewCancelInstanceCommand().ProcessInstanceKey(other).Send(ctxT(t, 15*time.Second))
	must(t, err, "cancel the instance left waiting")
}

// §G, §I: PublishMessage answers the message key; MESSAGE PUBLISHED carries name, key, ttl.
func TestK73PublishReturnsMessageKey(t *testing.T) {
	t.Parallel()
	e := eng
	key, err := e.publish(t, "k73-msg", "c73", "", 10*time.Second, `{"v":1}`)
	must(t, err, "publish")
	if key <= 0 {
		t.Fatalf("message key %d", key)
	}
	p := e.waitRecord(t, ev("MESSAGE", "PUBLISHED").k(key), 10*time.Second)
	v := p.Value
	if v.S("name") != "k73-msg" || v.S("correlationKey") != "c73" || v.I("timeToLive") != 10000 || v.S("messageId") != "" || v.S("tenantId") != "<default>" {
		t.Errorf("MESSAGE PUBLISHED %v: want name k73-msg, correlationKey c73, timeToLive 10000, messageId \"\", tenantId <default>", p)
	}
	if !eqVal(v["variables"], map[string]any{"v": 1}) {
		t.Errorf("MESSAGE PUBLISHED variables %v, want {v:1}", v["variables"])
	}
	c := e.waitRecord(t, cmd("MESSAGE", "PUBLISH").f("name", "k73-msg").f("correlationKey", "c73"), 10*time.Second)
	if c.Key != -1 || p.SourceRecordPosition != c.Position {
		t.Errorf("PUBLISH command key %d position %d, PUBLISHED source %d: want key -1 and PUBLISHED from PUBLISH", c.Key, c.Position, p.SourceRecordPosition)
	}
	if d := v.I("deadline"); d < c.Timestamp+10000 || d > p.Timestamp+10000 {
		t.Errorf("deadline %d, want command time + 10000 (%d..%d)", d, c.Timestamp+10000, p.Timestamp+10000)
	}
}
