//go:build integration

package integration

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestDataverseRowsThroughTheBinary runs dataverse:1 through the worker binary, the engine and
// the emulator binary: createRow → getRow → updateRow → updateRow with the ETag read before
// the first update, whose 412 an error boundary event catches → listRows across 3 pages.
func TestDataverseRowsThroughTheBinary(t *testing.T) {
	cfg := emulatorConfig()
	var seeded []map[string]any
	for i := range 7 {
		seeded = append(seeded, map[string]any{"lastname": fmt.Sprintf("Page%02d", i)})
	}
	cfg["tables"] = []map[string]any{{"logicalName": "contact", "rows": seeded}}
	dv := startEmulator(t, cfg)
	deploy(t, "integration/testdata/dataverse-rows.bpmn")
	startWorker(t, "SECRET_DV_TOKEN="+dvToken)

	vars := runProcess(t, "dataverse-rows", map[string]any{"organizationUri": dv.URL, "authentication": bearer()}, 30*time.Second)
	if id, _ := vars["createdId"].(string); len(id) != 36 {
		t.Fatalf("createdId = %v, want the created row's GUID", vars["createdId"])
	}
	if vars["fetchedName"] != "Grace" || vars["updatedTitle"] != "Admiral" {
		t.Errorf("fetchedName, updatedTitle = %v, %v; want Grace, Admiral", vars["fetchedName"], vars["updatedTitle"])
	}
	// listRows runs only after the boundary event caught the stale update's 412.
	want := []any{"Page00", "Page01", "Page02", "Page03", "Page04", "Page05", "Page06"}
	if vars["listed"] != float64(7) || !reflect.DeepEqual(vars["listedNames"], want) || vars["listedNext"] != nil {
		t.Fatalf("listed %v rows %v (next %v), want the 7 seeded rows in order and no next link; variables %v",
			vars["listed"], vars["listedNames"], vars["listedNext"], vars)
	}
	counts := dv.counts(t)
	if counts["ListRows"] != 3 || counts["UpdateRow"] != 2 {
		t.Errorf("emulator calls = %v, want 3 ListRows (pages of 3) and 2 UpdateRow", counts)
	}
}
