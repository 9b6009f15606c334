package connector

import "github.com/pa-connector/pa-connector/connector/secrets"

// scrubDecision removes every held secret from what a FailJob or ThrowError command carries
// besides its message (Worker.message scrubs that): the error code and the variables.
func scrubDecision(live *secrets.Registry, d Decision) Decision {
	d.Code = live.Text(d.Code)
	d.Variables = live.Map(d.Variables)
	return d
}
