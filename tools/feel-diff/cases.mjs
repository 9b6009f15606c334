// Hand-written and generated corpus cases around each supported FEEL construct, plus examples
// from Camunda's connector docs. build-corpus.mjs adds the element-template expressions and
// computes every expectation with feelin, except where a case carries `override` (feel-scala,
// Camunda's engine, differs from feelin on a documented point: the stored `expected` is
// feel-scala's) or `expectError` (pa-connector refuses the construct at compile time).

const CTX = {
  response: {
    status: 200, statusName: 'Succeeded',
    headers: { 'content-type': 'application/json', 'x-request-id': 'r-1' },
    body: {
      flowsessionId: '9f2c-11', statuscode: 4, statecode: 0, outputs: { total: 12.5, items: 3 },
      list: [{ status: 'New', id: 'w-1' }, { status: 'Done', id: 'w-2' }],
    },
  },
  error: { code: '503', message: 'Service Unavailable', type: 'HTTP' },
  orders: [{ id: 'a', qty: 1, price: 2.5 }, { id: 'b', qty: 3, price: 10 }, { id: 'c', qty: 2, price: 0.1 }],
  xs: [3, 1, 2], names: ['Ann', 'bob', 'Cy'], empty: [], nested: [[1, 2], [3, [4]]],
  s: 'Hello World', n: null, t: true, f: false, i: 7, d: 2.5, neg: -3,
  job: { retries: 3 },
};

const docs = 'Camunda connector docs (error handling: bpmnError/jobError examples) https://docs.camunda.io/docs/components/connectors/use-connectors/#bpmn-errors';
const errCtx = (code, message) => ({ error: { code, message }, job: { retries: 3 }, response: { status: Number(code) || 0, body: { message } } });

export const docCases = [
  ['=if error.code = "404" then bpmnError("NOT_FOUND", "Resource not found") else null', errCtx('404', 'x')],
  ['=if error.code = "404" then bpmnError("NOT_FOUND", "Resource not found") else null', errCtx('500', 'x')],
  ['=if matches(error.code, "5\\d\\d") then jobError("Server error: " + error.message, {}, job.retries - 1, @"PT30S") else null', errCtx('503', 'busy')],
  ['=if matches(error.code, "5\\d\\d") then jobError("Server error: " + error.message, {}, job.retries - 1, @"PT30S") else null', errCtx('400', 'bad')],
  ['=if error.code = "503" then jobError("Retry later", {}, job.retries - 1, duration("PT1M")) else bpmnError("FAILED", error.message)', errCtx('503', 'busy')],
  ['=if error.code = "503" then jobError("Retry later", {}, job.retries - 1, duration("PT1M")) else bpmnError("FAILED", error.message)', errCtx('418', 'teapot')],
  ['=if error.code = "409" then ignoreError({conflict: true}) else null', errCtx('409', 'exists')],
  ['=if error.code = "409" then ignoreError() else null', errCtx('409', 'exists')],
  ['=if starts with(error.code, "4") then bpmnError("CLIENT_" + error.code, error.message, {detail: error.message}) else null', errCtx('422', 'invalid')],
  ['=if contains(error.message, "timeout") then jobError("timeout", {}, 3) else null', errCtx('500', 'gateway timeout')],
  ['=if error.code = "NO_OUTPUT" then bpmnError("NO_OUTPUT", "The flow returned no outputs") else if error.code = "429" then jobError("throttled", {}, job.retries, @"PT2M") else null', errCtx('429', '')],
  ['=if response.body.message = "not found" then bpmnError("NOT_FOUND", response.body.message) else {}', errCtx('404', 'not found')],
  ['=if response.status >= 500 then jobError("upstream " + string(response.status)) else null', errCtx('502', 'x')],
  ['={statusCode: response.status, message: response.body.message}', errCtx('200', 'ok')],
  ['=bpmnError(code: "E1", message: "named")', {}],
  ['=jobError(message: "named", retries: 2)', {}],
].map(([expression, context]) => ({ expression, context, source: docs }));

const gen = (construct, list, context = CTX) => list.map(e => Array.isArray(e)
  ? { expression: e[0], context: e[1] ?? context, source: `generated: ${construct}` }
  : { expression: e, context, source: `generated: ${construct}` });

export const generatedCases = [
  ...gen('context literals and nesting', [
    '={statusCode: response.body.statuscode, name: response.statusName}',
    '={a: 1, "b c": "x", "d.e": {f: [1, {g: null}]}}',
    '={outer: {inner: {deepest: s}}}',
    '={}',
    '={ }',
    '={a: 1, b: a + 1, c: b * 2}',
    '={a: 1, b: {c: a}}.b.c',
    '={x: 1}.x',
    
    '={a: 1, a2: [a, a]}',
  ]),
  ...gen('paths and null propagation', [
    '=response.body.flowsessionId', '=response.body.outputs.total', '=response.body.missing', '=response.body.missing.deeper', '=missing', '=missing.x', '=n.x', '=s.length',
    '=response.body.list.status', '=response.body.list.id', '=orders.qty', '=[{a: 1}, {b: 2}].a', '=xs.a',
    '=response.body.list[1].status', '=response.body.list[-1].id',
  ]),
  ...gen('if then else', [
    '=if t then "yes" else "no"', '=if f then "yes" else "no"', '=if n then "yes" else "no"', '=if i > 5 then if i > 6 then "big" else "mid" else "small"', '=if response.status = 200 then response.body.statuscode else null',
    '="a" + (if t then "b" else "c")', '=if missing = null then "absent" else "present"',
  ]),
  ...gen('comparisons', [
    '=1 = 1', '=1 = 1.0', '=1 != 2', '="a" = "a"', '="a" != "b"', '=t = true', '=n = null', '=missing = null', '=null != null', '=1 = null',
    '=1 < 2', '=2 <= 2', '=3 > 2.5', '=2 >= 3', '="a" < "b"', '="B" < "a"', '=[1, 2] = [1, 2]', '=[1, 2] = [2, 1]', '={a: 1} = {a: 1}', '={a: 1} = {a: 2}',
    '=1 = "1"', '=true = 1', '=null < 1', '=n > 1', '=date("2024-01-01") < date("2024-02-01")', '=date("2024-01-01") = date("2024-01-01")',
    '=duration("PT1H") > duration("PT30M")', '=duration("P1D") = duration("PT24H")',
  ]),
  ...gen('between', ['=5 between 1 and 10', '=1 between 1 and 10', '=11 between 1 and 10', '="b" between "a" and "c"', '=n between 1 and 2', '=i between xs[2] and 10']),
  ...gen('in with lists, ranges and unary tests', [
    '=2 in [1, 2, 3]', '=4 in [1, 2, 3]', '="b" in ["a", "b"]', '=5 in [1..10]', '=10 in [1..10)', '=1 in (1..10]', '=5 in (> 3, < 1)',
    '=0 in (> 3, < 1)', '=5 in < 10', '=5 in >= 5', '=5 in (5)', '=5 in [4, [1..5]]', '="x" in ("a", "x")', '=null in [null]', '=1 in null',
    '=i in (1..i]', '=date("2024-05-01") in [date("2024-01-01")..date("2024-12-31")]', '=2.5 in [2..3]', '="m" in ["a".."z"]',
    '=error.code in ["500", "503"]',
  ]),
  ...gen('and, or (three-valued), not()', [
    '=true and true', '=true and false', '=true and null', '=false and null', '=null and null', '=true or false', '=false or null',
    '=true or null', '=null or null', '=not(true)', '=not(false)', '=not(null)', '=not(1)', '=t and i > 5 and s != null',
    '=f or n = null', '=1 and true', '=missing and true', '=not(i > 5)',
  ]),
  ...gen('string concatenation', [
    '="a" + "b"', '=s + "!"', '="x" + n', '="n: " + string(i)', '="a" + 1', '="" + ""', '=s + " " + s',
  ]),
  ...gen('arithmetic', [
    '=1 + 2', '=10 - 3', '=4 * 2.5', '=7 / 2', '=6 / 3', '=2 ** 3', '=2 ** 0.5', '=-i', '=- -1', '=1 + n', '=i / 0', '=d * 2',
    '=1 - 2 - 3', '=2 * 3 + 4 * 5', '=(1 + 2) * 3', '=10 ** -1', '=-2 ** 2', '=i + 0.5', '=1.5 + 1.5', '=100 * 1.1', '=9007199254740993 - 1',
  ]),
  ...gen('lists and indexing', [
    '=[1, 2, 3][1]', '=[1, 2, 3][3]', '=[1, 2, 3][-1]', '=[1, 2, 3][-3]', '=[1, 2, 3][0]', '=[1, 2, 3][4]', '=xs[i - 5]', '=[]', '=[[1], [2, 3]][2][1]',
    '=[n, 1]', '=orders[2].id', '=xs[count(xs)]', '=empty[1]',
  ]),
  ...gen('filters', [
    '=xs[item > 1]', '=xs[item > 10]', '=orders[qty > 1]', '=orders[qty > 1].id', '=orders[item.qty > 1].id', '=orders[id = "b"][1].price',
    '=[1, 2, 3, 4][modulo(item, 2) = 0]', '=[{a: 1}, {b: 2}][a < 10]', '=xs[item != 2]', 
    '=orders[qty > 1 and price > 5].id', '=n[item > 1]', '=5[item > 1]', '=response.body.list[status = "Done"].id', '=orders[qty >= i]',
    '=[1, null, 3][item != null]',
  ]),
  ...gen('for, some, every', [
    '=for x in xs return x * 2', '=for o in orders return o.id + ":" + string(o.qty)', '=for i in 1..3 return i', '=for i in [1, 2], j in [10, 20] return i * j',
    '=for x in [] return x', '=for x in xs return if x > 1 then x else null', '=for o in orders return {id: o.id, total: o.qty * o.price}',
    '=some x in xs satisfies x > 2', '=some x in xs satisfies x > 3', '=every x in xs satisfies x > 0', '=every x in xs satisfies x > 1',
    '=some o in orders satisfies o.id = "c"', '=every x in [] satisfies x > 1', '=some x in [] satisfies x > 1', '=some x in [null, false] satisfies x',
    '=every x in [true, null] satisfies x', '=some x in [1, 2], y in [2, 3] satisfies x = y', '=for i in 3..1 return i',
    '=for x in xs return for y in [1, 2] return x * y', '=sum(for o in orders return o.qty)',
  ]),
  ...gen('function literals and sort', [
    '=sort(xs, function(a, b) a < b)', '=sort(xs, function(a, b) a > b)', '=sort(names, function(x, y) lower case(x) < lower case(y))',
    '=sort(orders, function(a, b) a.price > b.price).id', '=(sort(xs, function(a, b) a < b))[1]', '={double: function(x) x * 2, r: double(i)}.r',
    '={add: function(a, b) a + b}.add != null', '=sort([], function(a, b) a < b)',
  ]),
  ...gen('string functions', [
    '=string(1)', '=string(1.5)', '=string(true)', '=string("a")', '=string([1, "a"])', '=string(date("2024-01-02"))',
    '=substring("foobar", 3)', '=substring("foobar", 3, 3)', '=substring("foobar", -2, 1)', '=substring(s, 1, 5)',
    '=substring(string: "foobar", start position: 2)', '=substring(string: "foobar", start position: 2, length: 2)',
    '=string length("foo")', '=string length("")', '=string length(n)', '=string length(string: s)',
    '=upper case("aBc")', '=lower case("aBc")', '=upper case(n)', '=upper case(1)',
    '=contains("foobar", "ob")', '=contains(s, "x")', '=contains(string: "abc", match: "c")', '=starts with("foobar", "fo")', '=starts with(s, "World")',
    '=ends with("foobar", "r")', '=ends with(s, "World")', '=matches("foobar", "^fo*b")', '=matches("500", "5\\d\\d")', '=matches("Abc", "abc", "i")',
    '=matches(error.code, "^5")', '=replace("abcd", "(ab)|(a)", "[1=$1][2=$2]")', '=replace("a.b.c", "\\.", "/")', '=replace(s, "o", "0")',
    '=replace("Hello", "l+", "L")', '=split("a,b,c", ",")', '=split("John Doe", "\\s")', '=split("a;b;;", ";")', '=split(s, " ")[2]',
    '=string join(["a", "b", "c"], ", ")', '=string join(["a", null, "c"], "-")', '=string join(names)', '=string join([], ",")',
    '=trim("  padded  ")', '=trim(n)', '=substring before("foobar", "bar")', '=substring before("foobar", "x")',
    '=substring after("foobar", "ob")', '=substring after("foobar", "")', '=substring after(error.message, " ")',
  ]),
  ...gen('number functions', [
    '=number("12")', '=number("1.5")', '=number("-3")', '=number("abc")', '=number(n)', '=number("1,000.5", ",", ".")', '=number("1.000,5", ".", ",")',
    '=decimal(1/3, 2)', '=decimal(1.5, 0)', '=decimal(2.5, 0)', '=decimal(-2.5, 0)', '=decimal(2.675, 2)', '=decimal(d, 0)',
    '=floor(1.5)', '=floor(-1.5)', '=floor(1.56, 1)', '=ceiling(1.5)', '=ceiling(-1.5)', '=ceiling(1.51, 1)', '=abs(-1.5)', '=abs(neg)', '=abs(n)',
    '=modulo(12, 5)', '=modulo(-12, 5)', '=modulo(12, -5)', '=modulo(10.1, 4.5)', '=modulo(1, 0)',
    '=round up(5.5, 0)', '=round up(-5.5, 0)', '=round up(1.121, 2)', '=round down(5.5, 0)', '=round down(-5.5, 0)', '=round down(1.129, 2)',
    '=round half up(5.5, 0)', '=round half up(-5.5, 0)', '=round half up(1.125, 2)', '=round half down(5.5, 0)', '=round half down(-5.5, 0)', '=round half down(1.126, 2)',
    '=sqrt(16)', '=odd(5)', '=even(5)', '=exp(0)', '=log(1)',
  ]),
  ...gen('list functions', [
    '=list contains(xs, 2)', '=list contains(xs, 5)', '=list contains([1, null], null)', '=count(xs)', '=count([])', '=count(n)',
    '=min(xs)', '=min(1, 2, 3)', '=min([])', '=max(xs)', '=sum(xs)', '=sum([1.5, 2.5])', '=sum([])', '=sum(1, 2)',
    '=mean(xs)', '=mean([1, 2])', '=mean([])', '=all([true, true])', '=all([true, false])', '=all([])', '=any([false, true])', '=any([])',
    '=append(xs, 4)', '=append([], 1, 2)', '=append(xs, [4])', '=concatenate(xs, [4, 5])', '=concatenate([1], [], [2])',
    '=index of([1, 2, 3, 2], 2)', '=index of(xs, 9)', '=distinct values([1, 2, 3, 2, 1])', '=distinct values(["a", "a", 1])',
    '=reverse(xs)', '=reverse([])', '=flatten(nested)', '=flatten([1, [2], [[3]]])',
    '=sublist([4, 5, 6], 1, 2)', '=sublist([4, 5, 6], 2)', '=sublist([4, 5, 6], -1)', '=remove(xs, 2)', '=insert before(xs, 1, 0)',
    '=insert before(xs, 3, 9)', '=product([2, 3, 4])', '=median([3, 1, 2])', '=union([1, 2], [2, 3])',
  ]),
  ...gen('context functions', [
    '=get value({a: 1}, "a")', '=get value({a: 1}, "b")', '=get value(response.body, "statuscode")', '=get entries({a: 1, b: "x"})', '=get entries({})',
    '=context put({a: 1}, "b", 2)', '=context put({a: 1}, "a", 2)', '=context put({a: {b: 1}}, ["a", "c"], 2)', '=context merge([{a: 1}, {b: 2}])',
    '=context merge([{a: 1}, {a: 2, c: 3}])', '=context([{key: "a", value: 1}, {key: "b", value: [1]}])', '=put all({a: 1}, {b: 2})',
    '=for e in get entries({a: 1, b: 2}) return e.key', '=context(for e in get entries({a: 1, b: 2}) return {key: upper case(e.key), value: e.value * 10})',
    '=is defined(s)', '=is defined(missing)', '=is defined(n)', '=is defined(response.body.statuscode)', '=is defined(response.body.nope)',
    '=get or else(n, "default")', '=get or else(s, "default")',
  ]),
  ...gen('temporal values', [
    '=date("2024-01-02")', '=date(2024, 1, 2)', '=date("2024-02-30")', '=date and time("2024-01-02T10:11:12Z")', '=date and time("2024-01-02T10:11:12+02:00")',
    '=date and time("2024-01-02T10:11:12")', '=time("10:11:12")', '=duration("P1DT2H")', '=duration("PT90M")', '=duration("P14M")', '=duration("P1Y")',
    '=@"2024-01-02"', '=@"PT30S"', '=@"2024-01-02T10:00:00Z"', '=date("2024-01-31") + duration("P1M")', '=date("2024-01-01") + duration("P1D")',
    '=date("2024-03-01") - date("2024-02-01")', '=date and time("2024-01-02T10:00:00Z") + duration("PT1H")', '=duration("PT1H") + duration("PT30M")',
    '=date("2024-01-02").year', '=date("2024-01-02").month', '=date("2024-01-02").day', '=date("2024-01-02").weekday',
    '=date and time("2024-01-02T10:11:12Z").hour', '=duration("P1DT2H").hours', '=duration("P1DT2H").days', '={when: date("2024-01-02"), wait: duration("PT5M")}', '=string(duration("PT90M"))', '=date(date and time("2024-01-02T10:11:12Z"))',
    '=years and months duration(date("2020-01-01"), date("2021-03-01"))', '=now() > date and time("2020-01-01T00:00:00Z")',
    '=today() > date("2020-01-01")', '=is defined(now())',
  ]),
  ...gen('names with spaces and named parameters', [
    '=string length(upper case(s))', '=date and time(date("2024-01-02"), time("10:00:00"))', '=substring(string: s, start position: 7)',
    '=starts with(string: s, match: "He")', '=list contains(list: xs, element: 1)', '=index of(list: xs, match: 1)', '=string join(list: names, delimiter: "/")',
    '=decimal(n: 1.25, scale: 1)', '=context put(context: {}, key: "k", value: 1)',
  ]),
  ...gen('comments and layout', [
    '={\n  // a line comment\n  a: 1, /* a block comment */\n  b: 2\n}', '=\n  if t\n  then 1\n  else 2\n',
  ]),
];

// feel-scala (Camunda's engine) differs from feelin on these documented points; the stored
// expectation is feel-scala's.
export const overrideCases = [
  {
    expression: '=1 < "a"', context: {}, expected: null,
    override: 'feel-scala: comparing values of different types gives null (feelin: false) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-error-handling/',
  },
  {
    expression: '="a" > 1', context: {}, expected: null,
    override: 'feel-scala: comparing values of different types gives null (feelin: false) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-error-handling/',
  },
  {
    expression: '=0.1 + 0.2', context: {}, expected: 0.3,
    override: 'feel-scala: numbers are decimals, 0.1 + 0.2 = 0.3 (feelin: JavaScript float 0.30000000000000004) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-data-types/#number',
  },
  {
    expression: '=0.1 * 3', context: {}, expected: 0.3,
    override: 'feel-scala: numbers are decimals (feelin: 0.30000000000000004) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-data-types/#number',
  },
  {
    expression: '=0.1 + 0.2 = 0.3', context: {}, expected: true,
    override: 'feel-scala: numbers are decimals (feelin: false) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-data-types/#number',
  },
  {
    expression: '=sum([0.1, 0.2])', context: {}, expected: 0.3,
    override: 'feel-scala: numbers are decimals (feelin: 0.30000000000000004) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-data-types/#number',
  },
  {
    expression: '=get value({a: {b: 1}}, ["a", "b"])', context: {}, expected: 1,
    override: 'feel-scala: get value(context, keys) follows a path of keys (feelin: null) https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-context/',
  },
  {
    expression: '=string join(["a", "b"], ", ", "[", "]")', context: {}, expected: '[a, b]',
    override: 'feel-scala: string join(list, delimiter, prefix, suffix) (feelin: null, no 4-argument form) https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-string/',
  },
  {
    expression: '=max("a", "c", "b")', context: {}, expected: 'c',
    override: 'feel-scala: min/max take any comparable values (feelin: null for strings) https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-list/',
  },
  {
    expression: '=duration("PT1H") * 2', context: {}, expected: 'PT2H',
    override: 'feel-scala: a duration times a number is a duration (feelin: null) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-temporal-expressions/',
  },
  {
    expression: '=duration("P14M").years', context: {}, expected: 1,
    override: 'feel-scala: a years-and-months duration has the properties years and months (feelin: 0) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-temporal-expressions/',
  },
  {
    expression: '=get value(context: {a: 1}, key: "a")', context: {}, expected: 1,
    override: 'feel-scala: named parameters of get value are context and key (feelin: null) https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-context/',
  },
  {
    expression: '=[1, 2, 3, 4][even(item)]', context: {}, expected: [2, 4],
    override: 'feel-scala: the filter item is visible in function arguments (feelin: []) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-list-expressions/#filter',
  },
  {
    expression: '=["Ann", "bob", "Cy"][starts with(item, "C")]', context: {}, expected: ['Cy'],
    override: 'feel-scala: the filter item is visible in function arguments (feelin: []) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-list-expressions/#filter',
  },
  {
    expression: '={"quoted key": 1}.`quoted key`', context: {}, expected: 1,
    override: 'feel-scala: backticks escape a name in a path (feelin cannot parse them) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-variables/#escape-names-with-backticks',
  },
  {
    expression: '=response.headers.`content-type`', context: { response: { headers: { 'content-type': 'application/json' } } }, expected: 'application/json',
    override: 'feel-scala: backticks escape a name in a path (feelin cannot parse them) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-variables/#escape-names-with-backticks',
  },
  {
    expression: '=1 instance of number', context: {}, expected: true,
    override: 'feel-scala: instance of checks the type (feelin: false for every type, or fails) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/#instance-of',
  },
  {
    expression: '="a" instance of number', context: {}, expected: false,
    override: 'feel-scala: instance of checks the type (feelin: false for every type, or fails) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/#instance-of',
  },
  {
    expression: '="a" instance of string', context: {}, expected: true,
    override: 'feel-scala: instance of checks the type (feelin: false for every type, or fails) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/#instance-of',
  },
  {
    expression: '=[1] instance of list', context: {}, expected: true,
    override: 'feel-scala: instance of checks the type (feelin: false for every type, or fails) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/#instance-of',
  },
  {
    expression: '={a: 1} instance of context', context: {}, expected: true,
    override: 'feel-scala: instance of checks the type (feelin: false for every type, or fails) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/#instance-of',
  },
  {
    expression: '=null instance of Null', context: {}, expected: false,
    override: 'feel-scala 1.18.1 (Zeebe 8.5, checked with tools/feel-scala): no value is an instance of Null, not even null (feelin: fails)',
  },
  {
    expression: '=date("2024-01-01") instance of date', context: {}, expected: true,
    override: 'feel-scala: instance of checks the type (feelin: false for every type, or fails) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/#instance-of',
  },
  {
    expression: '=@"PT1H" instance of days and time duration', context: {}, expected: true,
    override: 'feel-scala: instance of checks the type (feelin: false for every type, or fails) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/#instance-of',
  },
];

// Template expressions feelin cannot parse but feel-scala evaluates: the expectation is given
// here (by the expression's context) instead of computed.
export const templateErrors = [];

// Generated cases where feelin's JavaScript numbers differ from feel-scala's 34-digit decimals
// (MathContext.DECIMAL128): the stored expectation is feel-scala's, the case keeps its place.
const decimals = 'https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-data-types/#number';
export const numberOverrides = [
  { expression: '=100 * 1.1', expected: 110, override: `feel-scala: numbers are decimals, 100 * 1.1 = 110 (feelin: 110.00000000000001) ${decimals}` },
  { expression: '=9007199254740993 - 1', expected: 9007199254740992, override: `feel-scala: integers are exact beyond 2^53 (feelin: 9007199254740991) ${decimals}` },
];

export const templateOverrides = [
  {
    match: 'to json(ContentVariables)',
    override: 'feel-scala (Camunda 8.6+, feel-scala 1.19): to json() gives the JSON text of a value, null as the text null (feelin has no to json) https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-conversion/',
    expected: ctx => ({ ContentVariables: JSON.stringify(ctx.ContentVariables ?? null), ContentSid: ctx.ContentSid ?? null, From: ctx.From ?? null, To: ctx.To ?? null }),
  },
  {
    match: 'x-a2a-notification-token',
    override: 'feel-scala: backticks escape a name in a path (feelin cannot parse them) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-variables/#escape-names-with-backticks',
    expected: ctx => (ctx.request && ctx.request.body && typeof ctx.request.body.id === 'string') ? ctx.request.body.id : null,
  },
  {
    match: 'generic chat agent',
    override: 'feel-scala: a string literal may span lines, as Camunda\'s own AI agent template does (feelin rejects a newline in a string) https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-data-types/#string',
    expected: (ctx, expression) => JSON.parse(expression.replace(/^=/, '').replace(/\n/g, '\\n')),
  },
];

// pa-connector refuses some of these at compile time; others (an unknown function, arguments
// no form takes) it evaluates to null with a warning as feel-scala does, and lint reports them.
export const errorCases = [
  { expression: '=to json(x)', context: { x: { a: [1, 'b'] } }, expected: '{"a":[1,"b"]}', override: 'feel-scala (Camunda 8.6+, feel-scala 1.19): to json() gives the JSON text of a value, null as the text null (feelin has no to json) https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-conversion/' },
  { expression: '=unknownFunction(1)', context: {}, expected: null, override: 'feel-scala 1.18.1: a call no function takes is null with a NO_FUNCTION_FOUND warning (expr lint reports it)' },
  { expression: '=x instance of list<number>', context: { x: 1 }, expectError: 'unsupported construct: instance of list<...>' },
  { expression: '=substring("abc")', context: {}, expected: null, override: 'feel-scala 1.18.1: a call no function takes is null with a NO_FUNCTION_FOUND warning (expr lint reports it)' },
  { expression: '=sort([3, 1, 2])', context: {}, expected: null, override: 'feel-scala 1.18.1: a call no function takes is null with a NO_FUNCTION_FOUND warning (expr lint reports it)' },
  { expression: '={a: 1', context: {}, expectError: '1:7: expected "," but found end of expression' },
  { expression: '=response?.body', context: {}, expectError: 'looks like expr-lang' },
].map(c => ({ ...c, source: 'generated: compile errors' }));

// Where feel-scala 1.18.1 (Zeebe 8.5's engine, checked with tools/feel-scala) and feelin give
// different values for a case, feel-scala's, by expression and context (issue 14).
export const feelScalaOverrides = [
  { expression: "=context(get entries({\"messages\": if chatCompletion_messages = null then [{\"role\": chatCompletion_messageRole, \"content\": chatCompletion_messageContent}] else append(chatCompletion_messages, {\"role\": chatCompletion_messageRole, \"content\": chatCompletion_messageContent}), \"contentPart\": if chatCompletion_contentPart = null then null else chatCompletion_contentPart, \"enhancements\": if chatCompletion_enhancements = null then null else chatCompletion_enhancements, \"dataSources\": if chatCompletion_dataSources = null then null else chatCompletion_dataSources, \"temperature\": if chatCompletion_temperature = null then null else number(chatCompletion_temperature), \"n\": if chatCompletion_n = null then null else decimal(number(chatCompletion_n), 0), \"stream\": chatCompletion_stream = \"True\", \"stop\": if chatCompletion_stop = null then null else chatCompletion_stop, \"max_tokens\": if chatCompletion_maxTokens = null then null else decimal(number(chatCompletion_maxTokens), 0), \"presence_penalty\": if chatCompletion_presencePenalty = null then null else number(chatCompletion_presencePenalty), \"frequency_penalty\": if chatCompletion_frequencyPenalty = null then null else number(chatCompletion_frequencyPenalty), \"logit_bias\": if chatCompletion_logitBias = null then null else chatCompletion_logitBias, \"user\": if chatCompletion_user = null then null else chatCompletion_user, \"tools\": if chatCompletion_tools = null then null else chatCompletion_tools})[item.value != null])", context: {"chatCompletion_messages": "chatCompletion_messages-value", "chatCompletion_messageRole": "chatCompletion_messageRole-value", "chatCompletion_messageContent": "chatCompletion_messageContent-value", "chatCompletion_contentPart": "chatCompletion_contentPart-value", "chatCompletion_enhancements": "chatCompletion_enhancements-value", "chatCompletion_dataSources": "chatCompletion_dataSources-value", "chatCompletion_temperature": "chatCompletion_temperature-value", "chatCompletion_n": "chatCompletion_n-value", "chatCompletion_stream": "chatCompletion_stream-value", "chatCompletion_stop": "chatCompletion_stop-value", "chatCompletion_maxTokens": "chatCompletion_maxTokens-value", "chatCompletion_presencePenalty": "chatCompletion_presencePenalty-value", "chatCompletion_frequencyPenalty": "chatCompletion_frequencyPenalty-value", "chatCompletion_logitBias": "chatCompletion_logitBias-value", "chatCompletion_user": "chatCompletion_user-value", "chatCompletion_tools": "chatCompletion_tools-value"}, expected: {"contentPart": "chatCompletion_contentPart-value", "dataSources": "chatCompletion_dataSources-value", "enhancements": "chatCompletion_enhancements-value", "logit_bias": "chatCompletion_logitBias-value", "stop": "chatCompletion_stop-value", "stream": false, "tools": "chatCompletion_tools-value", "user": "chatCompletion_user-value"}, override: "feel-scala 1.18.1: append() of a non-list is null with a FUNCTION_INVOCATION_FAILURE warning (feelin takes the text as a list of itself)" },
  { expression: "={itemId:response.body.ids[1]}", context: {"response": {"body": {"ids": "ids-value"}}}, expected: {"itemId": null}, override: "feel-scala 1.18.1: indexing a non-list is null with an INVALID_TYPE warning (feelin takes the text as a list of itself)" },
  { expression: "={priorityRate: response.body.rates[item.service = \"Priority\"], shipmentId: priorityRate[1].shipment_id, rateId: priorityRate[1].id}", context: {"response": {"body": {"rates": "rates-value"}}, "priorityRate": "priorityRate-value"}, expected: {"priorityRate": null, "rateId": null, "shipmentId": null}, override: "feel-scala 1.18.1: filtering a non-list is null with an INVALID_TYPE warning (feelin takes it as a list of itself)" },
  { expression: "=5[item > 1]", context: {"response": {"status": 200, "statusName": "Succeeded", "headers": {"content-type": "application/json", "x-request-id": "r-1"}, "body": {"flowsessionId": "9f2c-11", "statuscode": 4, "statecode": 0, "outputs": {"total": 12.5, "items": 3}, "list": [{"status": "New", "id": "w-1"}, {"status": "Done", "id": "w-2"}]}}, "error": {"code": "503", "message": "Service Unavailable", "type": "HTTP"}, "orders": [{"id": "a", "qty": 1, "price": 2.5}, {"id": "b", "qty": 3, "price": 10}, {"id": "c", "qty": 2, "price": 0.1}], "xs": [3, 1, 2], "names": ["Ann", "bob", "Cy"], "empty": [], "nested": [[1, 2], [3, [4]]], "s": "Hello World", "n": null, "t": true, "f": false, "i": 7, "d": 2.5, "neg": -3, "job": {"retries": 3}}, expected: null, override: "feel-scala 1.18.1: filtering a non-list is null with an INVALID_TYPE warning (feelin takes it as a list of itself)" },
  { expression: "=some x in [null, false] satisfies x", context: {"response": {"status": 200, "statusName": "Succeeded", "headers": {"content-type": "application/json", "x-request-id": "r-1"}, "body": {"flowsessionId": "9f2c-11", "statuscode": 4, "statecode": 0, "outputs": {"total": 12.5, "items": 3}, "list": [{"status": "New", "id": "w-1"}, {"status": "Done", "id": "w-2"}]}}, "error": {"code": "503", "message": "Service Unavailable", "type": "HTTP"}, "orders": [{"id": "a", "qty": 1, "price": 2.5}, {"id": "b", "qty": 3, "price": 10}, {"id": "c", "qty": 2, "price": 0.1}], "xs": [3, 1, 2], "names": ["Ann", "bob", "Cy"], "empty": [], "nested": [[1, 2], [3, [4]]], "s": "Hello World", "n": null, "t": true, "f": false, "i": 7, "d": 2.5, "neg": -3, "job": {"retries": 3}}, expected: null, override: "feel-scala 1.18.1: some over items that are not all booleans, none true, is null (feelin: false)" },
  { expression: "=every x in [true, null] satisfies x", context: {"response": {"status": 200, "statusName": "Succeeded", "headers": {"content-type": "application/json", "x-request-id": "r-1"}, "body": {"flowsessionId": "9f2c-11", "statuscode": 4, "statecode": 0, "outputs": {"total": 12.5, "items": 3}, "list": [{"status": "New", "id": "w-1"}, {"status": "Done", "id": "w-2"}]}}, "error": {"code": "503", "message": "Service Unavailable", "type": "HTTP"}, "orders": [{"id": "a", "qty": 1, "price": 2.5}, {"id": "b", "qty": 3, "price": 10}, {"id": "c", "qty": 2, "price": 0.1}], "xs": [3, 1, 2], "names": ["Ann", "bob", "Cy"], "empty": [], "nested": [[1, 2], [3, [4]]], "s": "Hello World", "n": null, "t": true, "f": false, "i": 7, "d": 2.5, "neg": -3, "job": {"retries": 3}}, expected: null, override: "feel-scala 1.18.1: every over items that are not all booleans, none false, is null (feelin: false)" },
  { expression: "=5 in [4, [1..5]]", context: {"response": {"status": 200, "statusName": "Succeeded", "headers": {"content-type": "application/json", "x-request-id": "r-1"}, "body": {"flowsessionId": "9f2c-11", "statuscode": 4, "statecode": 0, "outputs": {"total": 12.5, "items": 3}, "list": [{"status": "New", "id": "w-1"}, {"status": "Done", "id": "w-2"}]}}, "error": {"code": "503", "message": "Service Unavailable", "type": "HTTP"}, "orders": [{"id": "a", "qty": 1, "price": 2.5}, {"id": "b", "qty": 3, "price": 10}, {"id": "c", "qty": 2, "price": 0.1}], "xs": [3, 1, 2], "names": ["Ann", "bob", "Cy"], "empty": [], "nested": [[1, 2], [3, [4]]], "s": "Hello World", "n": null, "t": true, "f": false, "i": 7, "d": 2.5, "neg": -3, "job": {"retries": 3}}, expected: false, override: "feel-scala 1.18.1: x in a list is false unless the list holds x or is x (feelin: an item that is a range tests x; x in null is null)" },
  { expression: "=1 in null", context: {"response": {"status": 200, "statusName": "Succeeded", "headers": {"content-type": "application/json", "x-request-id": "r-1"}, "body": {"flowsessionId": "9f2c-11", "statuscode": 4, "statecode": 0, "outputs": {"total": 12.5, "items": 3}, "list": [{"status": "New", "id": "w-1"}, {"status": "Done", "id": "w-2"}]}}, "error": {"code": "503", "message": "Service Unavailable", "type": "HTTP"}, "orders": [{"id": "a", "qty": 1, "price": 2.5}, {"id": "b", "qty": 3, "price": 10}, {"id": "c", "qty": 2, "price": 0.1}], "xs": [3, 1, 2], "names": ["Ann", "bob", "Cy"], "empty": [], "nested": [[1, 2], [3, [4]]], "s": "Hello World", "n": null, "t": true, "f": false, "i": 7, "d": 2.5, "neg": -3, "job": {"retries": 3}}, expected: false, override: "feel-scala 1.18.1: x in a list is false unless the list holds x or is x (feelin: an item that is a range tests x; x in null is null)" },
];
