package dataversetest

import "strings"

// flowSessionNavs holds flowsession's single-valued navigation properties
// that $expand follows: regardingobjectid, the run's workflow (FS).
var flowSessionNavs = &table{
	Table: Table{LogicalName: "flowsession"},
	navs:  map[string]navProp{"regardingobjectid": {column: "_regardingobjectid_value", targets: []string{"workflow"}}},
}

// parseSessionExpand reads a flowsession $expand: "regardingobjectid" or
// "regardingobjectid($select=a,b)", as the row endpoints read theirs.
func (e *Emulator) parseSessionExpand(raw string) ([]expandItem, *odataError) {
	if raw == "" {
		return nil, nil
	}
	var items []expandItem
	for _, item := range splitOutside(raw, ',') {
		it, err := parseExpandItem(e, flowSessionNavs, strings.TrimSpace(item))
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// expandSession renders the expanded navigation properties of a run: the
// workflow row, or null when the workflow has no row.
func (e *Emulator) expandSession(workflowID string, items []expandItem) orderedObject {
	e.mu.Lock()
	defer e.mu.Unlock()
	var obj orderedObject
	for _, x := range items {
		var sub any
		if r, ok := e.store.get("workflow", workflowID); ok {
			sub = e.renderRowLocked(e.tables["workflow"], r, x.sel, nil, prefer{}, true)
		}
		obj = append(obj, kv{x.nav, sub})
	}
	return obj
}
