// Package dataversetest is an emulator of the parts of Microsoft Dataverse and
// Microsoft Entra ID that a desktop-flow client uses: the client-credentials
// token endpoint, the RunDesktopFlow and CancelDesktopFlowRun actions, the
// flowsession row, its outputs file column and the completion callback.
//
// It works like net/http/httptest: NewServer starts it on a loopback port for
// a test, NewHandler returns the bare http.Handler for the standalone binary
// (cmd/dataverse-emulator). Both answer with Dataverse's status codes, OData
// error bodies, headers and service-protection limits; what the public
// documentation leaves open is chosen plausibly and listed in docs/emulator.md.
//
// Runs progress on the emulator's clock: a run waits Flow.QueueDelay in
// Waiting (3), runs Flow.Duration in Running (2) and then ends in
// Flow.FinalStatus. Tests that need determinism pass Options.Clock, move it
// and call Emulator.Tick to let due runs finish and their callbacks go out.
//
// For reliability tests the emulator records every call (Calls, Count),
// injects faults (Inject), revokes tokens (RevokeTokens) and can force a run's
// status (SetStatus). The same controls exist over HTTP under /_emulator/.
package dataversetest
