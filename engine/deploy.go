package engine

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"strings"

	"github.com/pa-connector/pa-connector/engine/bpmn"
)

// deploy: all resources or none; a resource equal (bytes and name) to the latest version of its
// process is a duplicate that keeps that version.
func (e *Engine) deploy(c *Cmd) *Result {
	value := deploymentValue{
		Resources: make([]deploymentResource, len(c.Resources)), ProcessesMetadata: []processMetadata{},
		DecisionsMetadata: []any{}, DecisionRequirementsMetadata: []any{}, FormMetadata: []any{}, TenantID: DefaultTenant,
	}
	for i, r := range c.Resources {
		value.Resources[i] = deploymentResource{ResourceName: r.Name, Resource: r.Content}
	}
	e.command("DEPLOYMENT", "CREATE", -1, value)
	if len(c.Resources) == 0 {
		return e.rejected("DEPLOYMENT", "CREATE", -1, value, RejectInvalidArgument, "Expected to deploy at least one resource, but none given")
	}
	type parsed struct {
		res  Resource
		defs []*bpmn.Definition
	}
	var all []parsed
	var errs strings.Builder
	seen := map[string]string{}
	for _, r := range c.Resources {
		name := strings.ToLower(r.Name)
		if !strings.HasSuffix(name, ".bpmn") && !strings.HasSuffix(name, ".xml") {
			fmt.Fprintf(&errs, "\n'%s': unknown resource type", r.Name)
			continue
		}
		defs, err := bpmn.Parse(r.Name, r.Content)
		if err != nil {
			fmt.Fprintf(&errs, "\n'%s': %s", r.Name, err.Error())
			continue
		}
		for _, d := range defs {
			if other, ok := seen[d.ID]; ok {
				fmt.Fprintf(&errs, "\nDuplicated process id in resources '%s' and '%s'", other, r.Name)
			}
			seen[d.ID] = r.Name
		}
		all = append(all, parsed{r, defs})
	}
	if errs.Len() > 0 {
		return e.rejected("DEPLOYMENT", "CREATE", -1, value, RejectInvalidArgument,
			"Expected to deploy new resources, but encountered the following errors:"+errs.String())
	}
	res := &Result{}
	var news []*Definition
	for _, p := range all {
		sum := md5.Sum(p.res.Content)
		for _, m := range p.defs {
			meta := processMetadata{BpmnProcessID: m.ID, ResourceName: p.res.Name, Checksum: sum[:], TenantID: DefaultTenant}
			if latest := e.st.Definitions[e.st.Latest[m.ID]]; latest != nil && latest.ResourceName == p.res.Name && bytes.Equal(latest.Checksum, sum[:]) {
				meta.Version, meta.ProcessDefinitionKey, meta.Duplicate = latest.Version, latest.Key, true
			} else {
				d := &Definition{Key: e.st.key(), ProcessID: m.ID, ResourceName: p.res.Name, Checksum: sum[:], Resource: p.res.Content, model: m}
				d.Version = 1
				if latest != nil {
					d.Version = latest.Version + 1
				}
				e.st.Definitions[d.Key] = d
				e.st.Latest[m.ID] = d.Key
				news = append(news, d)
				meta.Version, meta.ProcessDefinitionKey = d.Version, d.Key
			}
			value.ProcessesMetadata = append(value.ProcessesMetadata, meta)
			res.Deployed = append(res.Deployed, DeployedProcess{ProcessID: m.ID, Version: meta.Version, Key: meta.ProcessDefinitionKey, ResourceName: p.res.Name})
		}
	}
	res.Key = e.st.key()
	for _, d := range news {
		e.event("PROCESS", "CREATED", d.Key, processValue{BpmnProcessID: d.ProcessID, Version: d.Version,
			ProcessDefinitionKey: d.Key, ResourceName: d.ResourceName, Checksum: d.Checksum, Resource: d.Resource, TenantID: DefaultTenant})
	}
	created := value
	created.Resources = make([]deploymentResource, len(value.Resources))
	for i, r := range value.Resources {
		created.Resources[i] = deploymentResource{ResourceName: r.ResourceName}
	}
	e.event("DEPLOYMENT", "CREATED", res.Key, created)
	return res
}
