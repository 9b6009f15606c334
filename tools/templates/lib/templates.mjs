// Element templates as Camunda Modeler applies them, for checking BPMN files against the
// templates they claim (zeebe:modelerTemplate + zeebe:modelerTemplateVersion).
//
// Known templates: every examples/element-templates/*.json (ours) and every version of Camunda's
// Power Automate template (@camunda/connectors-element-templates).

import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
const require = createRequire(import.meta.url);

export const CAMUNDA_POWER_AUTOMATE = require.resolve(
  '@camunda/connectors-element-templates/src/element-templates/power-automate-connector.json');

function readTemplates(file) {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  return (Array.isArray(doc) ? doc : [ doc ]).map((t) => ({ ...t, $file: file }));
}

/** @return {Map<string, object>} templates by "id@version" */
export function loadTemplates() {
  const out = new Map();
  const dir = join(repoRoot, 'examples', 'element-templates');
  const files = readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => join(dir, n));
  files.push(CAMUNDA_POWER_AUTOMATE);
  for (const f of files) {
    for (const t of readTemplates(f)) {
      out.set(`${t.id}@${t.version ?? ''}`, t);
    }
  }
  return out;
}

/** A key naming what a property writes: "input:url", "header:resultExpression", ... */
export function bindingKey(p) {
  const b = p.binding || {};
  switch (b.type) {
  case 'zeebe:input': return `input:${b.name}`;
  case 'zeebe:output': return `output:${b.source}`;
  case 'zeebe:taskHeader': return `header:${b.key}`;
  case 'zeebe:property': return `property:${b.name}`;
  case 'zeebe:taskDefinition': return `taskDefinition:${b.property}`;
  case 'zeebe:taskDefinition:type': return 'taskDefinition:type';
  case 'property': return `bpmn:${b.name}`;
  default: return `${b.type}:${b.name ?? b.key ?? b.property ?? ''}`;
  }
}

/** The value a property writes when the user leaves it as it is (Modeler's getDefaultValue). */
export function defaultValue(p) {
  if (p.value === undefined) {
    return undefined;
  }
  if (p.feel === 'required' && typeof p.value === 'string' && !p.value.startsWith('=')) {
    return '=' + p.value;
  }
  return p.value;
}

function conditionsOf(c) {
  if (!c) {
    return [];
  }
  return c.allMatch ? c.allMatch : [ c ];
}

/**
 * The properties whose conditions hold, in template order, given a function that tells a
 * property's current value (undefined when it has none). Conditions may chain, so this iterates
 * to a fixed point as Modeler does.
 */
export function activeProperties(template, valueOf) {
  const props = template.properties;
  const byId = new Map(props.filter((p) => p.id).map((p) => [ p.id, p ]));
  let active = new Set(props);
  for (let round = 0; round < 10; round++) {
    const next = new Set(props.filter((p) => conditionsOf(p.condition).every((c) => {
      const target = byId.get(c.property);
      const v = target && active.has(target) ? valueOf(target) : undefined;
      if (c.isActive !== undefined) {
        return (target !== undefined && active.has(target)) === c.isActive;
      }
      if (c.isEmpty !== undefined) {
        return (v === undefined || v === '') === c.isEmpty;
      }
      if (c.equals !== undefined) {
        return v === c.equals;
      }
      if (c.oneOf !== undefined) {
        return c.oneOf.includes(v);
      }
      return true;
    })));
    const same = next.size === active.size && [ ...next ].every((p) => active.has(p));
    active = next;
    if (same) {
      break;
    }
  }
  return props.filter((p) => active.has(p));
}
