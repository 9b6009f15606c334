#!/usr/bin/env node
// Validates every examples/element-templates/*.json (desktop-flow-*.json is what
// `pa-connector templates generate` writes for a flow, connector/spec's ExampleFlow):
//  1. against Camunda's element-template JSON schema
//     (@camunda/zeebe-element-templates-json-schema, resources/schema.json) with ajv;
//  2. with @bpmn-io/element-templates-validator (validateZeebe), the validator Camunda Modeler
//     runs when it loads a template. Its errors fail; its warnings are printed only: today they
//     are "'optional' with 'zeebe:input' binding is deprecated ... for Camunda 8.8+" (optional
//     inputs are what Zeebe 8.5 needs) and a false "Value is deprecated" on every feel:required
//     value that does start with "=" (Camunda's own templates get both); check 3 covers the
//     latter properly;
//  3. with checks the schema cannot express: unique property ids, conditions that name an
//     existing property (and a value it can take), groups that exist, one task type binding,
//     and FEEL syntax of every "=..." value (@bpmn-io/lezer-feel, Camunda dialect).
// Exits 1 when any file has an error, 2 when there is nothing to validate.
//
// Usage: node tools/templates/validate.mjs [FILE.json ...]
// (after: cd tools/templates && npm ci --no-audit --no-fund)

import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { validateZeebe } from '@bpmn-io/element-templates-validator';

import { feelSyntaxError } from './lib/feel.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const require = createRequire(import.meta.url);

const schemaPath = require.resolve('@camunda/zeebe-element-templates-json-schema/resources/schema.json');
const schemaVersion = require('@camunda/zeebe-element-templates-json-schema/package.json').version;
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));

// The schema uses annotations ajv does not know in strict mode (deprecated, examples inside
// allOf); they carry no validation, so strict mode is off. It uses no "format" today; the
// formats are added so that a future schema version that does is still checked.
const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
addFormats(ajv);
const validateSchema = ajv.compile(schema);

function templateFiles(args) {
  if (args.length) {
    return args.map((f) => resolve(f));
  }
  const dir = join(repoRoot, 'examples', 'element-templates');
  let names;
  try {
    names = readdirSync(dir);
  } catch (err) {
    console.error(`validate: cannot read ${dir}: ${err.message}`);
    process.exit(2);
  }
  return names.filter((n) => n.endsWith('.json')).sort().map((n) => join(dir, n));
}

function fmtAjv(err) {
  const where = err.instancePath || '(root)';
  const extra = err.params && Object.keys(err.params).length ? ' ' + JSON.stringify(err.params) : '';
  return `${where}: ${err.message}${extra}`;
}

// Checks beyond the schema, for one template object.
function semanticErrors(t) {
  const errors = [];
  const props = Array.isArray(t.properties) ? t.properties : [];
  const byId = new Map();
  for (const [i, p] of props.entries()) {
    if (p.id === undefined) {
      continue;
    }
    if (byId.has(p.id)) {
      errors.push(`/properties/${i}: duplicate property id "${p.id}"`);
    }
    byId.set(p.id, p);
  }
  const groups = new Set((t.groups || []).map((g) => g.id));
  const taskTypes = props.filter(
    (p) => p.binding && ((p.binding.type === 'zeebe:taskDefinition' && p.binding.property === 'type') ||
      p.binding.type === 'zeebe:taskDefinition:type'));
  if (taskTypes.length !== 1) {
    errors.push(`expected exactly one zeebe:taskDefinition type binding, found ${taskTypes.length}`);
  }
  const conditionsOf = (c) => (c && c.allMatch ? c.allMatch : c ? [ c ] : []);
  for (const [i, p] of props.entries()) {
    const at = `/properties/${i}${p.id ? ` (${p.id})` : ''}`;
    if (p.group !== undefined && !groups.has(p.group)) {
      errors.push(`${at}: group "${p.group}" is not declared in groups`);
    }
    for (const c of conditionsOf(p.condition)) {
      const target = byId.get(c.property);
      if (!target) {
        errors.push(`${at}: condition names unknown property "${c.property}"`);
        continue;
      }
      if (target.type === 'Dropdown') {
        const values = new Set(target.choices.map((x) => x.value));
        const wanted = c.equals !== undefined ? [ c.equals ] : c.oneOf || [];
        for (const v of wanted) {
          if (!values.has(v)) {
            errors.push(`${at}: condition on "${c.property}" uses "${v}", which is not one of its choices`);
          }
        }
      }
    }
    if (p.type === 'Dropdown' && p.value !== undefined && !p.choices.some((x) => x.value === p.value)) {
      errors.push(`${at}: default value "${p.value}" is not one of the choices`);
    }
    if (p.feel === 'required' && p.value !== undefined && !(typeof p.value === 'string' && p.value.startsWith('='))) {
      errors.push(`${at}: feel is "required" but the value does not start with "="`);
    }
    if (typeof p.value === 'string' && p.value.startsWith('=')) {
      const e = feelSyntaxError(p.value.slice(1));
      if (e) {
        errors.push(`${at}: value is not valid FEEL: ${e}`);
      }
    }
  }
  return errors;
}

const files = templateFiles(process.argv.slice(2));
if (!files.length) {
  console.error('validate: no element templates found in examples/element-templates/');
  process.exit(2);
}

let passed = 0;
let failed = 0;
for (const file of files) {
  const name = relative(process.cwd(), file) || file;
  const errors = [];
  const warnings = [];
  let doc;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    errors.push(`not valid JSON: ${err.message}`);
  }
  if (doc !== undefined) {
    if (!validateSchema(doc)) {
      for (const e of validateSchema.errors) {
        errors.push(`schema: ${fmtAjv(e)}`);
      }
    }
    const templates = Array.isArray(doc) ? doc : [ doc ];
    for (const [ti, t] of templates.entries()) {
      const prefix = templates.length > 1 ? `[${ti}] ` : '';
      const res = validateZeebe(t);
      for (const e of res.errors || []) {
        errors.push(`${prefix}modeler validator: ${e.dataPath || e.instancePath || ''} ${e.message}`);
      }
      for (const w of res.warnings || []) {
        warnings.push(`${prefix}modeler validator: ${w.dataPath || w.instancePath || ''} ${w.message}`);
      }
      if (t && typeof t === 'object') {
        for (const e of semanticErrors(t)) {
          errors.push(prefix + e);
        }
      }
    }
  }
  if (errors.length) {
    failed++;
    console.log(`FAIL ${name}`);
    for (const e of errors) {
      console.log(`  ${e}`);
    }
  } else {
    passed++;
    const n = Array.isArray(doc) ? doc.length : 1;
    console.log(`ok   ${name} (${n} template${n === 1 ? '' : 's'}, schema ${schemaVersion})`);
  }
  if (warnings.length && process.env.VALIDATE_VERBOSE) {
    for (const w of warnings) {
      console.log(`  note: ${w}`);
    }
  } else if (warnings.length) {
    console.log(`  ${warnings.length} modeler-validator warning(s), not errors (VALIDATE_VERBOSE=1 lists them)`);
  }
}
console.log(`element templates: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
