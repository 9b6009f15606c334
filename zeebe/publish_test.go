package zeebe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pa-connector/pa-connector/callback"
)

// The callback receiver's publisher, on the gateway client of a running engine: a message is
// published once; the same id again, while the first is buffered, is callback.ErrMessageExists
// (the receiver answers "already-published"); variables that are not JSON are refused before
// anything is sent, naming what was wrong.
func TestPublisherPublishesOnceAndNamesADuplicate(t *testing.T) {
	p := Publisher{Gateway: startEngine(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := callback.Message{Name: callback.DefaultMessage, CorrelationKey: "run-1", ID: "run-1", TTL: time.Hour,
		Variables: map[string]any{"flowSessionId": "run-1", "statusCode": 4}}
	if err := p.PublishMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishMessage(ctx, m); !errors.Is(err, callback.ErrMessageExists) {
		t.Fatalf("second publish: %v, want ErrMessageExists", err)
	}
	m.ID, m.CorrelationKey = "run-2", "run-2"
	if err := p.PublishMessage(ctx, m); err != nil {
		t.Fatalf("another run's message: %v", err)
	}
	m.ID, m.Variables = "run-3", map[string]any{"bad": make(chan int)}
	if err := p.PublishMessage(ctx, m); err == nil || !strings.Contains(err.Error(), "message variables") {
		t.Fatalf("unencodable variables: %v, want an error naming the message variables", err)
	}
}
