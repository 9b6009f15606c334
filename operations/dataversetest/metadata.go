package dataversetest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// entityDefinitionProps are the EntityMetadata properties the emulator
// answers, in answer order; a pseudo table lets $filter and $select use them.
var entityDefinitionProps = &table{
	Table: Table{LogicalName: "EntityMetadata", PrimaryIDAttribute: "MetadataId"},
	cols: map[string]*Column{
		"MetadataId": {LogicalName: "MetadataId", Type: TypeGUID}, "LogicalName": {LogicalName: "LogicalName", Type: TypeString},
		"SchemaName": {LogicalName: "SchemaName", Type: TypeString}, "EntitySetName": {LogicalName: "EntitySetName", Type: TypeString},
		"LogicalCollectionName": {LogicalName: "LogicalCollectionName", Type: TypeString},
		"PrimaryIdAttribute":    {LogicalName: "PrimaryIdAttribute", Type: TypeString}, "PrimaryNameAttribute": {LogicalName: "PrimaryNameAttribute", Type: TypeString},
		"ObjectTypeCode": {LogicalName: "ObjectTypeCode", Type: TypeInteger}, "IsCustomEntity": {LogicalName: "IsCustomEntity", Type: TypeBoolean},
	},
	order: []string{"LogicalName", "SchemaName", "EntitySetName", "LogicalCollectionName", "PrimaryIdAttribute", "PrimaryNameAttribute", "ObjectTypeCode", "IsCustomEntity", "MetadataId"},
}

func (t *table) definition() map[string]any {
	return map[string]any{
		"MetadataId": t.metadata, "LogicalName": t.LogicalName, "SchemaName": schemaName(t.LogicalName),
		"EntitySetName": t.EntitySetName, "LogicalCollectionName": t.EntitySetName,
		"PrimaryIdAttribute": t.PrimaryIDAttribute, "PrimaryNameAttribute": t.PrimaryNameAttribute,
		"ObjectTypeCode": int64(t.otc), "IsCustomEntity": strings.Contains(t.LogicalName, "_"),
	}
}

// schemaName guesses a schema name: new_project → new_Project, account → Account.
func schemaName(logical string) string {
	prefix, rest, custom := strings.Cut(logical, "_")
	if !custom {
		return strings.ToUpper(logical[:1]) + logical[1:]
	}
	return prefix + "_" + strings.ToUpper(rest[:1]) + rest[1:]
}

func (t *table) attributes() []orderedObject {
	var out []orderedObject
	for _, n := range t.order {
		c := t.cols[n]
		kind := map[string]string{TypeGUID: "UniqueIdentifier", TypeCustomer: "Lookup", TypeOwner: "Lookup"}[c.Type]
		if kind == "" {
			kind = c.Type
		}
		a := orderedObject{
			{"@odata.type", "#Microsoft.Dynamics.CRM." + kind + "AttributeMetadata"},
			{"LogicalName", c.LogicalName},
			{"SchemaName", schemaName(c.LogicalName)},
			{"AttributeType", c.Type},
			{"AttributeTypeName", map[string]string{"Value": c.Type + "Type"}},
			{"IsPrimaryId", c.LogicalName == t.PrimaryIDAttribute},
			{"IsPrimaryName", c.LogicalName == t.PrimaryNameAttribute},
			{"IsValidForCreate", !containsString([]string{"createdon", "modifiedon", "versionnumber"}, c.LogicalName)},
			{"IsValidForUpdate", !containsString([]string{"createdon", "modifiedon", "versionnumber", t.PrimaryIDAttribute}, c.LogicalName)},
			{"IsValidForRead", true},
		}
		if isLookup(c.Type) {
			a = append(a, kv{"Targets", c.Targets})
		}
		a = append(a, kv{"MetadataId", fmt.Sprintf("%08x-0000-4000-8000-%012x", t.otc, len(out))})
		out = append(out, a)
	}
	return out
}

func (t *table) manyToOne(all map[string]*table) []orderedObject {
	var navs []string
	for nav := range t.navs {
		navs = append(navs, nav)
	}
	sort.Strings(navs)
	var out []orderedObject
	for _, nav := range navs {
		np := t.navs[nav]
		for _, name := range np.targets {
			target := all[name]
			out = append(out, orderedObject{
				{"SchemaName", name + "_" + t.LogicalName + "_" + np.column},
				{"ReferencedEntity", name},
				{"ReferencedAttribute", target.PrimaryIDAttribute},
				{"ReferencingEntity", t.LogicalName},
				{"ReferencingAttribute", np.column},
				{"ReferencedEntityNavigationPropertyName", name + "_" + t.LogicalName + "_" + np.column},
				{"ReferencingEntityNavigationPropertyName", nav},
				{"RelationshipType", "OneToManyRelationship"},
			})
		}
	}
	return out
}

// serveMetadata answers EntityDefinitions, EntityDefinitions(LogicalName='x')
// or (MetadataId), with $select, $filter and $expand of Attributes and
// ManyToOneRelationships, and the /Attributes and /ManyToOneRelationships
// collections of one table.
func (e *Emulator) serveMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		wrongMethod(w, r)
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, apiPrefix+"EntityDefinitions")
	_, key, tail, _ := splitRowPath("EntityDefinitions" + rest)
	q := r.URL.Query()
	for k := range q {
		if strings.HasPrefix(k, "$") && k != "$select" && k != "$expand" && k != "$filter" {
			writeError(w, unsupportedOption(k))
			return
		}
	}
	var sel []string
	if s := q.Get("$select"); s != "" {
		for _, c := range strings.Split(s, ",") {
			if _, ok := entityDefinitionProps.cols[c]; !ok {
				writeError(w, newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.", c)))
				return
			}
			sel = append(sel, c)
		}
	}
	var expand []string
	for _, x := range splitOutside(q.Get("$expand"), ',') {
		name, _, _ := strings.Cut(strings.TrimSpace(x), "(")
		if name == "" {
			continue
		}
		if name != "Attributes" && name != "ManyToOneRelationships" {
			writeError(w, newError(http.StatusBadRequest, CodeQuerySyntax, fmt.Sprintf("Could not find a property named '%s' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.", name)))
			return
		}
		expand = append(expand, name)
	}
	var filter filterExpr
	if f := q.Get("$filter"); f != "" {
		var err *odataError
		if filter, err = parseFilter(f); err == nil {
			err = checkFilter(entityDefinitionProps, filter)
		}
		if err != nil {
			writeError(w, err)
			return
		}
	}
	render := func(t *table) orderedObject {
		def := t.definition()
		cols := sel
		if cols == nil {
			cols = entityDefinitionProps.order
		}
		var obj orderedObject
		for _, c := range cols {
			if c != "MetadataId" {
				obj = append(obj, kv{c, def[c]})
			}
		}
		obj = append(obj, kv{"MetadataId", t.metadata})
		for _, x := range expand {
			if x == "Attributes" {
				obj = append(obj, kv{x, t.attributes()})
			} else {
				obj = append(obj, kv{x, t.manyToOne(e.tables)})
			}
		}
		return obj
	}
	ctx := metadataURL(r) + "EntityDefinitions"
	if sel != nil {
		ctx += "(" + strings.Join(sel, ",") + ")"
	}
	if key == "" {
		var values []any
		for _, n := range tableNames(e.tables) {
			t := e.tables[n]
			if filter == nil || evalFilter(entityDefinitionProps, filter, t.definition()) {
				values = append(values, render(t))
			}
		}
		writeJSON(w, http.StatusOK, orderedObject{{"@odata.context", ctx}, {"value", values}})
		return
	}
	t := e.tableByMetadataKey(key)
	if t == nil {
		writeError(w, newError(http.StatusNotFound, CodeObjectDoesNotExist, fmt.Sprintf("Could not find entity with key '%s'.", key)))
		return
	}
	switch tail {
	case "":
		writeJSON(w, http.StatusOK, append(orderedObject{{"@odata.context", ctx + "/$entity"}}, render(t)...))
	case "/Attributes":
		writeJSON(w, http.StatusOK, orderedObject{{"@odata.context", metadataURL(r) + "EntityDefinitions('" + t.metadata + "')/Attributes"}, {"value", t.attributes()}})
	case "/ManyToOneRelationships":
		writeJSON(w, http.StatusOK, orderedObject{{"@odata.context", metadataURL(r) + "EntityDefinitions('" + t.metadata + "')/ManyToOneRelationships"}, {"value", t.manyToOne(e.tables)}})
	default:
		seg := strings.Split(strings.TrimPrefix(tail, "/"), "/")[0]
		writeError(w, newError(http.StatusNotFound, CodeResourceNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", seg)))
	}
}

// tableByMetadataKey finds a table by "LogicalName='x'" or its MetadataId.
func (e *Emulator) tableByMetadataKey(key string) *table {
	if name, ok := strings.CutPrefix(key, "LogicalName="); ok {
		return e.tables[strings.Trim(name, "'")]
	}
	id, ok := parseGUID(key)
	if !ok {
		return nil
	}
	for _, t := range e.tables {
		if t.metadata == id {
			return t
		}
	}
	return nil
}
