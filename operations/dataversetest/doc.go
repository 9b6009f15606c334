// Package dataversetest is an emulator of the parts of Microsoft Dataverse and
// Microsoft Entra ID that a desktop-flow client uses: the client-credentials
// token endpoint, the RunDesktopFlow and CancelDesktopFlowRun actions, the
// flowsession row, its outputs file column and the completion callback; desktop
// flows as workflow rows (category 6, drafts behind MSCRM.IncludeUnpublished)
// with their input and output schemas, and runs that fail on inputs that do not
// match them.
//
// It also emulates table rows and their metadata (account, contact, lead,
// incident, task, new_project and tables of Options.Tables): create,
// retrieve, update/upsert and delete with ETags and If-Match/If-None-Match,
// alternate keys, @odata.bind lookups read back as _x_value with their
// annotations, $select/$filter/$orderby/$top/$expand/$count with
// odata.maxpagesize paging and formatted values, EntityDefinitions, custom
// APIs (Options.Actions), and cloud flows' HTTP-request triggers
// (Options.CloudFlows: SAS-signed or Entra-protected URLs, synchronous and
// 202 + Location answers).
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
