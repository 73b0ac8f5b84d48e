// projection_offset from C++ with libpq: claim + mutation in one transaction,
// errors told apart by SQLSTATE (PG_DIAG_SQLSTATE), never by message text.
//
// Build:  g++ -std=c++17 -O2 -Wall -I"$(pg_config --includedir)" -o apply_event apply_event.cpp -lpq
// Run:    ./apply_event            (connects with PGHOST, PGPORT, PGUSER, PGDATABASE)
//
// It creates a small read model (schema cpp_example), applies one event three
// times (recorded once, re-delivered twice), reuses the event id with another
// payload (PJ001), then does the same through the server-side
// apply_with_offset. Exits 0 when every outcome is the expected one.
#include <libpq-fe.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// A server error: its SQLSTATE and message.
struct DbError : std::runtime_error {
    std::string sqlstate;
    DbError(std::string state, const std::string& message)
        : std::runtime_error(message), sqlstate(std::move(state)) {}
};
// PJ001: the event id is recorded with another payload.
struct PayloadDivergence : DbError {
    using DbError::DbError;
};
// 22004, 22023, 22001: a NULL, empty or too long event id or handler name.
struct InvalidInput : DbError {
    using DbError::DbError;
};

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

[[noreturn]] void raise_from(const PGresult* res, PGconn* conn) {
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string code = state ? state : "";
    std::string message = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    if (code == "PJ001") throw PayloadDivergence(code, message);
    if (code == "22004" || code == "22023" || code == "22001") throw InvalidInput(code, message);
    throw DbError(code, message);
}

// Runs one statement with text parameters; throws the typed error on failure.
Result exec(PGconn* conn, const char* sql, const std::vector<const char*>& params = {}) {
    Result res(
        PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr, params.data(), nullptr, nullptr, 0),
        &PQclear);
    ExecStatusType status = PQresultStatus(res.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) raise_from(res.get(), conn);
    return res;
}

// The client-side apply: BEGIN; claim; the mutation only when the claim
// recorded the pair; COMMIT. Any error rolls back the claim and the mutation.
bool apply_event(PGconn* conn, const char* event_id, const char* handler, const char* order,
                 const char* amount, const char* payload_json) {
    exec(conn, "BEGIN");
    try {
        Result claim = exec(conn,
                            "SELECT offset_claim($1, $2, encode(sha256(convert_to($3::jsonb::text, "
                            "'UTF8')), 'hex'))",
                            {event_id, handler, payload_json});
        bool recorded = std::strcmp(PQgetvalue(claim.get(), 0, 0), "t") == 0;
        if (recorded) {
            exec(conn, "UPDATE cpp_example.order_totals SET total = total + $2::bigint WHERE order_id = $1",
                 {order, amount});
        }
        exec(conn, "COMMIT");
        return recorded;
    } catch (...) {
        PQclear(PQexec(conn, "ROLLBACK"));
        throw;
    }
}

// The server-side apply: one statement claims and calls the projector.
bool apply_on_server(PGconn* conn, const char* event_id, const char* handler, const char* payload_json) {
    Result res =
        exec(conn, "SELECT apply_with_offset($1, $2, 'cpp_example.project_order(text,jsonb)', $3::jsonb)",
             {event_id, handler, payload_json});
    return std::strcmp(PQgetvalue(res.get(), 0, 0), "t") == 0;
}

long total(PGconn* conn, const char* order) {
    Result res = exec(conn, "SELECT total FROM cpp_example.order_totals WHERE order_id = $1", {order});
    return std::stol(PQgetvalue(res.get(), 0, 0));
}

int failures = 0;
void expect(bool ok, const char* what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) ++failures;
}

}  // namespace

int main() {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(""), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        std::fprintf(stderr, "connection failed: %s", PQerrorMessage(conn.get()));
        return 2;
    }
    PGconn* c = conn.get();
    try {
        exec(c, "SET client_min_messages = warning");
        exec(c, "DROP SCHEMA IF EXISTS cpp_example CASCADE");
        exec(c, "DELETE FROM projection_offset WHERE \"handlerName\" LIKE 'cpp-example-%'");
        exec(c, "CREATE SCHEMA cpp_example");
        exec(c, "CREATE TABLE cpp_example.order_totals (order_id text PRIMARY KEY, total bigint NOT NULL)");
        exec(c, "INSERT INTO cpp_example.order_totals VALUES ('o-1', 0), ('o-2', 0)");
        exec(c,
             "CREATE FUNCTION cpp_example.project_order(event_id text, payload jsonb) RETURNS void "
             "LANGUAGE sql AS $$ UPDATE cpp_example.order_totals "
             "SET total = total + (payload->>'amount')::bigint WHERE order_id = payload->>'order' $$");

        const char* payload = R"({"order": "o-1", "amount": 25})";
        expect(apply_event(c, "evt-1", "cpp-example-totals", "o-1", "25", payload), "first delivery applied");
        expect(!apply_event(c, "evt-1", "cpp-example-totals", "o-1", "25", payload), "re-delivery skipped");
        expect(!apply_event(c, "evt-1", "cpp-example-totals", "o-1", "25", payload), "re-delivery skipped");
        expect(total(c, "o-1") == 25, "mutation applied once");

        try {
            apply_event(c, "evt-1", "cpp-example-totals", "o-1", "30", R"({"order": "o-1", "amount": 30})");
            expect(false, "reused event id raises PJ001");
        } catch (const PayloadDivergence& e) {
            expect(e.sqlstate == "PJ001", "reused event id raises PJ001 (PayloadDivergence)");
        }
        try {
            apply_event(c, "", "cpp-example-totals", "o-1", "1", payload);
            expect(false, "empty event id raises 22023");
        } catch (const InvalidInput& e) {
            expect(e.sqlstate == "22023", "empty event id raises 22023 (InvalidInput)");
        }
        expect(total(c, "o-1") == 25, "failed applies changed nothing");

        const char* p2 = R"({"order": "o-2", "amount": 5})";
        expect(apply_on_server(c, "evt-2", "cpp-example-totals", p2), "server-side apply applied");
        expect(!apply_on_server(c, "evt-2", "cpp-example-totals", p2), "server-side re-delivery skipped");
        expect(total(c, "o-2") == 5, "server-side projector ran once");
        try {
            apply_on_server(c, "evt-2", "cpp-example-totals", R"({"order": "o-2", "amount": 6})");
            expect(false, "server-side reuse raises PJ001");
        } catch (const PayloadDivergence&) {
            expect(true, "server-side reuse raises PJ001 (PayloadDivergence)");
        }

        exec(c, "DROP SCHEMA cpp_example CASCADE");
        exec(c, "DELETE FROM projection_offset WHERE \"handlerName\" LIKE 'cpp-example-%'");
    } catch (const DbError& e) {
        std::fprintf(stderr, "unexpected error %s: %s", e.sqlstate.c_str(), e.what());
        return 1;
    }
    std::printf("cpp example: %s\n", failures == 0 ? "all outcomes as expected" : "UNEXPECTED OUTCOMES");
    return failures == 0 ? 0 : 1;
}
