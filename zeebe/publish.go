package zeebe

import (
	"context"
	"fmt"

	"github.com/camunda/zeebe/clients/go/v8/pkg/commands"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pa-connector/pa-connector/callback"
)

// Publisher publishes messages (callback.Publisher) through the gateway client, for the
// callback receiver: the adapter stays the only code that talks to Zeebe.
type Publisher struct {
	Gateway interface {
		NewPublishMessageCommand() commands.PublishMessageCommandStep1
	}
}

// PublishMessage publishes m. A message whose id is still buffered gives
// callback.ErrMessageExists.
func (p Publisher) PublishMessage(ctx context.Context, m callback.Message) error {
	cmd, err := p.Gateway.NewPublishMessageCommand().MessageName(m.Name).CorrelationKey(m.CorrelationKey).
		MessageId(m.ID).TimeToLive(m.TTL).VariablesFromMap(orEmpty(m.Variables))
	if err != nil {
		return fmt.Errorf("message variables: %w", err)
	}
	if _, err := cmd.Send(ctx); err != nil {
		if status.Code(err) == codes.AlreadyExists {
			return callback.ErrMessageExists
		}
		return fmt.Errorf("publishing message %s: %w", m.Name, gatewayError(err))
	}
	return nil
}
