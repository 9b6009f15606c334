// Verifies expr/testdata/feel_corpus.json against @bpmn-io/feelin: every stored expectation
// must equal what feelin computes now, except overrides (feel-scala differs from feelin; they
// are listed, not compared) and expected compile errors (pa-connector refuses the construct).
// Exits 1 on any mismatch. Run from the repository root or anywhere:
//   npm ci --prefix tools/feel-diff && node tools/feel-diff/check.mjs
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { feel, canon } from './feel.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const corpus = JSON.parse(readFileSync(join(here, '..', '..', 'expr', 'testdata', 'feel_corpus.json'), 'utf8'));

let passed = 0, failed = 0, overrides = 0, errors = 0, nondeterministic = 0;
for (const c of corpus.cases) {
  if (c.expectError) { errors++; continue; }
  let got;
  try {
    got = feel(c.expression, c.context);
  } catch (e) {
    got = { value: `feelin threw: ${e.message}` };
  }
  if (c.nondeterministic) { nondeterministic++; continue; }
  if (c.override) {
    overrides++;
    if (canon(got.value) === canon(c.expected)) console.log(`note: case ${c.id} is an override but feelin now agrees: ${c.expression}`);
    continue;
  }
  if (canon(got.value) === canon(c.expected)) { passed++; continue; }
  failed++;
  console.log(`MISMATCH case ${c.id}: ${c.expression}\n  context:  ${JSON.stringify(c.context)}\n  stored:   ${canon(c.expected)}\n  feelin:   ${canon(got.value)}`);
}
console.log(`feel-diff: ${corpus.cases.length} cases; ${overrides} feel-scala overrides, ${errors} expected compile errors, ${nondeterministic} time-dependent (not compared)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
