#!/usr/bin/env node
// Checks every examples/*.bpmn:
//  1. parses with bpmn-moddle plus the zeebe and modeler extensions (what Camunda Modeler reads);
//     any import warning (unknown element or attribute, unresolved reference) is an error;
//  2. bpmnlint: Camunda's compatibility rules for Zeebe 8.5 (bpmnlint-plugin-camunda-compat,
//     camunda-cloud-8-5: task types, io mappings, FEEL syntax of inputs and conditions, timers,
//     error references, ...) plus bpmnlint's recommended rules (every element has diagram
//     interchange, no disconnected or overlapping elements, ...);
//  3. FEEL syntax of the task headers resultExpression and errorExpression (bpmnlint skips
//     header values);
//  4. template conformance: a service task that names an element template
//     (zeebe:modelerTemplate + zeebe:modelerTemplateVersion) carries what Modeler writes for it:
//     the template's task type and icon, every Hidden value, a value for every required field,
//     dropdown values among the choices, and no input, header or zeebe:property the template
//     does not bind (under its conditions). Known templates: examples/element-templates/*.json
//     and every version of Camunda's Power Automate template.
// Exits 1 when any file has an error, 2 when there is nothing to check.
//
// Usage: node tools/templates/check-bpmn.mjs [FILE.bpmn ...]

import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';

import { feelSyntaxError } from './lib/feel.mjs';
import { activeProperties, bindingKey, defaultValue, loadTemplates, repoRoot } from './lib/templates.mjs';

const require = createRequire(import.meta.url);
const { BpmnModdle } = require('bpmn-moddle');
const { Linter } = require('bpmnlint');
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver');
const zeebeSchema = require('zeebe-bpmn-moddle/resources/zeebe.json');
const modelerSchema = require('modeler-moddle/resources/modeler.json');

const lintConfig = {
  extends: [ 'bpmnlint:recommended', 'plugin:camunda-compat/camunda-cloud-8-5' ],
  rules: {
    // A merge gateway in front of the polled task has no name; names on joins are noise.
    'bpmnlint/label-required': 'off'
  }
};

const headerExpressions = new Set([ 'resultExpression', 'errorExpression' ]);

function bpmnFiles(args) {
  if (args.length) {
    return args.map((f) => resolve(f));
  }
  const dir = join(repoRoot, 'examples');
  return readdirSync(dir).filter((n) => n.endsWith('.bpmn')).sort().map((n) => join(dir, n));
}

function extension(el, type) {
  const values = (el.extensionElements && el.extensionElements.values) || [];
  return values.find((v) => v.$type === type);
}

function walk(el, visit) {
  visit(el);
  for (const child of el.flowElements || []) {
    walk(child, visit);
  }
}

// What a task carries, by binding key ("input:url" -> source, "header:resultExpression" -> value).
function carried(el) {
  const out = new Map();
  const dupes = [];
  const put = (k, v) => {
    if (out.has(k)) {
      dupes.push(k);
    }
    out.set(k, v);
  };
  const td = extension(el, 'zeebe:TaskDefinition');
  if (td) {
    if (td.type !== undefined) put('taskDefinition:type', td.type);
    if (td.retries !== undefined) put('taskDefinition:retries', td.retries);
  }
  const io = extension(el, 'zeebe:IoMapping');
  for (const i of (io && io.inputParameters) || []) put(`input:${i.target}`, i.source);
  for (const o of (io && io.outputParameters) || []) put(`output:${o.source}`, o.target);
  const hs = extension(el, 'zeebe:TaskHeaders');
  for (const h of (hs && hs.values) || []) put(`header:${h.key}`, h.value);
  const ps = extension(el, 'zeebe:Properties');
  for (const p of (ps && ps.properties) || []) put(`property:${p.name}`, p.value);
  return { values: out, dupes };
}

function conformance(el, template) {
  const errors = [];
  const { values, dupes } = carried(el);
  for (const d of dupes) {
    errors.push(`${d} is set twice`);
  }
  const valueOf = (p) => values.get(bindingKey(p));
  const active = activeProperties(template, valueOf);
  const bound = new Set(active.map(bindingKey));
  const icon = template.icon && template.icon.contents;
  if ((el.modelerTemplateIcon || undefined) !== (icon || undefined)) {
    errors.push(icon ? 'zeebe:modelerTemplateIcon differs from the template icon' : 'zeebe:modelerTemplateIcon set but the template has no icon');
  }
  for (const p of active) {
    const k = bindingKey(p);
    const v = values.get(k);
    const name = p.label ? `"${p.label}" (${k})` : k;
    if (p.type === 'Hidden') {
      const want = defaultValue(p);
      if (want !== undefined && v !== want && !(p.optional && v === undefined)) {
        errors.push(`${name}: Hidden value must be ${JSON.stringify(want)}, is ${JSON.stringify(v)}`);
      }
      continue;
    }
    const empty = v === undefined || v === '';
    if (empty) {
      if (!p.optional && !k.startsWith('header:') && p.constraints && p.constraints.notEmpty) {
        errors.push(`${name}: required, has no value`);
      }
      continue;
    }
    if (p.type === 'Dropdown' && !p.choices.some((c) => c.value === v)) {
      errors.push(`${name}: ${JSON.stringify(v)} is not one of the dropdown choices`);
    }
    if (p.feel === 'required' && !String(v).startsWith('=')) {
      errors.push(`${name}: must be a FEEL expression (start with "=")`);
    }
    const pattern = p.constraints && p.constraints.pattern;
    if (pattern) {
      const re = new RegExp(typeof pattern === 'string' ? pattern : pattern.value);
      if (!re.test(String(v))) {
        errors.push(`${name}: ${JSON.stringify(v)} does not match ${re}`);
      }
    }
  }
  for (const [ k, v ] of values) {
    if (!bound.has(k) && !(k === 'taskDefinition:retries' && template.properties.every((p) => bindingKey(p) !== k))) {
      errors.push(`${k} = ${JSON.stringify(v)} is not bound by the template (under its conditions)`);
    }
  }
  return errors;
}

const files = bpmnFiles(process.argv.slice(2));
if (!files.length) {
  console.error('check-bpmn: no examples/*.bpmn found');
  process.exit(2);
}

const templates = loadTemplates();

let passed = 0;
let failed = 0;
for (const file of files) {
  const name = relative(process.cwd(), file) || file;
  const errors = [];
  const moddle = new BpmnModdle({ zeebe: zeebeSchema, modeler: modelerSchema });
  let root;
  try {
    const res = await moddle.fromXML(readFileSync(file, 'utf8'));
    root = res.rootElement;
    for (const w of res.warnings) {
      errors.push(`parse: ${w.message}`);
    }
  } catch (err) {
    errors.push(`parse: ${err.message}`);
  }
  const processIds = [];
  if (root) {
    // A fresh linter per file: some rules keep state between runs (no-duplicate-sequence-flows).
    const linter = new Linter({ config: lintConfig, resolver: new NodeResolver({ require }) });
    const reports = await linter.lint(root);
    for (const [ rule, list ] of Object.entries(reports)) {
      for (const r of list) {
        errors.push(`lint ${rule} (${r.category}): ${r.id || ''} ${r.message}`);
      }
    }
    for (const proc of root.rootElements.filter((e) => e.$type === 'bpmn:Process')) {
      processIds.push(proc.id);
      walk(proc, (el) => {
        const hs = extension(el, 'zeebe:TaskHeaders');
        for (const h of (hs && hs.values) || []) {
          if (headerExpressions.has(h.key) && typeof h.value === 'string' && h.value.startsWith('=')) {
            const e = feelSyntaxError(h.value.slice(1));
            if (e) {
              errors.push(`${el.id}: header ${h.key} is not valid FEEL: ${e}`);
            }
          }
        }
        if (el.modelerTemplate) {
          const key = `${el.modelerTemplate}@${el.modelerTemplateVersion ?? ''}`;
          const t = templates.get(key);
          if (!t) {
            errors.push(`${el.id}: unknown element template ${key}`);
          } else {
            for (const e of conformance(el, t)) {
              errors.push(`${el.id} [${key}]: ${e}`);
            }
          }
        }
      });
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
    console.log(`ok   ${name} (process ${processIds.join(', ')})`);
  }
}
console.log(`bpmn examples: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
