package clients;

import io.camunda.client.CamundaClient;
import io.camunda.client.api.command.ClientStatusException;
import io.camunda.client.api.response.ActivatedJob;
import io.camunda.client.api.response.BrokerInfo;
import io.camunda.client.api.response.DeploymentEvent;
import io.camunda.client.api.response.PartitionInfo;
import io.camunda.client.api.response.ProcessInstanceEvent;
import io.camunda.client.api.response.ProcessInstanceResult;
import io.camunda.client.api.response.PublishMessageResponse;
import io.camunda.client.api.response.Topology;
import io.camunda.client.api.worker.JobClient;
import io.camunda.client.api.worker.JobWorker;
import io.grpc.Status.Code;
import java.math.BigInteger;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Drives pa-engine with the official Camunda Java client (camunda-client-java, gRPC only) and
 * checks what a Zeebe 8.5 gateway would answer: topology, deployment, instances, a job worker
 * (streaming, then polling only), input mappings and task headers, an exclusive gateway, results
 * of CreateProcessInstanceWithResult, a BPMN error caught by a boundary event, a job failed with
 * no retries left, and the NOT_FOUND answers on unknown keys.
 *
 * <p>Usage: {@code Main [ADDRESS] [--mode both|stream|poll] [--bpmn FILE]}; ADDRESS defaults to
 * $PA_ENGINE_ADDRESS, then 127.0.0.1:26500. Exit 0 only if every check passed; the last line is
 * {@code java-client: N passed, N failed}.
 */
public final class Main {

  static final String PROCESS_ID = "java-client-order";
  static final String CHECK_TYPE = "java-check";
  static final String AUDIT_TYPE = "java-audit";
  static final String ERROR_CODE = "ORDER_REJECTED";
  static final int INSTANCES = 20;
  /** The audit worker's fetchVariables: "doubled" exists only in the check task's scope. */
  static final List<String> AUDIT_FETCH =
      List.of("total", "checkedBy", "currency", "orderNo", "amount", "doubled");
  static final int DISCOUNT = 5; // the "discount" task header of order.bpmn
  static final Duration WAIT = Duration.ofSeconds(60);
  /** A key of partition 1 (Zeebe keys carry the partition in bit 51 up) that no run reaches. */
  static final long UNKNOWN_KEY = (1L << 51) + 987_654_321L;

  private final CamundaClient client;
  private final List<String> passed = new ArrayList<>();
  private final List<String> failed = new ArrayList<>();
  private long definitionKey = -1;
  private int definitionVersion = -1;

  private Main(final CamundaClient client) {
    this.client = client;
  }

  public static void main(final String[] args) throws Exception {
    String address = envOr("PA_ENGINE_ADDRESS", "127.0.0.1:26500");
    String mode = "both";
    String bpmn = "order.bpmn";
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--mode" -> mode = args[++i];
        case "--bpmn" -> bpmn = args[++i];
        case "-h", "--help" -> {
          System.out.println("usage: Main [ADDRESS] [--mode both|stream|poll] [--bpmn FILE]");
          return;
        }
        default -> address = args[i];
      }
    }
    final List<String> modes =
        switch (mode) {
          case "both" -> List.of("stream", "poll");
          case "stream", "poll" -> List.of(mode);
          default -> throw new IllegalArgumentException("--mode: both, stream or poll: " + mode);
        };
    final byte[] resource = Files.readAllBytes(Path.of(bpmn));

    System.out.println("java client: camunda-client-java " + clientVersion() + " -> " + address);
    final CamundaClient client =
        CamundaClient.newClientBuilder()
            // Only what is set here: no CAMUNDA_*/ZEEBE_* variable of the environment applies.
            .applyEnvironmentVariableOverrides(false)
            .grpcAddress(URI.create("http://" + address)) // http:// = plaintext
            .preferRestOverGrpc(false) // every command over gRPC: pa-engine has no REST API
            // Never used; a closed port makes any REST call fail loudly instead of silently.
            .restAddress(URI.create("http://127.0.0.1:1"))
            .defaultRequestTimeout(Duration.ofSeconds(15))
            .defaultJobWorkerName("java-client")
            .build();
    final Main m = new Main(client);
    int code;
    try {
      code = m.run(resource, modes);
    } finally {
      client.close();
    }
    System.exit(code);
  }

  private int run(final byte[] resource, final List<String> modes) {
    check("topology", this::checkTopology);
    check("deploy order.bpmn", () -> checkDeploy(resource));
    if (definitionKey < 0) {
      failed.add("scenario: not run, the deployment failed");
    } else {
      check("redeploy is a duplicate", () -> checkRedeploy(resource));
      for (final String mode : modes) {
        new Scenario(mode).run();
      }
    }
    check("unknown keys answer NOT_FOUND", this::checkUnknownKeys);
    check("invalid BPMN is refused with INVALID_ARGUMENT", this::checkInvalidDeploy);
    check("publish message", this::checkPublishMessage);

    System.out.println();
    for (final String f : failed) {
      System.out.println("FAILED " + f);
    }
    System.out.println("java-client: " + passed.size() + " passed, " + failed.size() + " failed");
    return failed.isEmpty() ? 0 : 1;
  }

  // ------------------------------------------------------------------------------ checks ----

  interface Body {
    String run() throws Exception;
  }

  /** Runs one named check: PASS with the detail it returns, FAIL with what went wrong. */
  private void check(final String name, final Body body) {
    final long start = System.nanoTime();
    String outcome;
    boolean ok;
    try {
      outcome = body.run();
      ok = true;
    } catch (final CheckFailed e) {
      outcome = e.getMessage();
      ok = false;
    } catch (final Throwable t) {
      outcome = "unexpected " + describe(t);
      ok = false;
    }
    final long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    final String line = name + (outcome == null || outcome.isEmpty() ? "" : ": " + outcome);
    System.out.printf("%s %s (%d ms)%n", ok ? "PASS" : "FAIL", line, ms);
    (ok ? passed : failed).add(line);
  }

  static final class CheckFailed extends RuntimeException {
    CheckFailed(final String message) {
      super(message);
    }
  }

  static void expect(final boolean condition, final String format, final Object... args) {
    if (!condition) {
      throw new CheckFailed(String.format(format, args));
    }
  }

  private String checkTopology() {
    // The engine may still be starting: UNAVAILABLE is retried for up to 30 s (the project's own
    // tools wait the same way); any other answer counts.
    Topology t = null;
    final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (t == null) {
      try {
        t = client.newTopologyRequest().send().join();
      } catch (final RuntimeException e) {
        if (codeOf(e) != Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
        sleep(200);
      }
    }
    final String gv = t.getGatewayVersion();
    expect(gv != null && !gv.isEmpty(), "gatewayVersion is empty");
    expect(!t.getBrokers().isEmpty(), "no broker in the topology");
    expect(t.getClusterSize() >= 1, "clusterSize %d", t.getClusterSize());
    expect(t.getPartitionsCount() >= 1, "partitionsCount %d", t.getPartitionsCount());
    boolean leader = false;
    for (final BrokerInfo b : t.getBrokers()) {
      for (final PartitionInfo p : b.getPartitions()) {
        leader |= p.isLeader() && "HEALTHY".equals(String.valueOf(p.getHealth()));
      }
    }
    expect(leader, "no healthy leader partition: %s", t.getBrokers());
    final BrokerInfo b = t.getBrokers().get(0);
    return String.format(
        "gatewayVersion %s, clusterSize %d, partitions %d, replicationFactor %d, broker %d %s version %s",
        gv,
        t.getClusterSize(),
        t.getPartitionsCount(),
        t.getReplicationFactor(),
        b.getNodeId(),
        b.getAddress(),
        b.getVersion());
  }

  private String checkDeploy(final byte[] resource) {
    final DeploymentEvent d =
        client.newDeployResourceCommand().addResourceBytes(resource, "order.bpmn").send().join();
    expect(d.getKey() > 0, "deployment key %d", d.getKey());
    expect(d.getProcesses().size() == 1, "%d processes in the deployment", d.getProcesses().size());
    final io.camunda.client.api.response.Process p = d.getProcesses().get(0);
    expect(PROCESS_ID.equals(p.getBpmnProcessId()), "bpmnProcessId %s", p.getBpmnProcessId());
    expect(p.getVersion() >= 1, "version %d", p.getVersion());
    expect(p.getProcessDefinitionKey() > 0, "processDefinitionKey %d", p.getProcessDefinitionKey());
    expect("order.bpmn".equals(p.getResourceName()), "resourceName %s", p.getResourceName());
    expect("<default>".equals(p.getTenantId()), "process tenantId %s", p.getTenantId());
    expect("<default>".equals(d.getTenantId()), "deployment tenantId %s", d.getTenantId());
    definitionKey = p.getProcessDefinitionKey();
    definitionVersion = p.getVersion();
    return String.format(
        "deployment %d, %s version %d, key %d",
        d.getKey(), PROCESS_ID, definitionVersion, definitionKey);
  }

  private String checkRedeploy(final byte[] resource) {
    final DeploymentEvent d =
        client.newDeployResourceCommand().addResourceBytes(resource, "order.bpmn").send().join();
    final io.camunda.client.api.response.Process p = d.getProcesses().get(0);
    expect(
        p.getProcessDefinitionKey() == definitionKey && p.getVersion() == definitionVersion,
        "the same resource again gave key %d version %d, want key %d version %d",
        p.getProcessDefinitionKey(),
        p.getVersion(),
        definitionKey,
        definitionVersion);
    return "same key and version";
  }

  private String checkUnknownKeys() {
    final long k = UNKNOWN_KEY;
    final List<String> got = new ArrayList<>();
    got.add(
        expectCode(
            "CompleteJob", () -> client.newCompleteCommand(k).send().join(), Set.of(Code.NOT_FOUND)));
    got.add(
        expectCode(
            "FailJob",
            () -> client.newFailCommand(k).retries(1).send().join(),
            Set.of(Code.NOT_FOUND)));
    got.add(
        expectCode(
            "ThrowError",
            () -> client.newThrowErrorCommand(k).errorCode(ERROR_CODE).send().join(),
            Set.of(Code.NOT_FOUND)));
    got.add(
        expectCode(
            "UpdateJobRetries",
            () -> client.newUpdateRetriesCommand(k).retries(2).send().join(),
            Set.of(Code.NOT_FOUND)));
    got.add(
        expectCode(
            "UpdateJobTimeout",
            () -> client.newUpdateTimeoutCommand(k).timeout(Duration.ofMinutes(1)).send().join(),
            Set.of(Code.NOT_FOUND)));
    got.add(
        expectCode(
            "CancelProcessInstance",
            () -> client.newCancelInstanceCommand(k).send().join(),
            Set.of(Code.NOT_FOUND)));
    got.add(
        expectCode(
            "ResolveIncident",
            () -> client.newResolveIncidentCommand(k).send().join(),
            Set.of(Code.NOT_FOUND)));
    got.add(
        expectCode(
            "SetVariables",
            () -> client.newSetVariablesCommand(k).variables(Map.of("x", 1)).send().join(),
            Set.of(Code.NOT_FOUND)));
    got.add(
        expectCode(
            "CreateProcessInstance of an undeployed process id",
            () ->
                client
                    .newCreateInstanceCommand()
                    .bpmnProcessId("java-client-never-deployed")
                    .latestVersion()
                    .send()
                    .join(),
            Set.of(Code.NOT_FOUND)));
    return String.join("; ", got);
  }

  private String checkInvalidDeploy() {
    final String broken =
        "<?xml version=\"1.0\"?><bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">"
            + "<bpmn:process id=\"java-client-broken\" isExecutable=\"true\"><bpmn:startEvent id=\"s\">";
    final String a =
        expectCode(
            "DeployResource of truncated XML",
            () ->
                client
                    .newDeployResourceCommand()
                    .addResourceStringUtf8(broken, "broken.bpmn")
                    .send()
                    .join(),
            Set.of(Code.INVALID_ARGUMENT),
            true);
    // Well-formed, but a service task without a job type: refused by validation.
    final String invalid =
        "<?xml version=\"1.0\"?><bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\""
            + " id=\"d\" targetNamespace=\"t\"><bpmn:process id=\"java-client-invalid\" isExecutable=\"true\">"
            + "<bpmn:startEvent id=\"s\"/><bpmn:sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"t1\"/>"
            + "<bpmn:serviceTask id=\"t1\"/></bpmn:process></bpmn:definitions>";
    final String b =
        expectCode(
            "DeployResource of a service task without a job type",
            () ->
                client
                    .newDeployResourceCommand()
                    .addResourceStringUtf8(invalid, "invalid.bpmn")
                    .send()
                    .join(),
            Set.of(Code.INVALID_ARGUMENT),
            true);
    return a + "; " + b;
  }

  private String checkPublishMessage() {
    final String id = "java-client-" + System.nanoTime();
    final PublishMessageResponse r =
        client
            .newPublishMessageCommand()
            .messageName("java-client-ping")
            .correlationKey("nobody-waits")
            .messageId(id)
            .timeToLive(Duration.ofSeconds(30))
            .variables(Map.of("ping", true))
            .send()
            .join();
    expect(r.getMessageKey() > 0, "message key %d", r.getMessageKey());
    final String again =
        expectCode(
            "PublishMessage with the same messageId",
            () -> client
                    .newPublishMessageCommand()
                    .messageName("java-client-ping")
                    .correlationKey("nobody-waits")
                    .messageId(id)
                    .timeToLive(Duration.ofSeconds(30))
                    .send().join(),
            Set.of(Code.ALREADY_EXISTS));
    return "message key " + r.getMessageKey() + "; " + again;
  }

  // ---------------------------------------------------------------------------- scenario ----

  /** One pass of the process scenario with a streaming or a polling-only job worker. */
  final class Scenario {
    final String mode;
    final boolean stream;
    final String workerName;
    final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    /** processInstanceKey → the total the worker completed the check job with. */
    final Map<Long, Long> checked = new ConcurrentHashMap<>();
    /** processInstanceKey → the audit jobs completed. */
    final Map<Long, Integer> audited = new ConcurrentHashMap<>();
    final Map<Long, Integer> orderOf = new ConcurrentHashMap<>();
    final CompletableFuture<String> failCase = new CompletableFuture<>();
    final CompletableFuture<String> rejectCase = new CompletableFuture<>();
    /** The instance of the job failed with no retries (from the job: its creation may time out). */
    volatile long failedInstance = -1;
    final Set<Long> seenJobs = ConcurrentHashMap.newKeySet();
    final Set<Long> duplicateJobs = ConcurrentHashMap.newKeySet();

    Scenario(final String mode) {
      this.mode = mode;
      stream = mode.equals("stream");
      workerName = "java-client-" + mode;
    }

    String name(final String check) {
      return "[" + mode + "] " + check;
    }

    void run() {
      final JobWorker checkWorker = openWorker(CHECK_TYPE, this::handleCheck);
      final JobWorker auditWorker = openWorker(AUDIT_TYPE, this::handleAudit, AUDIT_FETCH);
      try {
        if (stream) {
          // Registering a job stream is asynchronous (in Zeebe too): jobs created before it is
          // in place are not pushed. With a poll interval of an hour, nothing is polled.
          sleep(2000);
        }
        runChecks();
      } finally {
        checkWorker.close();
        auditWorker.close();
      }
    }

    JobWorker openWorker(final String type, final io.camunda.client.api.worker.JobHandler h) {
      return openWorker(type, h, List.of());
    }

    JobWorker openWorker(
        final String type,
        final io.camunda.client.api.worker.JobHandler h,
        final List<String> fetch) {
      final var builder =
          client
          .newWorker()
          .jobType(type)
          .handler(h)
          .name(workerName);
      if (!fetch.isEmpty()) {
        builder.fetchVariables(fetch);
      }
      return builder
          .timeout(Duration.ofSeconds(30))
          .maxJobsActive(32)
          .streamEnabled(stream)
          // Streaming: jobs must arrive through StreamActivatedJobs alone (the first poll is an
          // hour away). Polling only: ActivateJobs (long polling) every 100 ms when idle.
          .pollInterval(stream ? Duration.ofHours(1) : Duration.ofMillis(100))
          .requestTimeout(Duration.ofSeconds(5))
          .open();
    }

    void runChecks() {
      final List<Long> plain = new ArrayList<>();
      check(
          name("create " + INSTANCES + " instances"),
          () -> {
            final Set<Long> keys = new HashSet<>();
            // All requests at once, then their answers in order.
            final List<CompletableFuture<ProcessInstanceEvent>> sent = new ArrayList<>();
            for (int i = 1; i <= INSTANCES; i++) {
              sent.add(
                  client
                      .newCreateInstanceCommand()
                      .bpmnProcessId(PROCESS_ID)
                      .latestVersion()
                      .variables(orderVariables(i, i * 5))
                      .send()
                      .toCompletableFuture());
            }
            for (int i = 1; i <= INSTANCES; i++) {
              final ProcessInstanceEvent e = sent.get(i - 1).join();
              expect(e.getProcessInstanceKey() > 0, "instance key %d", e.getProcessInstanceKey());
              expect(
                  PROCESS_ID.equals(e.getBpmnProcessId())
                      && e.getProcessDefinitionKey() == definitionKey
                      && e.getVersion() == definitionVersion,
                  "instance of %s key %d version %d, want %s key %d version %d",
                  e.getBpmnProcessId(),
                  e.getProcessDefinitionKey(),
                  e.getVersion(),
                  PROCESS_ID,
                  definitionKey,
                  definitionVersion);
              expect(keys.add(e.getProcessInstanceKey()), "duplicate instance key");
              orderOf.put(e.getProcessInstanceKey(), i);
              plain.add(e.getProcessInstanceKey());
            }
            return INSTANCES + " distinct keys";
          });

      // Three instances whose result is awaited, started while the worker answers the others.
      final CompletableFuture<ProcessInstanceResult> small = withResult(orderVariables(101, 3));
      final CompletableFuture<ProcessInstanceResult> big = withResult(orderVariables(102, 60));
      final Map<String, Object> rejectVars = orderVariables(103, 40);
      rejectVars.put("reject", true);
      final CompletableFuture<ProcessInstanceResult> rejected = withResult(rejectVars);
      final CompletableFuture<ProcessInstanceResult> fetched =
          client
              .newCreateInstanceCommand()
              .bpmnProcessId(PROCESS_ID)
              .latestVersion()
              .variables(orderVariables(105, 70))
              .withResult()
              .fetchVariables("total", "orderNo")
              .requestTimeout(WAIT)
              .send()
              .toCompletableFuture();
      final Map<String, Object> failVars = orderVariables(104, 40);
      failVars.put("failMe", true);
      long failInstance = -1;
      try {
        failInstance =
            client
                .newCreateInstanceCommand()
                .bpmnProcessId(PROCESS_ID)
                .latestVersion()
                .variables(failVars)
                .send()
                .join()
                .getProcessInstanceKey();
      } catch (final Exception e) {
        failCase.complete("creating the instance failed: " + describe(e));
      }

      check(
          name("worker completes every check job" + (stream ? " (pushed by the stream)" : "")),
          () -> {
            final boolean all = waitFor(() -> plain.stream().allMatch(checked::containsKey));
            final long missing = plain.stream().filter(k -> !checked.containsKey(k)).count();
            expect(
                all,
                "%d of %d instances got no completed check job within %ds%s",
                missing,
                plain.size(),
                WAIT.toSeconds(),
                stream ? " (no job was pushed through StreamActivatedJobs?)" : "");
            return plain.size() + " jobs";
          });

      check(
          name("exclusive gateway routes total >= 100 to the audit task"),
          () -> {
            final List<Integer> bigOrders = new ArrayList<>();
            waitFor(
                () ->
                    plain.stream()
                        .filter(k -> checked.getOrDefault(k, 0L) >= 100)
                        .allMatch(audited::containsKey));
            for (final long k : plain) {
              final Long total = checked.get(k);
              final int audits = audited.getOrDefault(k, 0);
              final boolean wantAudit = total != null && total >= 100;
              expect(
                  audits == (wantAudit ? 1 : 0),
                  "order %d (total %s) had %d audit jobs, want %d",
                  orderOf.get(k),
                  total,
                  audits,
                  wantAudit ? 1 : 0);
              if (wantAudit) {
                bigOrders.add(orderOf.get(k));
              }
            }
            expect(bigOrders.size() == 10, "%d big orders, want 10", bigOrders.size());
            return bigOrders.size() + " audited, " + (plain.size() - bigOrders.size()) + " not";
          });

      check(
          name("completed instances are gone (CancelProcessInstance answers NOT_FOUND)"),
          () -> {
            sleep(1000); // the last job's completion is followed by the gateway and end events
            int gone = 0;
            final Map<Long, CompletableFuture<?>> sent = new LinkedHashMap<>();
            for (final long k : plain) {
              sent.put(k, client.newCancelInstanceCommand(k).send().toCompletableFuture());
            }
            for (final var e : sent.entrySet()) {
              expectCode(
                  "CancelProcessInstance " + e.getKey(),
                  () -> e.getValue().join(),
                  Set.of(Code.NOT_FOUND));
              gone++;
            }
            return gone + " of " + plain.size();
          });

      check(
          name("CreateProcessInstanceWithResult returns the end variables"),
          () -> {
            final ProcessInstanceResult s = small.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            final ProcessInstanceResult b = big.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            checkResult(s, 101, 3);
            checkResult(b, 102, 60);
            final Map<String, Object> sv = s.getVariablesAsMap();
            final Map<String, Object> bv = b.getVariablesAsMap();
            expectIntegral(sv.get("total"), 1, "small order total");
            expect(!sv.containsKey("audited"), "small order was audited: %s", sv);
            expectIntegral(bv.get("total"), 115, "big order total");
            expect(Boolean.TRUE.equals(bv.get("audited")), "big order not audited: %s", bv);
            final Map<String, Object> fv =
                fetched.get(WAIT.toSeconds(), TimeUnit.SECONDS).getVariablesAsMap();
            expect(
                fv.keySet().equals(Set.of("total", "orderNo")),
                "with fetchVariables [total, orderNo]: %s",
                new TreeMap<>(fv));
            expectIntegral(fv.get("total"), 135, "fetched total");
            return "small " + new TreeMap<>(sv) + ", big " + new TreeMap<>(bv)
                + ", fetchVariables [total, orderNo] " + new TreeMap<>(fv);
          });

      check(
          name("ThrowError is caught by the error boundary event"),
          () -> {
            final String job = rejectCase.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            final ProcessInstanceResult r = rejected.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            checkResult(r, 103, 40);
            final Map<String, Object> v = r.getVariablesAsMap();
            expect(
                "too risky: 103".equals(v.get("rejectReason")),
                "rejectReason %s (the boundary event's output mapping of the error variables)",
                v.get("rejectReason"));
            expect(!v.containsKey("total"), "a rejected order has a total: %s", v);
            return job + "; result " + new TreeMap<>(v);
          });

      final long created = failInstance;
      check(
          name("FailJob with retries 0, then CompleteJob is refused"),
          () -> {
            final String outcome = failCase.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            expect(outcome.startsWith("ok:"), "%s", outcome);
            final long failKey = failedInstance;
            expect(
                created < 0 || created == failKey,
                "the failed job belongs to instance %d, created %d",
                failKey,
                created);
            // The instance waits on an incident: it is active, so variables can be set and it
            // can be cancelled (once).
            final List<String> got = new ArrayList<>();
            got.add(outcome.substring(3).trim());
            final long varsKey =
                client
                    .newSetVariablesCommand(failKey)
                    .variables(Map.of("note", "set while the incident is open"))
                    .send()
                    .join()
                    .getKey();
            expect(varsKey > 0, "SetVariables key %d", varsKey);
            got.add("SetVariables OK");
            client.newCancelInstanceCommand(failKey).send().join();
            got.add("CancelProcessInstance OK");
            got.add(
                expectCode(
                    "CancelProcessInstance again",
                    () -> client.newCancelInstanceCommand(failKey).send().join(),
                    Set.of(Code.NOT_FOUND)));
            return String.join("; ", got);
          });

      check(
          name("activated jobs carry variables, input mappings, headers and metadata"),
          () -> {
            expect(
                problems.isEmpty(),
                "%d problems, first: %s",
                problems.size(),
                String.join(" | ", problems.stream().limit(5).toList()));
            expect(duplicateJobs.isEmpty(), "jobs handed out twice: %s", duplicateJobs);
            return seenJobs.size() + " jobs checked (fetchVariables of the audit worker too)";
          });
    }

    CompletableFuture<ProcessInstanceResult> withResult(final Map<String, Object> vars) {
      return client
          .newCreateInstanceCommand()
          .bpmnProcessId(PROCESS_ID)
          .latestVersion()
          .variables(vars)
          .withResult()
          .requestTimeout(WAIT)
          .send()
          .toCompletableFuture();
    }

    void checkResult(final ProcessInstanceResult r, final int orderNo, final int amount) {
      expect(
          r.getProcessInstanceKey() > 0
              && PROCESS_ID.equals(r.getBpmnProcessId())
              && r.getProcessDefinitionKey() == definitionKey
              && r.getVersion() == definitionVersion,
          "result of order %d: instance %d of %s key %d version %d",
          orderNo,
          r.getProcessInstanceKey(),
          r.getBpmnProcessId(),
          r.getProcessDefinitionKey(),
          r.getVersion());
      final Map<String, Object> v = r.getVariablesAsMap();
      expectIntegral(v.get("orderNo"), orderNo, "orderNo");
      expectIntegral(v.get("amount"), amount, "amount");
      expect(("customer-" + orderNo).equals(v.get("customer")), "customer %s", v.get("customer"));
      // Input mappings are local to the task: they must not reach the process scope.
      expect(
          !v.containsKey("doubled") && !v.containsKey("orderRef"),
          "task-local input mappings leaked into the result: %s",
          v);
    }

    // ------------------------------------------------------------------------- handlers ----

    void handleCheck(final JobClient jc, final ActivatedJob job) {
      try {
        if (!seenJobs.add(job.getKey())) {
          duplicateJobs.add(job.getKey());
        }
        final Map<String, Object> v = job.getVariablesAsMap();
        validate(job, CHECK_TYPE, "check", 3, Map.of("discount", "5", "currency", "EUR"));
        final int orderNo = ((Number) v.get("orderNo")).intValue();
        final int amount = ((Number) v.get("amount")).intValue();
        if (!isIntegral(v.get("doubled"), 2L * amount)) {
          problems.add(
              "job " + job.getKey() + ": doubled = " + show(v.get("doubled")) + ", want "
                  + (2 * amount) + " (input mapping =amount * 2)");
        }
        if (!("order-" + orderNo).equals(v.get("orderRef"))) {
          problems.add(
              "job " + job.getKey() + ": orderRef = " + show(v.get("orderRef"))
                  + ", want \"order-" + orderNo + "\" (input mapping)");
        }
        if (Boolean.TRUE.equals(v.get("failMe"))) {
          failCase.complete(failThenComplete(jc, job));
          return;
        }
        if (Boolean.TRUE.equals(v.get("reject"))) {
          rejectCase.complete(throwThenComplete(jc, job, orderNo));
          return;
        }
        if (orderNo == 1) {
          // UpdateJobTimeout on an activated job: accepted.
          client.newUpdateTimeoutCommand(job.getKey()).timeout(Duration.ofMinutes(2)).send().join();
        }
        final long doubled = ((Number) v.get("doubled")).longValue();
        final int discount = Integer.parseInt(job.getCustomHeaders().get("discount"));
        final long total = doubled - discount;
        final Map<String, Object> out = new HashMap<>();
        out.put("total", total);
        out.put("checkedBy", "java");
        out.put("currency", job.getCustomHeaders().get("currency"));
        jc.newCompleteCommand(job).variables(out).send().join();
        checked.put(job.getProcessInstanceKey(), total);
      } catch (final Throwable t) {
        problems.add("check job " + job.getKey() + ": " + describe(t));
      }
    }

    void handleAudit(final JobClient jc, final ActivatedJob job) {
      try {
        seenJobs.add(job.getKey());
        validate(job, AUDIT_TYPE, "audit", 3, Map.of());
        final Map<String, Object> v = job.getVariablesAsMap();
        if (!(v.get("total") instanceof Number n) || n.longValue() < 100) {
          problems.add("audit job " + job.getKey() + ": total = " + show(v.get("total")));
        }
        if (!"java".equals(v.get("checkedBy")) || !"EUR".equals(v.get("currency"))) {
          problems.add("audit job " + job.getKey() + ": check job variables missing: " + v);
        }
        if (v.containsKey("doubled") || v.containsKey("orderRef")) {
          problems.add(
              "audit job " + job.getKey() + ": the check task's local variables leaked: " + v);
        }
        if (!AUDIT_FETCH.containsAll(v.keySet())) {
          problems.add(
              "audit job " + job.getKey() + ": variables beyond fetchVariables " + AUDIT_FETCH
                  + ": " + new TreeMap<>(v));
        }
        jc.newCompleteCommand(job).variables(Map.of("audited", true)).send().join();
        audited.merge(job.getProcessInstanceKey(), 1, Integer::sum);
      } catch (final Throwable t) {
        problems.add("audit job " + job.getKey() + ": " + describe(t));
      }
    }

    void validate(
        final ActivatedJob job,
        final String type,
        final String elementId,
        final int retries,
        final Map<String, String> headers) {
      final List<String> p = new ArrayList<>();
      final long now = System.currentTimeMillis();
      if (job.getKey() <= 0) p.add("key " + job.getKey());
      if (!type.equals(job.getType())) p.add("type " + job.getType());
      if (!PROCESS_ID.equals(job.getBpmnProcessId())) p.add("bpmnProcessId " + job.getBpmnProcessId());
      if (job.getProcessDefinitionKey() != definitionKey) {
        p.add("processDefinitionKey " + job.getProcessDefinitionKey());
      }
      if (job.getProcessDefinitionVersion() != definitionVersion) {
        p.add("processDefinitionVersion " + job.getProcessDefinitionVersion());
      }
      if (job.getProcessInstanceKey() <= 0) p.add("processInstanceKey " + job.getProcessInstanceKey());
      if (job.getElementInstanceKey() <= 0) p.add("elementInstanceKey " + job.getElementInstanceKey());
      if (!elementId.equals(job.getElementId())) p.add("elementId " + job.getElementId());
      if (!workerName.equals(job.getWorker())) p.add("worker " + job.getWorker());
      if (job.getRetries() != retries) p.add("retries " + job.getRetries());
      // deadline = activation time + the worker's 30 s timeout
      if (job.getDeadline() < now + 20_000 || job.getDeadline() > now + 40_000) {
        p.add("deadline " + job.getDeadline() + " (now " + now + ", timeout 30 s)");
      }
      if (!headers.equals(job.getCustomHeaders())) p.add("customHeaders " + job.getCustomHeaders());
      if (!"<default>".equals(job.getTenantId())) p.add("tenantId " + job.getTenantId());
      final Map<String, Object> v = job.getVariablesAsMap();
      if (!(v.get("orderNo") instanceof Number) || !(v.get("amount") instanceof Number)) {
        p.add("variables " + v);
      }
      if (!p.isEmpty()) {
        problems.add(type + " job " + job.getKey() + ": " + String.join(", ", p));
      }
    }

    /** FailJob with no retries left (an incident), then CompleteJob on the same job. */
    String failThenComplete(final JobClient jc, final ActivatedJob job) {
      try {
        failedInstance = job.getProcessInstanceKey();
        jc.newFailCommand(job)
            .retries(0)
            .errorMessage("java client: failed on purpose")
            .send()
            .join();
      } catch (final Throwable t) {
        return "FailJob(retries 0) was refused: " + describe(t);
      }
      try {
        jc.newCompleteCommand(job.getKey()).variables(Map.of("late", true)).send().join();
        return "CompleteJob after FailJob(retries 0) succeeded; want NOT_FOUND or FAILED_PRECONDITION";
      } catch (final Throwable t) {
        final Code c = codeOf(t);
        if (c != Code.NOT_FOUND && c != Code.FAILED_PRECONDITION) {
          return "CompleteJob after FailJob(retries 0): " + describe(t)
              + "; want NOT_FOUND or FAILED_PRECONDITION";
        }
        String also;
        try {
          // A failed job's retries can be raised (the incident stays until it is resolved).
          client.newUpdateRetriesCommand(job.getKey()).retries(1).send().join();
          also = "UpdateJobRetries(1) OK";
        } catch (final Throwable u) {
          return "CompleteJob refused as wanted (" + describe(t) + "), but UpdateJobRetries(1) "
              + "on the failed job: " + describe(u);
        }
        return "ok: CompleteJob refused with " + describe(t) + "; " + also;
      }
    }

    /** ThrowError (caught by the boundary event), then CompleteJob on the same job. */
    String throwThenComplete(final JobClient jc, final ActivatedJob job, final int orderNo) {
      try {
        jc.newThrowErrorCommand(job)
            .errorCode(ERROR_CODE)
            .errorMessage("order " + orderNo + " rejected")
            .variables(Map.of("rejectReason", "too risky: " + orderNo))
            .send()
            .join();
      } catch (final Throwable t) {
        return "ThrowError refused: " + describe(t);
      }
      return expectCodeQuiet(
          "CompleteJob after the caught error",
          () -> jc.newCompleteCommand(job.getKey()).send().join(),
          Set.of(Code.NOT_FOUND));
    }
  }

  // ----------------------------------------------------------------------------- helpers ----

  static Map<String, Object> orderVariables(final int orderNo, final int amount) {
    final Map<String, Object> v = new LinkedHashMap<>();
    v.put("orderNo", orderNo);
    v.put("amount", amount);
    v.put("customer", "customer-" + orderNo);
    return v;
  }

  /** Runs a call that must fail with one of the codes; returns what it answered. */
  static String expectCode(final String what, final Runnable call, final Set<Code> codes) {
    return expectCode(what, call, codes, false);
  }

  static String expectCode(
      final String what, final Runnable call, final Set<Code> codes, final boolean verbose) {
    try {
      call.run();
    } catch (final Throwable t) {
      final Code c = codeOf(t);
      expect(codes.contains(c), "%s: %s, want %s", what, describe(t), codes);
      return what + " -> " + (verbose ? describe(t) : c);
    }
    throw new CheckFailed(what + " succeeded, want " + codes);
  }

  /** As expectCode, for a handler thread: the outcome as text, never an exception. */
  static String expectCodeQuiet(final String what, final Runnable call, final Set<Code> codes) {
    try {
      return expectCode(what, call, codes);
    } catch (final CheckFailed e) {
      return e.getMessage();
    }
  }

  static Code codeOf(Throwable t) {
    while (t != null) {
      if (t instanceof ClientStatusException e) {
        return e.getStatusCode();
      }
      if (t instanceof io.grpc.StatusRuntimeException e) {
        return e.getStatus().getCode();
      }
      t = t.getCause();
    }
    return null;
  }

  static String describe(Throwable t) {
    final Code c = codeOf(t);
    while (t.getCause() != null && t.getMessage() == null) {
      t = t.getCause();
    }
    final String message = String.valueOf(t.getMessage()).strip().replaceAll("\\s*\\n\\s*", " / ");
    return (c != null ? c + " " : "") + t.getClass().getSimpleName() + ": " + message;
  }

  static boolean isIntegral(final Object o, final long want) {
    return (o instanceof Integer || o instanceof Long || o instanceof BigInteger)
        && ((Number) o).longValue() == want;
  }

  static void expectIntegral(final Object o, final long want, final String what) {
    expect(isIntegral(o, want), "%s = %s, want the integer %d", what, show(o), want);
  }

  static String show(final Object o) {
    return o == null ? "null" : o + " (" + o.getClass().getSimpleName() + ")";
  }

  static boolean waitFor(final BooleanSupplier done) {
    final long deadline = System.nanoTime() + WAIT.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      sleep(50);
    }
    return true;
  }

  static void sleep(final long ms) {
    try {
      Thread.sleep(ms);
    } catch (final InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CheckFailed("interrupted");
    }
  }

  static String envOr(final String name, final String fallback) {
    final String v = System.getenv(name);
    return v == null || v.isBlank() ? fallback : v;
  }

  static String clientVersion() {
    final Package p = CamundaClient.class.getPackage();
    final String v = p == null ? null : p.getImplementationVersion();
    return v == null ? "(version unknown)" : v;
  }
}
