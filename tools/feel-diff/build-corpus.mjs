// Builds expr/testdata/feel_corpus.json: every FEEL expression of Camunda's element templates
// (npm @camunda/connectors-element-templates) plus the cases of cases.mjs, each with the value
// feelin computes (or the stored feel-scala value of an override, or an expected compile
// error). Run: node tools/feel-diff/build-corpus.mjs   (then verify: node tools/feel-diff/check.mjs)
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { feel } from './feel.mjs';
import { docCases, generatedCases, overrideCases, numberOverrides, errorCases, templateOverrides, templateErrors, feelScalaOverrides } from './cases.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const templatesPkg = dirname(require.resolve('@camunda/connectors-element-templates/package.json'));
const templatesVersion = JSON.parse(readFileSync(join(templatesPkg, 'package.json'), 'utf8')).version;
const templatesDir = join(templatesPkg, 'src', 'element-templates');

// templateExpressions returns each distinct "=..." string of the templates with where it was
// first seen (file and property id/label or key).
export function templateExpressions() {
  const found = new Map();
  for (const file of readdirSync(templatesDir).filter(f => f.endsWith('.json')).sort()) {
    const walk = (node, where) => {
      if (Array.isArray(node)) { node.forEach(n => walk(n, where)); return; }
      if (!node || typeof node !== 'object') return;
      const here = node.id || (node.binding && (node.binding.key || node.binding.name)) || node.label || where;
      for (const [k, v] of Object.entries(node)) {
        if (typeof v === 'string' && /^\s*=/.test(v) && !found.has(v)) found.set(v, `${file} ${here} (${k})`);
        else walk(v, here);
      }
    };
    walk(JSON.parse(readFileSync(join(templatesDir, file), 'utf8')), file);
  }
  return found;
}

const KEYWORDS = new Set(['if', 'then', 'else', 'for', 'in', 'return', 'some', 'every', 'satisfies', 'and', 'or',
  'between', 'instance', 'of', 'function', 'null', 'true', 'false', 'item', 'not']);

// autoContext gives every free name (and path) of an expression a value, so that template
// expressions are also compared on something other than nulls: a path a.b.c becomes
// {a: {b: {c: "c-value"}}}, a plain name a string.
function autoContext(src) {
  const body = src.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\/\/[^\n]*/g, '').replace(/`[^`]*`/g, 'x');
  const ctx = {};
  const re = /(?<![\w.])([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*)(?!\s*[(:\w])/g;
  for (const m of body.matchAll(re)) {
    const name = m[1];
    if (KEYWORDS.has(name)) continue;
    const path = [name, ...(m[2] ? m[2].slice(1).split('.') : [])];
    let node = ctx;
    path.forEach((k, i) => {
      if (i === path.length - 1) {
        if (!(k in node)) node[k] = `${k}-value`;
      } else {
        if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
        node = node[k];
      }
    });
  }
  return ctx;
}

const cases = [];
for (const [expression, where] of templateExpressions()) {
  const te = templateErrors.find(t => expression.includes(t.match));
  if (te) {
    cases.push({ expression, context: {}, expectError: te.expectError, source: `element template ${where}, @camunda/connectors-element-templates@${templatesVersion}` });
    continue;
  }
  const source = `element template ${where}, @camunda/connectors-element-templates@${templatesVersion}`;
  cases.push({ expression, context: {}, source });
  const auto = autoContext(expression);
  if (Object.keys(auto).length > 0) cases.push({ expression, context: auto, source: source + ', generated context' });
}
cases.push(...docCases, ...generatedCases);

const out = [];
for (const c of cases) {
  if (c.expectError) { out.push(c); continue; }
  let r;
  try {
    r = feel(c.expression, c.context);
  } catch (e) {
    const o = templateOverrides.find(t => c.expression.includes(t.match));
    if (o) {
      out.push({ ...c, expected: o.expected(c.context, c.expression), override: o.override });
    } else {
      console.log(`feelin cannot evaluate case (add it to overrideCases or errorCases): ${c.expression.slice(0, 120)}: ${e.message}`);
    }
    continue;
  }
  const n = numberOverrides.find(o => o.expression === c.expression) ??
    feelScalaOverrides.find(o => o.expression === c.expression && JSON.stringify(o.context) === JSON.stringify(c.context));
  if (n) { out.push({ ...c, expected: n.expected, override: n.override }); continue; }
  const nondeterministic = /\b(now|today)\s*\(/.test(c.expression) && !/[<>]/.test(c.expression) && !/is defined/.test(c.expression);
  out.push({ ...c, expected: nondeterministic ? null : r.value, ...(nondeterministic ? { nondeterministic: true } : {}) });
}
for (const c of overrideCases) out.push({ source: 'generated: feel-scala override', ...c });
for (const c of errorCases) out.push(c);

out.forEach((c, i) => { c.id = i + 1; });
const ordered = out.map(({ id, expression, context, expected, expectError, override, nondeterministic, source }) =>
  ({ id, expression, context, ...(expectError ? { expectError } : { expected }), ...(override ? { override } : {}), ...(nondeterministic ? { nondeterministic } : {}), source }));
const file = join(here, '..', '..', 'expr', 'testdata', 'feel_corpus.json');
writeFileSync(file, JSON.stringify({
  about: 'FEEL differential corpus: expected values computed by @bpmn-io/feelin (see tools/feel-diff), except overrides (feel-scala) and expectError (refused at compile time). Regenerate: node tools/feel-diff/build-corpus.mjs; verify: node tools/feel-diff/check.mjs',
  cases: ordered,
}, null, 1) + '\n');
console.log(`wrote ${ordered.length} cases to ${file}`);
