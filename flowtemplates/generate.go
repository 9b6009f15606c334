// Package flowtemplates writes an element template per desktop flow of an organization
// (`pa-connector templates generate`): it lists the flows, picks the published ones or those
// named, reads each one's input and output schema, and writes spec.FlowTemplate's file for it.
// The output depends on the flows only (sorted, no timestamps), so running it twice writes the
// same bytes and the templates can live in a repository.
package flowtemplates

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pa-connector/pa-connector/connector/spec"
)

// Flow is a desktop flow as the listing gives it.
type Flow struct {
	Name, WorkflowID, Description string
	State                         string // Draft, Activated or Suspended
}

// Flows is what Generate reads of an organization.
type Flows interface {
	// List lists the desktop flows, drafts too when includeDrafts.
	List(ctx context.Context, includeDrafts bool) ([]Flow, error)
	// Schema reads a flow's input and output schemas.
	Schema(ctx context.Context, f Flow) (spec.DesktopFlow, error)
}

// File is one template written (or left as it was, when it already held the same bytes).
type File struct {
	Path    string
	Flow    Flow
	Changed bool
	// SecretDefaults are the flow's inputs whose default holds a {{secrets.NAME}} placeholder,
	// left out of the template (see spec.SecretDefaults).
	SecretDefaults []string
}

// Generate writes the template of each selected flow into dir (created when missing) and
// returns the files in file-name order. With no names, the flows selected are every published
// one that can run (state Activated); drafts and suspended flows are left out. Each name is a
// workflow id or a flow's exact name (case-insensitive) and selects that flow whatever its
// state. Nothing is written unless every selected flow's template could be made.
func Generate(ctx context.Context, src Flows, names []string, dir string) ([]File, error) {
	flows, err := src.List(ctx, len(names) > 0)
	if err != nil {
		return nil, fmt.Errorf("listing desktop flows: %w", err)
	}
	selected, err := Select(flows, names)
	if err != nil {
		return nil, err
	}
	contents := map[string][]byte{}
	var out []File
	for _, f := range selected {
		d, err := src.Schema(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("reading the schemas of desktop flow %q (%s): %w", f.Name, f.WorkflowID, err)
		}
		t, err := spec.FlowTemplate(d)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, spec.FlowTemplateFile(f.WorkflowID))
		contents[path] = t
		out = append(out, File{Path: path, Flow: f, SecretDefaults: spec.SecretDefaults(d)})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Path < out[k].Path })
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	for i := range out {
		out[i].Changed, err = writeFile(out[i].Path, contents[out[i].Path])
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Select picks the flows Generate writes (see there), each once, in name order.
func Select(flows []Flow, names []string) ([]Flow, error) {
	var out []Flow
	if len(names) == 0 {
		for _, f := range flows {
			if f.State == "Activated" {
				out = append(out, f)
			}
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		want := strings.TrimSpace(n)
		id := strings.ToLower(strings.Trim(want, "{}"))
		var byID, byName []Flow
		for _, f := range flows {
			switch {
			case strings.EqualFold(f.WorkflowID, id):
				byID = append(byID, f)
			case strings.EqualFold(f.Name, want):
				byName = append(byName, f)
			}
		}
		match := byID
		if len(match) == 0 {
			match = byName
		}
		switch {
		case want == "":
			return nil, fmt.Errorf("--flow: empty flow name")
		case len(match) == 0:
			return nil, fmt.Errorf("--flow %q: no desktop flow has that workflow id or name (%d desktop flows listed, drafts included)", want, len(flows))
		case len(match) > 1:
			var ids []string
			for _, f := range match {
				ids = append(ids, f.WorkflowID)
			}
			return nil, fmt.Errorf("--flow %q: %d desktop flows have that name (%s): name one by its workflow id", want, len(match), strings.Join(ids, ", "))
		}
		if !seen[strings.ToLower(match[0].WorkflowID)] {
			seen[strings.ToLower(match[0].WorkflowID)] = true
			out = append(out, match[0])
		}
	}
	sort.SliceStable(out, func(i, k int) bool {
		if out[i].Name != out[k].Name {
			return out[i].Name < out[k].Name
		}
		return out[i].WorkflowID < out[k].WorkflowID
	})
	return out, nil
}

// writeFile writes data to path unless it already holds it (reporting whether it changed),
// through a temporary file renamed into place, so a reader never sees half a template.
func writeFile(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}
