// The driver scenario for pgJDBC with its default settings: every documented
// function of projection_offset called the way a Java application writes it
// (PreparedStatement, values bound with setString/setLong/setArray/setObject,
// no casts in the SQL text), each outcome checked in the database. It is the
// scenario of test/drivers/node/src/scenario.ts, with the same check names
// and output lines (see test/drivers/suite.sh).
//
// pgJDBC sends a setString value as varchar (stringtype=varchar, the
// default), a setLong as int8, a setInt as int4, a createArrayOf("text", ...)
// as text[], and a PGobject of type "jsonb" as jsonb.
//
// Connection: PGHOST (a Unix socket directory), PGPORT, PGUSER, PGDATABASE.
// pgJDBC itself speaks TCP only; UnixSocketFactory below gives it the
// server's Unix socket through its socketFactory setting.

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import javax.net.SocketFactory;

import org.postgresql.util.PGobject;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

public final class Drivers {
    static final String DRIVER = "jdbc";

    // --- report -------------------------------------------------------------

    static final class Shape {
        final String call;
        final String bound;
        final List<String> outcomes = new ArrayList<>();
        final List<String> checked = new ArrayList<>();

        Shape(String call, String bound) {
            this.call = call;
            this.bound = bound;
        }
    }

    static int passed;
    static int failed;
    static final Map<String, Shape> shapes = new LinkedHashMap<>();
    static Shape current;

    static void shape(String call, String bound, String outcome) {
        Shape s = shapes.computeIfAbsent(call + "\u0000" + bound, k -> new Shape(call, bound));
        if (!s.outcomes.contains(outcome)) s.outcomes.add(outcome);
        current = s;
    }

    static void check(boolean condition, String what, Object found) {
        if (condition) {
            passed++;
            System.out.println("ok " + DRIVER + ": " + what);
        } else {
            failed++;
            System.out.println("not ok " + DRIVER + ": " + what + ": found " + found);
        }
        if (current != null && !current.checked.contains(what)) current.checked.add(what);
    }

    static void check(boolean condition, String what) {
        check(condition, what, null);
    }

    static void flush() {
        for (Shape s : shapes.values()) {
            String[] cells = {DRIVER, s.call, s.bound, String.join("; ", s.outcomes), String.join("; ", s.checked)};
            StringBuilder line = new StringBuilder("shape");
            for (String c : cells) line.append('\t').append(c.replaceAll("[\t\n]", " "));
            System.out.println(line);
        }
    }

    // --- binding ------------------------------------------------------------

    /** One bound value and the setter that binds it. */
    record Bind(String how, Object value) {}

    static Bind str(String v) { return new Bind("setString", v); }
    static Bind lng(long v) { return new Bind("setLong", v); }
    static Bind integer(int v) { return new Bind("setInt", v); }
    static Bind textArray(String... v) { return new Bind("setArray(createArrayOf(\"text\"))", v); }
    static Bind jsonb(String json) { return new Bind("setObject(PGobject jsonb)", json); }
    static Bind timestamptz(OffsetDateTime v) { return new Bind("setObject(OffsetDateTime)", v); }

    static Connection conn;

    static void bind(PreparedStatement ps, int i, Bind b) throws SQLException {
        switch (b.how()) {
            case "setString" -> ps.setString(i, (String) b.value());
            case "setLong" -> ps.setLong(i, (Long) b.value());
            case "setInt" -> ps.setInt(i, (Integer) b.value());
            case "setArray(createArrayOf(\"text\"))" -> ps.setArray(i, conn.createArrayOf("text", (String[]) b.value()));
            case "setObject(PGobject jsonb)" -> {
                PGobject o = new PGobject();
                o.setType("jsonb");
                o.setValue((String) b.value());
                ps.setObject(i, o);
            }
            case "setObject(OffsetDateTime)" -> ps.setObject(i, b.value());
            default -> throw new IllegalArgumentException(b.how());
        }
    }

    // --- calls --------------------------------------------------------------

    static final class Outcome {
        List<Map<String, Object>> rows;
        SQLException error;
    }

    static List<Map<String, Object>> query(String sql, Bind... binds) throws SQLException {
        try (PreparedStatement ps = conn.prepareStatement(sql)) {
            for (int i = 0; i < binds.length; i++) bind(ps, i + 1, binds[i]);
            List<Map<String, Object>> rows = new ArrayList<>();
            if (!ps.execute()) return rows;
            try (ResultSet rs = ps.getResultSet()) {
                ResultSetMetaData md = rs.getMetaData();
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    for (int c = 1; c <= md.getColumnCount(); c++) row.put(md.getColumnLabel(c), rs.getObject(c));
                    rows.add(row);
                }
            }
            return rows;
        }
    }

    static final List<String> EXPECTED_CODES = List.of("PJ001", "23514", "PX042");

    static String outcomeText(Outcome o) {
        if (o.error != null) {
            String state = o.error.getSQLState();
            if (EXPECTED_CODES.contains(state)) return "error " + state;
            return "error " + state + ": " + serverMessage(o.error);
        }
        if (o.rows.size() == 1 && o.rows.get(0).size() == 1) return show(o.rows.get(0).values().iterator().next());
        if (o.rows.size() == 1) return show(o.rows.get(0));
        List<Object> column = new ArrayList<>();
        for (Map<String, Object> row : o.rows) column.add(row.values().iterator().next());
        return show(column);
    }

    static String serverMessage(SQLException e) {
        if (e instanceof PSQLException p && p.getServerErrorMessage() != null) return p.getServerErrorMessage().getMessage();
        return String.valueOf(e.getMessage()).split("\n")[0];
    }

    static String show(Object v) {
        if (v == null) return "null";
        if (v instanceof String s) return "\"" + s + "\"";
        if (v instanceof List<?> l) {
            List<String> parts = new ArrayList<>();
            for (Object x : l) parts.add(show(x));
            return "[" + String.join(", ", parts) + "]";
        }
        if (v instanceof Map<?, ?> m) {
            List<String> parts = new ArrayList<>();
            for (Map.Entry<?, ?> e : m.entrySet()) parts.add(e.getKey() + ": " + show(e.getValue()));
            return "{" + String.join(", ", parts) + "}";
        }
        if (v instanceof PGobject p) return p.getType() + " " + show(p.getValue());
        return String.valueOf(v);
    }

    /** An extension call: recorded in the call-shape table with its outcome. */
    static Outcome call(String sql, Bind... binds) {
        Outcome o = new Outcome();
        try {
            o.rows = query(sql, binds);
        } catch (SQLException e) {
            o.error = e;
        }
        List<String> how = new ArrayList<>();
        for (Bind b : binds) how.add(b.how());
        shape(sql, String.join(", ", how), outcomeText(o));
        return o;
    }

    static Object value(Outcome o) {
        if (o.rows != null && o.rows.size() == 1) return o.rows.get(0).values().iterator().next();
        return null;
    }

    static Object valueOrCode(Outcome o) {
        return o.error == null ? value(o) : code(o);
    }

    static List<Object> column(Outcome o) {
        List<Object> c = new ArrayList<>();
        if (o.rows != null) for (Map<String, Object> row : o.rows) c.add(row.values().iterator().next());
        return c;
    }

    static String code(Outcome o) {
        return o.error == null ? "no error" : Objects.requireNonNullElse(o.error.getSQLState(), "no SQLSTATE");
    }

    static Long num(Object v) {
        return v instanceof Number n ? n.longValue() : null;
    }

    // --- the database's state, read back -----------------------------------

    static List<Object> hashes(String event, String handler) throws SQLException {
        List<Object> out = new ArrayList<>();
        for (Map<String, Object> row : query("SELECT \"payloadHash\" FROM projection_offset WHERE \"eventId\" = ? AND \"handlerName\" = ?",
                str(event), str(handler))) out.add(row.get("payloadHash"));
        return out;
    }

    static List<Long> positions(String event, String handler) throws SQLException {
        List<Long> out = new ArrayList<>();
        for (Map<String, Object> row : query("SELECT \"position\" FROM projection_offset_position WHERE \"eventId\" = ? AND \"handlerName\" = ?",
                str(event), str(handler))) out.add(num(row.get("position")));
        return out;
    }

    static long applied(String event) throws SQLException {
        return num(query("SELECT count(*) AS n FROM drivers_applied WHERE event_id = ?", str(event)).get(0).get("n"));
    }

    static long offsetCount(String handler) throws SQLException {
        return num(query("SELECT count(*) AS n FROM projection_offset WHERE \"handlerName\" = ?", str(handler)).get(0).get("n"));
    }

    static boolean hashOfApplied(String event, String handler) throws SQLException {
        List<Map<String, Object>> rows = query(
                "SELECT o.\"payloadHash\" = encode(sha256(convert_to(a.payload::text, 'UTF8')), 'hex') AS same"
                        + " FROM projection_offset o JOIN drivers_applied a ON a.event_id = o.\"eventId\""
                        + " WHERE o.\"eventId\" = ? AND o.\"handlerName\" = ?", str(event), str(handler));
        return rows.size() == 1 && Boolean.TRUE.equals(rows.get(0).get("same"));
    }

    static void projectorError(Outcome o, String expected, String handler, String event) {
        check(expected.equals(code(o)), "the projector's own SQLSTATE " + expected + " reaches the application (err.getSQLState())", code(o));
        ServerErrorMessage m = o.error instanceof PSQLException p ? p.getServerErrorMessage() : null;
        String where = m == null ? null : m.getWhere();
        String line = "projection_offset projector for handler \"" + handler + "\", event \"" + event + "\"";
        check(where != null && where.contains(line),
                "the CONTEXT line names handler and event (err.getServerErrorMessage().getWhere())", where);
    }

    static String id(String n) { return DRIVER + "-" + n; }
    static String handler(String n) { return DRIVER + ":" + n; }

    // --- the scenario -------------------------------------------------------

    static void scenario() throws SQLException {
        // --- offset_claim: claim, re-delivery, divergence
        String claims = handler("claims");
        Outcome o = call("SELECT offset_claim(?, ?) AS recorded", str(id("c1")), str(claims));
        check(Boolean.TRUE.equals(value(o)), "offset_claim of a new event returns true", valueOrCode(o));
        o = call("SELECT offset_claim(?, ?) AS recorded", str(id("c1")), str(claims));
        check(Boolean.FALSE.equals(value(o)), "offset_claim of a re-delivery returns false", valueOrCode(o));
        check(hashes(id("c1"), claims).equals(java.util.Collections.singletonList(null)), "one offset row, no payload hash", hashes(id("c1"), claims));

        o = call("SELECT offset_claim(?, ?, ?) AS recorded", str(id("c2")), str(claims), str("aaaa"));
        check(Boolean.TRUE.equals(value(o)), "offset_claim with a payload hash returns true", valueOrCode(o));
        o = call("SELECT offset_claim(?, ?, ?) AS recorded", str(id("c2")), str(claims), str("aaaa"));
        check(Boolean.FALSE.equals(value(o)), "the same hash again returns false", valueOrCode(o));
        o = call("SELECT offset_claim(?, ?, ?) AS recorded", str(id("c2")), str(claims), str("bbbb"));
        check("PJ001".equals(code(o)), "a different hash raises PJ001, read at err.getSQLState()", code(o));
        check(hashes(id("c2"), claims).equals(List.of("aaaa")), "the divergent call stored nothing: one row, hash aaaa", hashes(id("c2"), claims));

        // The JDBC escape for a function call.
        String escape = "{? = call offset_claim(?, ?)}";
        Boolean escaped = null;
        String escapeOutcome;
        try (CallableStatement cs = conn.prepareCall(escape)) {
            cs.registerOutParameter(1, Types.BOOLEAN);
            cs.setString(2, id("c3"));
            cs.setString(3, claims);
            cs.execute();
            escaped = cs.getBoolean(1);
            escapeOutcome = String.valueOf(escaped);
        } catch (SQLException e) {
            escapeOutcome = "error " + e.getSQLState() + ": " + serverMessage(e);
        }
        shape(escape, "registerOutParameter(BOOLEAN), setString, setString", escapeOutcome);
        check(Boolean.TRUE.equals(escaped) && hashes(id("c3"), claims).size() == 1,
                "a CallableStatement {? = call offset_claim(?, ?)} claims once", escapeOutcome);

        // --- offset_claim_at against a checkpoint
        String positioned = handler("positions");
        o = call("SELECT offset_checkpoint(?, ?) AS checkpoint", str(positioned), lng(100));
        check(Long.valueOf(100).equals(num(value(o))), "offset_checkpoint returns the checkpoint in force", valueOrCode(o));
        o = call("SELECT offset_claim_at(?, ?, ?) AS recorded", str(id("p50")), str(positioned), lng(50));
        check(Boolean.FALSE.equals(value(o)), "offset_claim_at below the checkpoint returns false", valueOrCode(o));
        check(hashes(id("p50"), positioned).isEmpty() && positions(id("p50"), positioned).isEmpty(),
                "a claim below the checkpoint stores no offset and no position");
        o = call("SELECT offset_claim_at(?, ?, ?) AS recorded", str(id("p150")), str(positioned), lng(150));
        check(Boolean.TRUE.equals(value(o)), "offset_claim_at above the checkpoint returns true", valueOrCode(o));
        check(positions(id("p150"), positioned).equals(List.of(150L)),
                "the bound number is stored as the position (projection_offset_position)", positions(id("p150"), positioned));
        o = call("SELECT offset_claim_at(?, ?, ?, ?) AS recorded", str(id("p151")), str(positioned), lng(151), str("cccc"));
        check(Boolean.TRUE.equals(value(o)), "offset_claim_at with position and hash returns true", valueOrCode(o));
        check(hashes(id("p151"), positioned).equals(List.of("cccc")) && positions(id("p151"), positioned).equals(List.of(151L)),
                "position 151 and hash cccc stored");
        // setInt: an int4 parameter reaches the bigint position as well.
        o = call("SELECT offset_claim_at(?, ?, ?) AS recorded", str(id("p152")), str(handler("positions-int")), integer(152));
        check(Boolean.TRUE.equals(value(o)) && positions(id("p152"), handler("positions-int")).equals(List.of(152L)),
                "a setInt position is stored as the position too", valueOrCode(o));

        // A number bound as offset_claim's third argument: that argument is the
        // payload hash; the name offset_claim never takes a position.
        o = call("SELECT offset_claim(?, ?, ?) AS recorded", str(id("n42")), str(claims), lng(42));
        check(positions(id("n42"), claims).isEmpty(), "a number bound to offset_claim is never stored as a position");
        List<Object> stored42 = hashes(id("n42"), claims);
        check(o.error != null ? stored42.isEmpty() : stored42.equals(List.of("42")),
                "it is refused, or stored as the hash text 42 it was bound as", stored42);

        // --- offset_claim_batch
        String batch = handler("batch");
        o = call("SELECT id FROM offset_claim_batch(?, ?) AS id", textArray(id("b0")), str(batch));
        check(column(o).equals(List.of(id("b0"))), "offset_claim_batch of one new id returns it", column(o));
        o = call("SELECT id FROM offset_claim_batch(?, ?) AS id", textArray(id("b1"), id("b0"), id("b2"), id("b1")), str(batch));
        check(column(o).equals(List.of(id("b1"), id("b2"))), "offset_claim_batch returns exactly the new ids, in order",
                o.error == null ? column(o) : code(o));
        check(offsetCount(batch) == 3, "three offset rows for the batch handler", offsetCount(batch));
        o = call("SELECT id FROM offset_claim_batch(?, ?) AS id", textArray(id("b1"), id("b2")), str(batch));
        check(o.rows != null && o.rows.isEmpty(), "a re-delivered batch returns no id", o.error == null ? column(o) : code(o));

        // An array bound to the single-event name.
        long before = offsetCount(claims);
        o = call("SELECT offset_claim(?, ?) AS recorded", textArray(id("m1"), id("m2")), str(claims));
        List<Map<String, Object>> mis = query(
                "SELECT \"eventId\" FROM projection_offset WHERE \"handlerName\" = ? AND \"eventId\" LIKE '{%'", str(claims));
        check(hashes(id("m1"), claims).isEmpty() && hashes(id("m2"), claims).isEmpty(),
                "an array bound to offset_claim claims none of its elements");
        check(o.error != null ? offsetCount(claims) == before : mis.size() == 1,
                "it is refused, or stored as the one id the driver wrote the array as", mis);

        // --- apply_with_offset, single
        String apply = handler("apply");
        String sqlProjector = "public.drivers_project_sql(text,jsonb)";
        String apply4 = "SELECT apply_with_offset(?, ?, ?, ?) AS applied";
        o = call(apply4, str(id("a1")), str(apply), str(sqlProjector), jsonb("{\"amount\": 5}"));
        check(Boolean.TRUE.equals(value(o)), "apply_with_offset with a LANGUAGE sql projector returns true", valueOrCode(o));
        o = call(apply4, str(id("a1")), str(apply), str(sqlProjector), jsonb("{\"amount\": 5}"));
        check(Boolean.FALSE.equals(value(o)), "its re-delivery returns false", valueOrCode(o));
        check(applied(id("a1")) == 1, "the projector ran once (one read-model row)", applied(id("a1")));
        check(hashOfApplied(id("a1"), apply), "the stored hash is the SHA-256 of the payload the projector got");
        o = call(apply4, str(id("a1")), str(apply), str(sqlProjector), jsonb("{\"amount\": 6}"));
        check("PJ001".equals(code(o)), "a different payload under the same id raises PJ001", code(o));
        check(applied(id("a1")) == 1, "and the projector did not run again", applied(id("a1")));
        // The payload with setString: varchar has no implicit cast to jsonb.
        o = call(apply4, str(id("a5")), str(apply), str(sqlProjector), str("{\"amount\": 5}"));
        check(o.error != null ? hashes(id("a5"), apply).isEmpty() && applied(id("a5")) == 0 : applied(id("a5")) == 1,
                "a payload without the driver's JSON support is refused and stores nothing, or is applied once", outcomeText(o));

        // Three parameters, the projector as a bare name: not ambiguous.
        o = call("SELECT apply_with_offset(?, ?, ?) AS applied", str(id("a2")), str(apply), str("public.drivers_project_plpgsql"));
        check(Boolean.TRUE.equals(value(o)), "apply_with_offset($1, $2, $3) with a bare projector name returns true (not 42725)", valueOrCode(o));
        check(applied(id("a2")) == 1 && hashes(id("a2"), apply).equals(java.util.Collections.singletonList(null)),
                "the LANGUAGE plpgsql projector ran once; no payload, no hash");

        // The projector's own errors keep their SQLSTATE; nothing is stored.
        o = call(apply4, str(id("a3")), str(apply), str(sqlProjector), jsonb("{\"amount\": -1}"));
        projectorError(o, "23514", apply, id("a3"));
        check(hashes(id("a3"), apply).isEmpty() && applied(id("a3")) == 0, "a failed projector leaves no offset and no read-model row");
        String plpgsqlProjector = "public.drivers_project_plpgsql(text,jsonb)";
        o = call(apply4, str(id("a4")), str(apply), str(plpgsqlProjector), jsonb("{\"amount\": 1, \"raise\": \"PX042\"}"));
        projectorError(o, "PX042", apply, id("a4"));
        check(hashes(id("a4"), apply).isEmpty() && applied(id("a4")) == 0, "the row the projector wrote before raising is gone, and no offset");
        o = call(apply4, str(id("a4")), str(apply), str(plpgsqlProjector), jsonb("{\"amount\": 1}"));
        check(Boolean.TRUE.equals(value(o)) && applied(id("a4")) == 1, "the event is still new: the next delivery applies it once", valueOrCode(o));

        // --- apply_with_offset_batch
        String batchApply = handler("batch-apply");
        String applyBatch = "SELECT apply_with_offset_batch(?, ?, ?) AS applied";
        String e1 = "{\"event_id\": \"" + id("e1") + "\", \"payload\": {\"amount\": 1}, \"position\": 1}";
        String e2 = "{\"event_id\": \"" + id("e2") + "\", \"payload\": {\"amount\": 2}, \"position\": 2}";
        String e3 = "{\"event_id\": \"" + id("e3") + "\", \"payload\": {\"amount\": 3}, \"position\": 3}";
        o = call(applyBatch, str(batchApply), str(sqlProjector), jsonb("[" + e1 + ", " + e2 + ", " + e1 + "]"));
        check(Long.valueOf(2).equals(num(value(o))), "apply_with_offset_batch returns how many it applied (a repeat counts once)", valueOrCode(o));
        o = call(applyBatch, str(batchApply), str(sqlProjector), jsonb("[" + e1 + ", " + e2 + ", " + e1 + ", " + e3 + "]"));
        check(Long.valueOf(1).equals(num(value(o))), "a re-delivered batch applies only the new event", valueOrCode(o));
        check(applied(id("e1")) == 1 && applied(id("e2")) == 1 && applied(id("e3")) == 1, "each event of the batches applied exactly once");
        check(positions(id("e2"), batchApply).equals(List.of(2L)), "the events' positions are stored", positions(id("e2"), batchApply));
        // The events with setString: varchar has no implicit cast to jsonb.
        o = call(applyBatch, str(batchApply), str(sqlProjector), str("[{\"event_id\": \"" + id("e9") + "\"}]"));
        check(o.error != null ? applied(id("e9")) == 0 && hashes(id("e9"), batchApply).isEmpty() : applied(id("e9")) == 1,
                "events without the driver's JSON support are refused and store nothing, or are applied once", outcomeText(o));

        o = call(applyBatch, str(handler("batch-set")), str("public.drivers_project_set(text[],jsonb[])"),
                jsonb("[{\"event_id\": \"" + id("s1") + "\", \"payload\": {\"amount\": 1}}, {\"event_id\": \"" + id("s2") + "\"}]"));
        check(Long.valueOf(2).equals(num(value(o))) && applied(id("s1")) == 1 && applied(id("s2")) == 1,
                "a set projector applies the batch once", valueOrCode(o));

        o = call(applyBatch, str(batchApply), str("public.drivers_project_plpgsql"),
                jsonb("[{\"event_id\": \"" + id("f1") + "\", \"payload\": {\"amount\": 1}},"
                        + " {\"event_id\": \"" + id("f2") + "\", \"payload\": {\"amount\": 1, \"raise\": \"PX042\"}}]"));
        projectorError(o, "PX042", batchApply, id("f2"));
        check(hashes(id("f1"), batchApply).isEmpty() && applied(id("f1")) == 0 && applied(id("f2")) == 0,
                "a failed batch stores nothing, not even its first event");

        // --- which function each call reached
        // With track_functions = 'all', pg_stat_xact_user_functions names every
        // function the transaction called, with its argument types.
        String resolved = handler("resolved");
        conn.setAutoCommit(false);
        try {
            try (Statement st = conn.createStatement()) {
                st.execute("SET LOCAL track_functions = 'all'");
            }
            call(apply4, str(id("r1")), str(resolved), str(sqlProjector), jsonb("{\"amount\": 1}"));
            call("SELECT apply_with_offset(?, ?, ?) AS applied", str(id("r2")), str(resolved), str("public.drivers_project_sql"));
            call(applyBatch, str(resolved), str(sqlProjector), jsonb("[{\"event_id\": \"" + id("r3") + "\"}]"));
            call("SELECT offset_claim(?, ?, ?) AS recorded", str(id("r4")), str(resolved), str("aaaa"));
            call("SELECT offset_claim_at(?, ?, ?) AS recorded", str(id("r5")), str(resolved), lng(5));
            call("SELECT id FROM offset_claim_batch(?, ?) AS id", textArray(id("r6")), str(resolved));
            List<String> found = new ArrayList<>();
            for (Map<String, Object> row : query("SELECT funcid::regprocedure::text AS fn, calls FROM pg_stat_xact_user_functions"
                    + " WHERE funcname IN ('apply_with_offset', 'apply_with_offset_batch', 'offset_claim',"
                    + " 'offset_claim_at', 'offset_claim_batch') ORDER BY 1")) {
                found.add(row.get("fn") + " x" + num(row.get("calls")));
            }
            current = null;
            check(found.equals(List.of(
                            "apply_with_offset(text,text,text,jsonb) x2",
                            "apply_with_offset_batch(text,text,jsonb) x1",
                            "offset_claim(text,text,text) x1",
                            "offset_claim_at(text,text,bigint,text) x1",
                            "offset_claim_batch(text[],text) x1")),
                    "each call reached the function named for it; a projector string reached the text form (pg_stat_xact_user_functions)",
                    found);
            conn.commit();
        } finally {
            conn.setAutoCommit(true);
        }

        // --- offset_replaying (one connection: the session)
        o = call("SELECT offset_replaying() AS replaying");
        check(Boolean.FALSE.equals(value(o)), "offset_replaying() is false by default", valueOrCode(o));
        try (Statement st = conn.createStatement()) {
            st.execute("SET projection_offset.replaying = on");
        }
        o = call("SELECT offset_replaying() AS replaying");
        check(Boolean.TRUE.equals(value(o)), "offset_replaying() is true after SET projection_offset.replaying = on in the session", valueOrCode(o));
        try (Statement st = conn.createStatement()) {
            st.execute("RESET projection_offset.replaying");
        }

        // --- release, checkpoint and prune, status, counters, reset
        o = call("SELECT offset_release(?, ?) AS released", str(id("c1")), str(claims));
        check(Boolean.TRUE.equals(value(o)) && hashes(id("c1"), claims).isEmpty(), "offset_release forgets the offset", valueOrCode(o));
        o = call("SELECT offset_release(?, ?) AS released", str(id("c1")), str(claims));
        check(Boolean.FALSE.equals(value(o)), "a second offset_release returns false", valueOrCode(o));

        o = call("SELECT offset_checkpoint(?, ?) AS checkpoint", str(positioned), lng(150));
        check(Long.valueOf(150).equals(num(value(o))), "offset_checkpoint moves forward", valueOrCode(o));
        o = call("SELECT offset_prune(?) AS pruned", str(positioned));
        check(Long.valueOf(1).equals(num(value(o))) && hashes(id("p150"), positioned).isEmpty() && hashes(id("p151"), positioned).size() == 1,
                "offset_prune(handler) removes the offsets at or below the checkpoint only", valueOrCode(o));
        o = call("SELECT offset_claim_at(?, ?, ?) AS recorded", str(id("p150")), str(positioned), lng(150));
        check(Boolean.FALSE.equals(value(o)) && hashes(id("p150"), positioned).isEmpty(),
                "a late re-delivery of a pruned event is still a duplicate and stores nothing", valueOrCode(o));
        o = call("SELECT offsets, \"checkpoint\" FROM projection_offset_status WHERE handler_name = ?", str(positioned));
        Map<String, Object> status = o.rows != null && o.rows.size() == 1 ? o.rows.get(0) : null;
        check(status != null && Long.valueOf(1).equals(num(status.get("offsets"))) && Long.valueOf(150).equals(num(status.get("checkpoint"))),
                "projection_offset_status shows 1 offset, checkpoint 150", status);

        OffsetDateTime inAnHour = OffsetDateTime.now().plusHours(1);
        long claimsLeft = offsetCount(claims);
        o = call("SELECT offset_prune(?, ?) AS pruned", str(claims), timestamptz(inAnHour));
        check(Long.valueOf(claimsLeft).equals(num(value(o))) && offsetCount(claims) == 0,
                "offset_prune(handler, older_than) removes the offsets applied before it", valueOrCode(o));

        String counted = handler("counted");
        o = call("SELECT projection_offset_counters_reset()");
        check(o.error == null, "projection_offset_counters_reset() runs", code(o));
        call("SELECT offset_claim(?, ?, ?) AS recorded", str(id("k1")), str(counted), str("aaaa"));
        call("SELECT offset_claim(?, ?, ?) AS recorded", str(id("k1")), str(counted), str("aaaa"));
        call("SELECT offset_claim(?, ?, ?) AS recorded", str(id("k1")), str(counted), str("bbbb"));
        o = call("SELECT claims, duplicates, divergences FROM projection_offset_counters() WHERE handler_name = ?", str(counted));
        Map<String, Object> c = o.rows != null && o.rows.size() == 1 ? o.rows.get(0) : null;
        check(c != null && Long.valueOf(1).equals(num(c.get("claims"))) && Long.valueOf(1).equals(num(c.get("duplicates")))
                        && Long.valueOf(1).equals(num(c.get("divergences"))),
                "projection_offset_counters() counts 1 claim, 1 duplicate, 1 divergence", c == null ? code(o) : c);

        long applyOffsets = offsetCount(apply);
        o = call("SELECT offset_reset(?) AS removed", str(apply));
        check(Long.valueOf(applyOffsets).equals(num(value(o))) && applyOffsets > 0 && offsetCount(apply) == 0,
                "offset_reset removes every offset of the handler", valueOrCode(o));

        current = null;
        List<String> ambiguous = new ArrayList<>();
        for (Shape s : shapes.values()) for (String x : s.outcomes) if (x.contains("42725")) ambiguous.add(x);
        check(ambiguous.isEmpty(), "no call shape above was ambiguous (42725)", ambiguous);
    }

    public static void main(String[] args) throws Exception {
        String host = System.getenv("PGHOST");
        String port = Objects.requireNonNullElse(System.getenv("PGPORT"), "5432");
        String db = Objects.requireNonNullElse(System.getenv("PGDATABASE"), "postgres");
        Properties props = new Properties();
        props.setProperty("user", Objects.requireNonNullElse(System.getenv("PGUSER"), "postgres"));
        String url;
        if (host != null && host.startsWith("/")) {
            url = "jdbc:postgresql://localhost:" + port + "/" + db;
            props.setProperty("socketFactory", UnixSocketFactory.class.getName());
            props.setProperty("socketFactoryArg", host + "/.s.PGSQL." + port);
        } else {
            url = "jdbc:postgresql://" + Objects.requireNonNullElse(host, "localhost") + ":" + port + "/" + db;
        }
        // Nothing else is set: stringtype, prepareThreshold and the rest keep
        // pgJDBC's defaults.
        conn = DriverManager.getConnection(url, props);
        try {
            scenario();
        } finally {
            conn.close();
        }
        flush();
        System.exit(failed == 0 ? 0 : 1);
    }

    /**
     * A socket on the server's Unix socket file (socketFactoryArg), for pgJDBC's
     * socketFactory setting, from the JDK alone (Java 16 and later).
     */
    public static final class UnixSocketFactory extends SocketFactory {
        private final String path;

        public UnixSocketFactory(String path) {
            this.path = path;
        }

        @Override
        public Socket createSocket() {
            return new UnixSocket(path);
        }

        @Override
        public Socket createSocket(String host, int port) throws IOException {
            Socket s = createSocket();
            s.connect(null);
            return s;
        }

        @Override
        public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
            return createSocket(host, port);
        }

        @Override
        public Socket createSocket(InetAddress host, int port) throws IOException {
            return createSocket(host.getHostName(), port);
        }

        @Override
        public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort) throws IOException {
            return createSocket(address, port);
        }
    }

    /** A java.net.Socket over a Unix-domain SocketChannel: connect, streams, close. */
    static final class UnixSocket extends Socket {
        private final String path;
        private SocketChannel channel;
        private InputStream in;
        private OutputStream out;

        UnixSocket(String path) {
            this.path = path;
        }

        @Override
        public void connect(SocketAddress ignored) throws IOException {
            connect(ignored, 0);
        }

        @Override
        public void connect(SocketAddress ignored, int timeout) throws IOException {
            channel = SocketChannel.open(UnixDomainSocketAddress.of(path));
            in = Channels.newInputStream(channel);
            out = Channels.newOutputStream(channel);
        }

        @Override
        public boolean isConnected() {
            return channel != null && channel.isConnected();
        }

        @Override
        public boolean isClosed() {
            return channel != null && !channel.isOpen();
        }

        @Override
        public InputStream getInputStream() {
            return in;
        }

        @Override
        public OutputStream getOutputStream() {
            return out;
        }

        @Override
        public synchronized void close() throws IOException {
            if (channel != null) channel.close();
        }

        // TCP options mean nothing on a Unix socket; pgJDBC sets them anyway.
        @Override
        public void setTcpNoDelay(boolean on) {}

        @Override
        public void setKeepAlive(boolean on) {}

        @Override
        public void setSoTimeout(int timeout) {}

        @Override
        public int getSoTimeout() {
            return 0;
        }

        @Override
        public void setReceiveBufferSize(int size) {}

        @Override
        public void setSendBufferSize(int size) {}
    }
}
