// Oracle evaluates FEEL expressions with feel-scala (org.camunda.feel:feel-engine, the
// engine Zeebe 8.5 embeds) and prints each result as JSON, in the form pa-connector gives a
// result: temporal values as FEEL's string() gives them. Input: one expression a line,
// base64 (UTF-8). Output: one JSON object a line: {"ok": true, "value": ...} or
// {"ok": false, "error": "..."}; "warnings" lists suppressed failures (null results).
// Run with tools/feel-scala/run.sh; not part of CI.
import java.io.*;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.*;
import java.util.*;
import org.camunda.feel.api.*;

public class Oracle {
    static FeelEngineApi engine = FeelEngineBuilder.forJava()
        .withClock(new org.camunda.feel.FeelEngineClock() {
            public ZonedDateTime getCurrentTime() { return ZonedDateTime.of(2020, 7, 31, 14, 27, 30, 0, ZoneId.of("Europe/Berlin")); }
        }).build();

    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.trim().split(" ");
            String expr = new String(Base64.getDecoder().decode(parts[0]), StandardCharsets.UTF_8);
            Map<String, Object> vars = new HashMap<>();
            if (parts.length > 1) { // the context, JSON: a FEEL context literal
                String ctx = new String(Base64.getDecoder().decode(parts[1]), StandardCharsets.UTF_8);
                Object m = engine.evaluateExpression(ctx, new HashMap<String, Object>()).result();
                if (m instanceof Map) for (Map.Entry<?, ?> e : ((Map<?, ?>) m).entrySet()) vars.put(e.getKey().toString(), e.getValue());
            }
            StringBuilder b = new StringBuilder();
            try {
                EvaluationResult r = engine.evaluateExpression(expr, vars);
                if (r.isSuccess()) {
                    b.append("{\"ok\":true,\"value\":");
                    Object v = r.result();
                    if (v != null && !(v instanceof Boolean || v instanceof Number || v instanceof String || v instanceof List || v instanceof Map)) {
                        // a temporal value: its string() in FEEL (the Java value loses a time's zone id)
                        EvaluationResult s = engine.evaluateExpression("string((" + expr + "))", vars);
                        if (s.isSuccess() && s.result() instanceof String) v = s.result();
                    }
                    json(b, v);
                } else {
                    b.append("{\"ok\":false,\"error\":");
                    str(b, r.failure().message());
                }
                b.append(",\"warnings\":[");
                scala.collection.Iterator<?> it = r.suppressedFailures().iterator();
                boolean first = true;
                while (it.hasNext()) {
                    if (!first) b.append(',');
                    first = false;
                    str(b, it.next().toString());
                }
                b.append("]}");
            } catch (Throwable t) {
                b.setLength(0);
                b.append("{\"ok\":false,\"error\":");
                str(b, t.toString());
                b.append("}");
            }
            out.println(b);
        }
    }

    static void json(StringBuilder b, Object v) {
        if (v == null) { b.append("null"); return; }
        if (v instanceof Boolean) { b.append(v); return; }
        if (v instanceof BigDecimal) { b.append(((BigDecimal) v).toPlainString()); return; }
        if (v instanceof scala.math.BigDecimal) { b.append(((scala.math.BigDecimal) v).bigDecimal().toPlainString()); return; }
        if (v instanceof Number) { b.append(new BigDecimal(v.toString()).toPlainString()); return; }
        if (v instanceof String) { str(b, (String) v); return; }
        if (v instanceof List) {
            b.append('[');
            boolean first = true;
            for (Object e : (List<?>) v) { if (!first) b.append(','); first = false; json(b, e); }
            b.append(']');
            return;
        }
        if (v instanceof Map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : new TreeMap<>((Map<?, ?>) v).entrySet()) {
                if (!first) b.append(',');
                first = false;
                str(b, e.getKey().toString());
                b.append(':');
                json(b, e.getValue());
            }
            b.append('}');
            return;
        }
        // temporal values (and anything else): FEEL's own string form
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("x", v);
        EvaluationResult r = engine.evaluateExpression("string(x)", ctx);
        Object s = r.isSuccess() ? r.result() : null;
        if (s instanceof String) { str(b, (String) s); } else { str(b, "<" + v.getClass().getName() + ": " + v + ">"); }
    }

    static void str(StringBuilder b, String s) {
        b.append('"');
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
            }
        }
        b.append('"');
    }
}
