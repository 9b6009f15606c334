package main

import "testing"

func TestArea(t *testing.T) {
	t.Parallel()
	for fn, want := range map[string]string{
		"github.com/pa-connector/pa-connector/connector.(*Handler).outcome": "connector (ours)",
		"google.golang.org/grpc/internal/transport.(*http2Client).reader":   "gRPC",
		"net/http.(*persistConn).writeLoop":                                 "net/http, http2",
		"internal/runtime/syscall/linux.Syscall6":                           "system calls",
		"runtime.nextFreeFast":                                              "runtime: allocation",
		"runtime.tryDeferToSpanScan":                                        "runtime: GC",
		"runtime.(*unwinder).resolveInternal":                               "runtime: goroutine stacks",
		"runtime.futex":                                                     "runtime: futex, netpoll, timers",
		"runtime.selectgo":                                                  "runtime: scheduler, channels, locks",
		"runtime.mapassign_faststr":                                         "runtime: maps",
		"internal/runtime/maps.(*Iter).Next":                                "runtime: maps",
		"aeshashbody":                                                       "runtime: copying, hashing, interfaces",
		"runtime.typePointers.next":                                         "runtime: GC",
		"runtime.closechan":                                                 "runtime: scheduler, channels, locks",
		"encoding/json.(*decodeState).object":                               "encoding/json",
	} {
		if got := area(fn); got != want {
			t.Errorf("area(%q) = %q, want %q", fn, got, want)
		}
	}
}
