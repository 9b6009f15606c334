// FEEL syntax check with the grammar Camunda Modeler uses (@bpmn-io/lezer-feel, Camunda
// dialect): a syntax check only, names and functions are not resolved.
import { parser } from '@bpmn-io/lezer-feel';

let camundaParser;
try {
  camundaParser = parser.configure({ dialect: 'camunda' });
} catch {
  camundaParser = parser;
}

/**
 * @param {string} expression FEEL without the leading "="
 * @return {string|null} a message naming the first syntax error's offset, or null when valid
 */
export function feelSyntaxError(expression) {
  if (!expression.trim()) {
    return 'empty expression';
  }
  const tree = camundaParser.parse(expression);
  let bad = null;
  tree.iterate({
    enter(node) {
      if (bad === null && node.type.isError) {
        bad = node.from;
      }
      return bad === null;
    }
  });
  if (bad === null) {
    return null;
  }
  const near = expression.slice(Math.max(0, bad - 15), bad + 15).replace(/\s+/g, ' ');
  return `syntax error at offset ${bad} (near "${near}")`;
}
