// Shared by build-corpus.mjs and check.mjs: evaluate a corpus case with feelin, with the
// functions feelin lacks and Camunda provides (the connector error functions and a few
// feel-scala extensions) given as custom functions, and turn the result into the plain JSON
// value pa-connector produces (temporal values as FEEL's string(), keys sorted).
import { evaluate } from '@bpmn-io/feelin';


function durationString(d) {
  if (d === null || d === undefined) return 'PT0S';
  if (typeof d === 'string') return d;
  return evaluate('string(d)', { d }).value;
}

// Camunda connector functions: same result contexts as expr/functions.go.
export const customFunctions = {
  bpmnError: function (code, message, variables) {
    const out = { errorType: 'bpmnError', code, message };
    if (variables !== null && variables !== undefined) out.variables = variables;
    return out;
  },
  jobError: function (message, variables, retries, retryBackoff) {
    const out = { errorType: 'jobError', message, retries: 0, retryBackoff: 'PT0S' };
    if (variables !== null && variables !== undefined) out.variables = variables;
    if (retries !== null && retries !== undefined) out.retries = retries;
    if (retryBackoff !== null && retryBackoff !== undefined) out.retryBackoff = durationString(retryBackoff);
    return out;
  },
  ignoreError: function (variables) {
    const out = { errorType: 'ignoreError' };
    if (variables !== null && variables !== undefined) out.variables = variables;
    return out;
  },
  // feel-scala extensions feelin does not have, with feel-scala's documented behaviour:
  // https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-boolean/
  'is defined': function (value) {
    return value !== null && value !== undefined;
  },
  'get or else': function (value, defaultValue) {
    return value === null || value === undefined ? defaultValue : value;
  },
  // https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-string/
  trim: function (string) {
    return typeof string === 'string' ? string.trim() : null;
  },
  // https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-context/
  'put all': function (...contexts) {
    const list = contexts.length === 1 && Array.isArray(contexts[0]) ? contexts[0] : contexts;
    if (!list.every(c => c && typeof c === 'object' && !Array.isArray(c))) return null;
    return Object.assign({}, ...list);
  },
};

function isTemporal(v) {
  return v && typeof v === 'object' && (v.isLuxonDateTime || v.isLuxonDuration ||
    ['DateTime', 'Duration', 'Range'].includes(v.constructor && v.constructor.name));
}

export function toPlain(v) {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(toPlain);
  if (isTemporal(v)) return evaluate('string(v)', { v }).value;
  if (typeof v === 'function' || (v.constructor && v.constructor.name === 'FunctionWrapper')) return null;
  if (typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = toPlain(v[k]);
    return out;
  }
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  return v;
}

// feel evaluates a case's expression ("=..." as modelers write it) over its context.
export function feel(expression, context) {
  const src = expression.replace(/^\s*=/, '');
  const { value, warnings } = evaluate(src, { ...customFunctions, ...(context || {}) });
  return { value: toPlain(value), warnings: warnings.map(w => w.message) };
}

// canonical JSON for comparing plain values (keys sorted).
export function canon(v) {
  return JSON.stringify(toPlain(v));
}
