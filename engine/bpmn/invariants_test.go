package bpmn

import "testing"

// checkInvariants asserts what the engine relies on in a successfully parsed model.
func checkInvariants(t testing.TB, defs []*Definition) {
	t.Helper()
	for _, d := range defs {
		if d.Root == nil || d.Elements[d.ID] != d.Root || d.Root.Type != Process || d.Root.Parent != nil {
			t.Fatalf("%s: bad root", d.ID)
		}
		for id, f := range d.Flows {
			if f.ID != id || f.Source == nil || f.Target == nil || d.Elements[f.Source.ID] != f.Source || d.Elements[f.Target.ID] != f.Target {
				t.Fatalf("%s: flow %s badly linked", d.ID, id)
			}
		}
		for id, e := range d.Elements {
			if e.ID != id {
				t.Fatalf("%s: element %s under id %s", d.ID, e.ID, id)
			}
			if e != d.Root && (e.Parent == nil || d.Elements[e.Parent.ID] != e.Parent) {
				t.Fatalf("%s: element %s has no parent", d.ID, id)
			}
			for _, f := range e.Outgoing {
				if f.Source != e || d.Flows[f.ID] != f {
					t.Fatalf("%s: outgoing %s of %s", d.ID, f.ID, id)
				}
			}
			for _, f := range e.Incoming {
				if f.Target != e || d.Flows[f.ID] != f {
					t.Fatalf("%s: incoming %s of %s", d.ID, f.ID, id)
				}
			}
			if e.Default != nil && !contains(e.Outgoing, e.Default) {
				t.Fatalf("%s: default of %s not outgoing", d.ID, id)
			}
			if e.Type == BoundaryEvent && (e.AttachedTo == nil || e.AttachedTo.Parent != e.Parent) {
				t.Fatalf("%s: boundary %s not attached", d.ID, id)
			}
			if e.Type == SubProcess && e.NoneStart == nil {
				t.Fatalf("%s: sub-process %s without none start", d.ID, id)
			}
			for _, c := range e.Children {
				if c.Parent != e {
					t.Fatalf("%s: child %s of %s", d.ID, c.ID, id)
				}
			}
		}
	}
}

func contains(fs []*Flow, f *Flow) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}
