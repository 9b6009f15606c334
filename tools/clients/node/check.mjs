// Drives pa-engine with the official Camunda 8 Node SDK's Zeebe gRPC client (@camunda8/sdk,
// ZeebeGrpcClient from new Camunda8().getZeebeGrpcApiClient()) and checks what a Zeebe 8.5 gateway
// would answer: topology, deployment, instances, a job worker (StreamActivatedJobs, then a polling
// ZBWorker), input mappings and task headers, an exclusive gateway, CreateProcessInstanceWithResult,
// a BPMN error caught by a boundary event, a job failed with no retries left, NOT_FOUND on unknown
// keys. Same scenario as ../java (see ../README.md).
//
// Usage: node check.mjs [ADDRESS] [--mode both|stream|poll]
// ADDRESS defaults to $PA_ENGINE_ADDRESS, then 127.0.0.1:26500. Exit 0 only if every check
// passed; the last line is "node-client: N passed, N failed".

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Camunda8 } from '@camunda8/sdk'

const here = dirname(fileURLToPath(import.meta.url))
const sdkVersion = createRequire(import.meta.url)('@camunda8/sdk/package.json').version

const PROCESS_ID = 'node-client-order'
const CHECK_TYPE = 'node-check'
const AUDIT_TYPE = 'node-audit'
const ERROR_CODE = 'ORDER_REJECTED'
const INSTANCES = 20
// The audit worker's fetchVariables: "doubled" exists only in the check task's scope.
const AUDIT_FETCH = ['total', 'checkedBy', 'currency', 'orderNo', 'amount', 'doubled']
const WAIT_MS = 60_000
// A key of partition 1 (Zeebe keys carry the partition from bit 51 up) that no run reaches.
const UNKNOWN_KEY = (2n ** 51n + 987654321n).toString()
const CODE = { NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9 }
const CODE_NAME = Object.fromEntries(
  Object.entries({
    OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5,
    ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9,
    ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
    DATA_LOSS: 15, UNAUTHENTICATED: 16,
  }).map(([k, v]) => [v, k]),
)

// ------------------------------------------------------------------------------- arguments ----

let address = process.env.PA_ENGINE_ADDRESS || '127.0.0.1:26500'
let mode = 'both'
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--mode') mode = argv[++i]
  else if (argv[i] === '-h' || argv[i] === '--help') {
    console.log('usage: node check.mjs [ADDRESS] [--mode both|stream|poll]')
    process.exit(0)
  } else address = argv[i]
}
const modes = { both: ['stream', 'poll'], stream: ['stream'], poll: ['poll'] }[mode]
if (!modes) {
  console.error(`--mode: both, stream or poll: ${mode}`)
  process.exit(2)
}

// --------------------------------------------------------------------------------- checks ----

const passed = []
const failed = []

class CheckFailed extends Error {}

function expect(condition, message) {
  if (!condition) throw new CheckFailed(typeof message === 'function' ? message() : message)
}

async function check(name, body) {
  const start = Date.now()
  let ok = true
  let outcome
  try {
    outcome = await body()
  } catch (e) {
    ok = false
    outcome = e instanceof CheckFailed ? e.message : `unexpected ${describe(e)}`
  }
  const line = outcome ? `${name}: ${outcome}` : name
  console.log(`${ok ? 'PASS' : 'FAIL'} ${line} (${Date.now() - start} ms)`)
  ;(ok ? passed : failed).push(line)
}

function describe(e) {
  if (e && typeof e.code === 'number') {
    return `${CODE_NAME[e.code] ?? e.code} ${String(e.details ?? e.message).trim().replace(/\s*\n\s*/g, ' / ')}`
  }
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}

/** Awaits a call that must fail with one of the codes; returns what it answered. */
async function expectCode(what, call, codes, verbose = false) {
  let result
  try {
    result = await call()
  } catch (e) {
    expect(codes.includes(e.code), () =>
      `${what}: ${describe(e)}, want ${codes.map((c) => CODE_NAME[c]).join(' or ')}`)
    return `${what} -> ${verbose ? describe(e) : CODE_NAME[e.code]}`
  }
  throw new CheckFailed(`${what} succeeded (${JSON.stringify(result)}), want ${codes.map((c) => CODE_NAME[c]).join(' or ')}`)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function waitFor(done, ms = WAIT_MS) {
  const deadline = Date.now() + ms
  while (!done()) {
    if (Date.now() > deadline) return false
    await sleep(50)
  }
  return true
}

function withTimeout(promise, what, ms = WAIT_MS) {
  let timer
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailed(`${what}: no answer within ${ms / 1000}s`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** JSON numbers of the engine, as the SDK hands them over (a number, or a LosslessNumber). */
function num(v) {
  if (typeof v === 'number') return v
  if (v && typeof v === 'object' && typeof v.value === 'string' && v.isLosslessNumber) return Number(v.value)
  return NaN
}

/** A plain copy of variables (LosslessNumbers as numbers), sorted by name, for messages. */
function plain(vars) {
  const out = {}
  for (const k of Object.keys(vars ?? {}).sort()) {
    const v = vars[k]
    out[k] = v && typeof v === 'object' && v.isLosslessNumber ? Number(v.value) : v
  }
  return out
}

function orderVariables(orderNo, amount) {
  return { orderNo, amount, customer: `customer-${orderNo}` }
}

// ------------------------------------------------------------------------------ the client ----

const c8 = new Camunda8({
  // Plaintext gRPC without any OAuth: grpc:// is insecure, strategy NONE sends no token.
  ZEEBE_GRPC_ADDRESS: `grpc://${address}`,
  CAMUNDA_AUTH_STRATEGY: 'NONE',
  CAMUNDA_TENANT_ID: '',
  CAMUNDA_LOG_LEVEL: 'error',
  zeebeGrpcSettings: {
    ZEEBE_CLIENT_LOG_LEVEL: 'ERROR',
    ZEEBE_GRPC_CLIENT_MAX_RETRIES: 3,
  },
})
const zbc = c8.getZeebeGrpcApiClient()
console.log(`node client: @camunda8/sdk ${sdkVersion} ZeebeGrpcClient -> ${address}`)

let definitionKey = null
let definitionVersion = null

// A run that hangs (an answer that never comes) still ends, with its summary.
const watchdog = setTimeout(() => {
  failed.push(`watchdog: the run took longer than ${(6 * WAIT_MS) / 1000}s`)
  finish()
}, 6 * WAIT_MS)

function finish() {
  console.log()
  for (const f of failed) console.log(`FAILED ${f}`)
  console.log(`node-client: ${passed.length} passed, ${failed.length} failed`)
  process.exit(failed.length === 0 ? 0 : 1)
}

async function main() {
  const resource = readFileSync(join(here, 'order.bpmn'))

  await check('topology', async () => {
    const t = await zbc.topology()
    expect(t.gatewayVersion, 'gatewayVersion is empty')
    expect(t.brokers?.length >= 1, () => `no broker: ${JSON.stringify(t)}`)
    expect(t.clusterSize >= 1 && t.partitionsCount >= 1, () => `sizes: ${JSON.stringify(t)}`)
    const leader = t.brokers.some((b) =>
      b.partitions.some((p) => p.role === 'LEADER' && p.health === 'HEALTHY'))
    expect(leader, () => `no healthy leader partition: ${JSON.stringify(t.brokers)}`)
    const b = t.brokers[0]
    return `gatewayVersion ${t.gatewayVersion}, clusterSize ${t.clusterSize}, partitions ${t.partitionsCount}, ` +
      `replicationFactor ${t.replicationFactor}, broker ${b.nodeId} ${b.host}:${b.port} version ${b.version}`
  })

  await check('deploy order.bpmn', async () => {
    const d = await zbc.deployResource({ process: resource, name: 'order.bpmn' })
    expect(BigInt(d.key) > 0n, `deployment key ${d.key}`)
    expect(d.deployments?.length === 1, () => `deployments ${JSON.stringify(d.deployments)}`)
    const p = d.deployments[0].process
    expect(p, () => `not a process deployment: ${JSON.stringify(d.deployments[0])}`)
    expect(p.bpmnProcessId === PROCESS_ID, `bpmnProcessId ${p.bpmnProcessId}`)
    expect(p.version >= 1, `version ${p.version}`)
    expect(BigInt(p.processDefinitionKey) > 0n, `processDefinitionKey ${p.processDefinitionKey}`)
    expect(p.resourceName === 'order.bpmn', `resourceName ${p.resourceName}`)
    expect(p.tenantId === '<default>', `process tenantId ${p.tenantId}`)
    expect(d.tenantId === '<default>', `deployment tenantId ${d.tenantId}`)
    definitionKey = p.processDefinitionKey
    definitionVersion = p.version
    return `deployment ${d.key}, ${PROCESS_ID} version ${p.version}, key ${p.processDefinitionKey}`
  })

  if (definitionKey === null) {
    failed.push('scenario: not run, the deployment failed')
  } else {
    await check('redeploy is a duplicate', async () => {
      const d = await zbc.deployResource({ process: resource, name: 'order.bpmn' })
      const p = d.deployments[0].process
      expect(p.processDefinitionKey === definitionKey && p.version === definitionVersion, () =>
        `the same resource again gave key ${p.processDefinitionKey} version ${p.version}, ` +
        `want key ${definitionKey} version ${definitionVersion}`)
      return 'same key and version'
    })
    for (const m of modes) await scenario(m)
  }

  await check('unknown keys answer NOT_FOUND', async () => {
    const k = UNKNOWN_KEY
    const nf = [CODE.NOT_FOUND]
    return [
      await expectCode('CompleteJob', () => zbc.completeJob({ jobKey: k, variables: {} }), nf),
      await expectCode('FailJob', () => zbc.failJob({ jobKey: k, retries: 1, errorMessage: 'x', retryBackOff: 0 }), nf),
      await expectCode('ThrowError', () => zbc.throwError({ jobKey: k, errorCode: ERROR_CODE, errorMessage: 'x' }), nf),
      await expectCode('UpdateJobRetries', () => zbc.updateJobRetries({ jobKey: k, retries: 2 }), nf),
      await expectCode('UpdateJobTimeout', () => zbc.updateJobTimeout({ jobKey: k, timeout: 60000 }), nf),
      await expectCode('CancelProcessInstance', () => zbc.cancelProcessInstance(k), nf),
      await expectCode('ResolveIncident', () => zbc.resolveIncident({ incidentKey: k }), nf),
      await expectCode('SetVariables', () => zbc.setVariables({ elementInstanceKey: k, variables: { x: 1 }, local: false }), nf),
      await expectCode('CreateProcessInstance of an undeployed process id',
        () => zbc.createProcessInstance({ bpmnProcessId: 'node-client-never-deployed', variables: {} }), nf),
    ].join('; ')
  })

  await check('invalid BPMN is refused with INVALID_ARGUMENT', async () => {
    const ns = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    const broken = `<?xml version="1.0"?><bpmn:definitions ${ns}><bpmn:process id="node-client-broken" isExecutable="true"><bpmn:startEvent id="s">`
    // Well-formed, but a service task without a job type: refused by validation.
    const invalid = `<?xml version="1.0"?><bpmn:definitions ${ns} id="d" targetNamespace="t">` +
      '<bpmn:process id="node-client-invalid" isExecutable="true"><bpmn:startEvent id="s"/>' +
      '<bpmn:sequenceFlow id="f" sourceRef="s" targetRef="t1"/><bpmn:serviceTask id="t1"/></bpmn:process></bpmn:definitions>'
    const ia = [3] // INVALID_ARGUMENT
    return [
      await expectCode('DeployResource of truncated XML',
        () => zbc.deployResource({ process: Buffer.from(broken), name: 'broken.bpmn' }), ia, true),
      await expectCode('DeployResource of a service task without a job type',
        () => zbc.deployResource({ process: Buffer.from(invalid), name: 'invalid.bpmn' }), ia, true),
    ].join('; ')
  })

  await check('publish message', async () => {
    const id = `node-client-${process.hrtime.bigint()}`
    const msg = { name: 'node-client-ping', correlationKey: 'nobody-waits', messageId: id, timeToLive: 30000, variables: { ping: true } }
    const r = await zbc.publishMessage(msg)
    expect(BigInt(r.key) > 0n, `message key ${r.key}`)
    const again = await expectCode('PublishMessage with the same messageId', () => zbc.publishMessage(msg), [CODE.ALREADY_EXISTS])
    return `message key ${r.key}; ${again}`
  })
}

// ------------------------------------------------------------------------------- scenario ----

async function scenario(mode) {
  const stream = mode === 'stream'
  const workerName = `node-client-${mode}`
  const name = (s) => `[${mode}] ${s}`
  const problems = []
  const checked = new Map() // processInstanceKey → total the check job was completed with
  const audited = new Map() // processInstanceKey → audit jobs completed
  const orderOf = new Map()
  const seenJobs = new Set()
  const duplicateJobs = new Set()
  let failCase, rejectCase
  let failedInstance = null // from the failed job: its instance's creation may time out
  const failCaseDone = new Promise((r) => { failCase = r })
  const rejectCaseDone = new Promise((r) => { rejectCase = r })

  const JOB_TIMEOUT = 30000

  function validate(job, type, elementId, headers) {
    const p = []
    const now = Date.now()
    if (!(BigInt(job.key) > 0n)) p.push(`key ${job.key}`)
    if (job.type !== type) p.push(`type ${job.type}`)
    if (job.bpmnProcessId !== PROCESS_ID) p.push(`bpmnProcessId ${job.bpmnProcessId}`)
    if (job.processDefinitionKey !== definitionKey) p.push(`processDefinitionKey ${job.processDefinitionKey}`)
    if (job.processDefinitionVersion !== definitionVersion) p.push(`processDefinitionVersion ${job.processDefinitionVersion}`)
    if (!(BigInt(job.processInstanceKey) > 0n)) p.push(`processInstanceKey ${job.processInstanceKey}`)
    if (!(BigInt(job.elementInstanceKey) > 0n)) p.push(`elementInstanceKey ${job.elementInstanceKey}`)
    if (job.elementId !== elementId) p.push(`elementId ${job.elementId}`)
    if (job.worker !== workerName) p.push(`worker ${job.worker}`)
    if (job.retries !== 3) p.push(`retries ${job.retries}`)
    const deadline = Number(job.deadline)
    if (!(deadline > now + JOB_TIMEOUT - 10000 && deadline < now + JOB_TIMEOUT + 10000)) {
      p.push(`deadline ${job.deadline} (now ${now}, timeout 30 s)`)
    }
    const h = plain(job.customHeaders)
    if (JSON.stringify(h) !== JSON.stringify(plain(headers))) p.push(`customHeaders ${JSON.stringify(h)}`)
    if (job.tenantId !== '<default>') p.push(`tenantId ${job.tenantId}`)
    if (Number.isNaN(num(job.variables.orderNo)) || Number.isNaN(num(job.variables.amount))) {
      p.push(`variables ${JSON.stringify(plain(job.variables))}`)
    }
    if (p.length) problems.push(`${type} job ${job.key}: ${p.join(', ')}`)
  }

  async function handleCheck(job) {
    try {
      if (seenJobs.has(job.key)) duplicateJobs.add(job.key)
      seenJobs.add(job.key)
      validate(job, CHECK_TYPE, 'check', { currency: 'EUR', discount: '5' })
      const v = job.variables
      const orderNo = num(v.orderNo)
      const amount = num(v.amount)
      if (num(v.doubled) !== 2 * amount || !Number.isInteger(num(v.doubled))) {
        problems.push(`job ${job.key}: doubled = ${JSON.stringify(v.doubled)}, want ${2 * amount} (input mapping =amount * 2)`)
      }
      if (v.orderRef !== `order-${orderNo}`) {
        problems.push(`job ${job.key}: orderRef = ${JSON.stringify(v.orderRef)}, want "order-${orderNo}" (input mapping)`)
      }
      if (v.failMe === true) {
        failedInstance = job.processInstanceKey
        failCase(await failThenComplete(job))
        return job.forward()
      }
      if (v.reject === true) {
        rejectCase(await throwThenComplete(job, orderNo))
        return job.forward()
      }
      if (orderNo === 1) {
        // UpdateJobTimeout on an activated job: accepted.
        await zbc.updateJobTimeout({ jobKey: job.key, timeout: 120000 })
      }
      const total = num(v.doubled) - Number(job.customHeaders.discount)
      const ack = await job.complete({ total, checkedBy: 'node', currency: job.customHeaders.currency })
      checked.set(job.processInstanceKey, total)
      return ack
    } catch (e) {
      problems.push(`check job ${job.key}: ${describe(e)}`)
      return job.forward()
    }
  }

  async function handleAudit(job) {
    try {
      seenJobs.add(job.key)
      validate(job, AUDIT_TYPE, 'audit', {})
      const v = job.variables
      if (!(num(v.total) >= 100)) problems.push(`audit job ${job.key}: total = ${JSON.stringify(v.total)}`)
      if (v.checkedBy !== 'node' || v.currency !== 'EUR') {
        problems.push(`audit job ${job.key}: check job variables missing: ${JSON.stringify(plain(v))}`)
      }
      if ('doubled' in v || 'orderRef' in v) {
        problems.push(`audit job ${job.key}: the check task's local variables leaked: ${JSON.stringify(plain(v))}`)
      }
      if (!Object.keys(v).every((k) => AUDIT_FETCH.includes(k))) {
        problems.push(`audit job ${job.key}: variables beyond fetchVariables ${AUDIT_FETCH}: ${JSON.stringify(plain(v))}`)
      }
      const ack = await job.complete({ audited: true })
      audited.set(job.processInstanceKey, (audited.get(job.processInstanceKey) ?? 0) + 1)
      return ack
    } catch (e) {
      problems.push(`audit job ${job.key}: ${describe(e)}`)
      return job.forward()
    }
  }

  /** FailJob with no retries left (an incident), then CompleteJob on the same job. */
  async function failThenComplete(job) {
    try {
      await zbc.failJob({ jobKey: job.key, retries: 0, errorMessage: 'node client: failed on purpose', retryBackOff: 0 })
    } catch (e) {
      return `FailJob(retries 0) was refused: ${describe(e)}`
    }
    try {
      await zbc.completeJob({ jobKey: job.key, variables: { late: true } })
      return 'CompleteJob after FailJob(retries 0) succeeded; want NOT_FOUND or FAILED_PRECONDITION'
    } catch (e) {
      if (e.code !== CODE.NOT_FOUND && e.code !== CODE.FAILED_PRECONDITION) {
        return `CompleteJob after FailJob(retries 0): ${describe(e)}; want NOT_FOUND or FAILED_PRECONDITION`
      }
      try {
        // A failed job's retries can be raised (the incident stays until it is resolved).
        await zbc.updateJobRetries({ jobKey: job.key, retries: 1 })
      } catch (u) {
        return `CompleteJob refused as wanted (${describe(e)}), but UpdateJobRetries(1) on the failed job: ${describe(u)}`
      }
      return `ok: CompleteJob refused with ${describe(e)}; UpdateJobRetries(1) OK`
    }
  }

  /** ThrowError (caught by the boundary event), then CompleteJob on the same job. */
  async function throwThenComplete(job, orderNo) {
    try {
      await zbc.throwError({
        jobKey: job.key,
        errorCode: ERROR_CODE,
        errorMessage: `order ${orderNo} rejected`,
        variables: { rejectReason: `too risky: ${orderNo}` },
      })
    } catch (e) {
      return `ThrowError refused: ${describe(e)}`
    }
    try {
      return await expectCode('CompleteJob after the caught error',
        () => zbc.completeJob({ jobKey: job.key, variables: {} }), [CODE.NOT_FOUND])
    } catch (e) {
      return e.message
    }
  }

  // ---- workers
  const closers = []
  for (const [type, handler, fetch] of [[CHECK_TYPE, handleCheck, undefined], [AUDIT_TYPE, handleAudit, AUDIT_FETCH]]) {
    if (stream) {
      // StreamActivatedJobs; pollInterval 0 turns the SDK's sidecar poll off, so after one
      // backfill ActivateJobs (before any instance exists) every job must come through the stream.
      const s = await zbc.streamJobs({
        type, worker: workerName, timeout: JOB_TIMEOUT, taskHandler: handler, pollInterval: 0, fetchVariables: fetch,
      })
      closers.push(() => s.close())
    } else {
      const w = zbc.createWorker({
        taskType: type,
        id: workerName,
        taskHandler: handler,
        timeout: JOB_TIMEOUT,
        maxJobsToActivate: 32,
        pollInterval: 100,
        longPoll: 5000,
        fetchVariable: fetch,
      })
      closers.push(() => w.close())
    }
  }
  try {
    if (stream) await sleep(2000) // stream registration is asynchronous (in Zeebe too)
    await runChecks()
  } finally {
    for (const c of closers) {
      try { await c() } catch { /* closing */ }
    }
  }

  async function createInstance(vars) {
    return zbc.createProcessInstance({ bpmnProcessId: PROCESS_ID, variables: vars })
  }

  function withResult(vars) {
    const p = zbc.createProcessInstanceWithResult({ bpmnProcessId: PROCESS_ID, variables: vars, requestTimeout: WAIT_MS })
    p.catch(() => {}) // awaited by its check
    return p
  }

  function checkResult(r, orderNo, amount) {
    expect(BigInt(r.processInstanceKey) > 0n && r.bpmnProcessId === PROCESS_ID &&
      r.processDefinitionKey === definitionKey && r.version === definitionVersion, () =>
      `result of order ${orderNo}: instance ${r.processInstanceKey} of ${r.bpmnProcessId} key ${r.processDefinitionKey} version ${r.version}`)
    const v = r.variables
    expect(num(v.orderNo) === orderNo, `orderNo ${JSON.stringify(v.orderNo)}`)
    expect(num(v.amount) === amount, `amount ${JSON.stringify(v.amount)}`)
    expect(v.customer === `customer-${orderNo}`, `customer ${v.customer}`)
    // Input mappings are local to the task: they must not reach the process scope.
    expect(!('doubled' in v) && !('orderRef' in v), () =>
      `task-local input mappings leaked into the result: ${JSON.stringify(plain(v))}`)
  }

  async function runChecks() {
    const plainKeys = []
    await check(name(`create ${INSTANCES} instances`), async () => {
      // All requests at once, then their answers in order.
      const sent = []
      for (let i = 1; i <= INSTANCES; i++) {
        const p = createInstance(orderVariables(i, i * 5))
        p.catch(() => {})
        sent.push(p)
      }
      for (let i = 1; i <= INSTANCES; i++) {
        const e = await sent[i - 1]
        expect(BigInt(e.processInstanceKey) > 0n, `instance key ${e.processInstanceKey}`)
        expect(e.bpmnProcessId === PROCESS_ID && e.processDefinitionKey === definitionKey &&
          e.version === definitionVersion, () =>
          `instance of ${e.bpmnProcessId} key ${e.processDefinitionKey} version ${e.version}, ` +
          `want ${PROCESS_ID} key ${definitionKey} version ${definitionVersion}`)
        expect(!orderOf.has(e.processInstanceKey), 'duplicate instance key')
        orderOf.set(e.processInstanceKey, i)
        plainKeys.push(e.processInstanceKey)
      }
      return `${INSTANCES} distinct keys`
    })

    const small = withResult(orderVariables(101, 3))
    const big = withResult(orderVariables(102, 60))
    const rejected = withResult({ ...orderVariables(103, 40), reject: true })
    const fetched = zbc.createProcessInstanceWithResult({
      bpmnProcessId: PROCESS_ID, variables: orderVariables(105, 70), requestTimeout: WAIT_MS, fetchVariables: ['total', 'orderNo'],
    })
    fetched.catch(() => {})
    let failInstance = null
    try {
      failInstance = (await createInstance({ ...orderVariables(104, 40), failMe: true })).processInstanceKey
    } catch (e) {
      failCase(`creating the instance failed: ${describe(e)}`)
    }

    await check(name(`worker completes every check job${stream ? ' (pushed by the stream)' : ''}`), async () => {
      const all = await waitFor(() => plainKeys.every((k) => checked.has(k)))
      const missing = plainKeys.filter((k) => !checked.has(k)).length
      expect(all, `${missing} of ${plainKeys.length} instances got no completed check job within ${WAIT_MS / 1000}s` +
        (stream ? ' (no job was pushed through StreamActivatedJobs?)' : ''))
      return `${plainKeys.length} jobs`
    })

    await check(name('exclusive gateway routes total >= 100 to the audit task'), async () => {
      await waitFor(() => plainKeys.filter((k) => (checked.get(k) ?? 0) >= 100).every((k) => audited.has(k)))
      let bigOrders = 0
      for (const k of plainKeys) {
        const total = checked.get(k)
        const want = total !== undefined && total >= 100 ? 1 : 0
        const got = audited.get(k) ?? 0
        expect(got === want, `order ${orderOf.get(k)} (total ${total}) had ${got} audit jobs, want ${want}`)
        bigOrders += want
      }
      expect(bigOrders === 10, `${bigOrders} big orders, want 10`)
      return `${bigOrders} audited, ${plainKeys.length - bigOrders} not`
    })

    await check(name('completed instances are gone (CancelProcessInstance answers NOT_FOUND)'), async () => {
      await sleep(1000) // the last job's completion is followed by the gateway and end events
      await Promise.all(plainKeys.map((k) =>
        expectCode(`CancelProcessInstance ${k}`, () => zbc.cancelProcessInstance(k), [CODE.NOT_FOUND])))
      return `${plainKeys.length} of ${plainKeys.length}`
    })

    await check(name('CreateProcessInstanceWithResult returns the end variables'), async () => {
      const s = await withTimeout(small, 'with-result (small order)')
      const b = await withTimeout(big, 'with-result (big order)')
      checkResult(s, 101, 3)
      checkResult(b, 102, 60)
      expect(num(s.variables.total) === 1, `small order total ${JSON.stringify(s.variables.total)}, want 1`)
      expect(!('audited' in s.variables), () => `small order was audited: ${JSON.stringify(plain(s.variables))}`)
      expect(num(b.variables.total) === 115, `big order total ${JSON.stringify(b.variables.total)}, want 115`)
      expect(b.variables.audited === true, () => `big order not audited: ${JSON.stringify(plain(b.variables))}`)
      const f = await withTimeout(fetched, 'with-result (fetchVariables)')
      expect(JSON.stringify(Object.keys(f.variables).sort()) === '["orderNo","total"]' && num(f.variables.total) === 135,
        () => `with fetchVariables [total, orderNo]: ${JSON.stringify(plain(f.variables))}`)
      return `small ${JSON.stringify(plain(s.variables))}, big ${JSON.stringify(plain(b.variables))}, ` +
        `fetchVariables [total, orderNo] ${JSON.stringify(plain(f.variables))}`
    })

    await check(name('ThrowError is caught by the error boundary event'), async () => {
      const job = await withTimeout(rejectCaseDone, 'the rejected order\'s job')
      const r = await withTimeout(rejected, 'with-result (rejected order)')
      checkResult(r, 103, 40)
      expect(r.variables.rejectReason === 'too risky: 103', () =>
        `rejectReason ${JSON.stringify(r.variables.rejectReason)} (the boundary event's output mapping of the error variables)`)
      expect(!('total' in r.variables), () => `a rejected order has a total: ${JSON.stringify(plain(r.variables))}`)
      expect(!job.includes('want'), job)
      return `${job}; result ${JSON.stringify(plain(r.variables))}`
    })

    await check(name('FailJob with retries 0, then CompleteJob is refused'), async () => {
      const outcome = await withTimeout(failCaseDone, 'the failing order\'s job')
      expect(outcome.startsWith('ok:'), outcome)
      expect(failInstance === null || failInstance === failedInstance,
        `the failed job belongs to instance ${failedInstance}, created ${failInstance}`)
      const got = [outcome.slice(3).trim()]
      // The instance waits on an incident: it is active, so variables can be set and it can be
      // cancelled (once).
      const sv = await zbc.setVariables({ elementInstanceKey: failedInstance, variables: { note: 'set while the incident is open' }, local: false })
      got.push(`SetVariables OK${sv?.key ? ` (key ${sv.key})` : ''}`)
      await zbc.cancelProcessInstance(failedInstance)
      got.push('CancelProcessInstance OK')
      got.push(await expectCode('CancelProcessInstance again', () => zbc.cancelProcessInstance(failedInstance), [CODE.NOT_FOUND]))
      return got.join('; ')
    })

    await check(name('activated jobs carry variables, input mappings, headers and metadata'), async () => {
      expect(problems.length === 0, () => `${problems.length} problems, first: ${problems.slice(0, 5).join(' | ')}`)
      expect(duplicateJobs.size === 0, () => `jobs handed out twice: ${[...duplicateJobs]}`)
      return `${seenJobs.size} jobs checked (fetchVariables of the audit worker too)`
    })
  }
}

main()
  .catch((e) => failed.push(`run aborted: ${describe(e)}`))
  .finally(async () => {
    clearTimeout(watchdog)
    try { await zbc.close(5000) } catch { /* closing */ }
    finish()
  })
