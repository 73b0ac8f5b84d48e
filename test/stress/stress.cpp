// Exactly-once driver for projection_offset.
//
// K client threads, each with its own libpq connection, deliver M events to
// the two handlers of test/stress/schema.sql ("totals" and "audit"), every
// event D times, in a seeded random order. Each delivery goes through one of
// the three ways an application records an offset, chosen at random:
//   apply  SELECT apply_with_offset(id, handler, projector, payload)
//   claim  BEGIN; SELECT offset_claim(id, handler, sha256 of payload);
//          UPDATE the counter if true; COMMIT
//   batch  BEGIN; SELECT * FROM offset_claim_batch(ARRAY[id], handler);
//          UPDATE the counter if the id came back; COMMIT
// so all three paths share the offsets and must agree on them.
//
// The D copies of a pair are placed within a window of --spread positions
// of the schedule (default 8 x clients), so copies of one pair are often in
// flight on different clients at once: re-deliveries race, not only repeat.
//
// With --crashes N, at N random positions of the schedule the client that
// reaches the position runs --crash-cmd (an immediate shutdown) while the
// others are in flight, then --restart-cmd, then checks the invariant and
// that every acknowledged claim survived, before the clients reconnect and
// retry what was in flight. A delivery whose outcome the crash made unknown
// is simply delivered again: that is the contract under test.
//
// A libpq program rather than pgbench: pgbench clients draw their values
// independently, so it cannot deliver each event exactly D times from one
// shared schedule; it gives up on a client whose connection is lost, so it
// cannot carry a load through a crash; and it cannot tell, per pair, which
// answers were acknowledged, which is what the durability check needs.
//
// Exit status 0 only when, at the end, every pair was applied exactly once,
// offsets = mutations, no pair was acknowledged as applied twice, and every
// error was one the run expects (40001 under REPEATABLE READ / SERIALIZABLE;
// lost connections and 57P0x around a crash).

#include <libpq-fe.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

struct Options {
    int clients = 8;
    long events = 10000;
    int deliveries = 5;
    long spread = -1;  // -1: 8 x clients
    uint64_t seed = 0;
    bool seed_given = false;
    std::string isolation = "read committed";
    int crashes = 0;
    std::string crash_cmd;
    std::string restart_cmd;
    int restart_wait_s = 120;
};

const char* const kHandlers[2] = {"totals", "audit"};
const char* const kProjectors[2] = {"stress_totals(text,jsonb)", "stress_audit(jsonb)"};

enum class Api : uint8_t { Apply, Claim, Batch };
const char* const kApiNames[3] = {"apply_with_offset", "offset_claim", "offset_claim_batch"};

struct Delivery {
    uint32_t event;  // 1..M
    uint8_t handler;
    Api api;
};

long amount_of(uint32_t event) { return static_cast<long>(event % 97) + 1; }

[[noreturn]] void usage(const char* msg) {
    std::fprintf(stderr,
                 "error: %s\n"
                 "usage: po_stress [--clients K] [--events M] [--deliveries D] [--spread W]\n"
                 "                 [--seed S] [--isolation rc|rr|sr]\n"
                 "                 [--crashes N --crash-cmd CMD --restart-cmd CMD]\n"
                 "Connection settings come from the PG* environment variables.\n",
                 msg);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--clients")
            o.clients = std::stoi(value());
        else if (a == "--events")
            o.events = std::stol(value());
        else if (a == "--deliveries")
            o.deliveries = std::stoi(value());
        else if (a == "--spread")
            o.spread = std::stol(value());
        else if (a == "--seed") {
            o.seed = std::stoull(value());
            o.seed_given = true;
        } else if (a == "--isolation") {
            std::string v = value();
            if (v == "rc")
                o.isolation = "read committed";
            else if (v == "rr")
                o.isolation = "repeatable read";
            else if (v == "sr")
                o.isolation = "serializable";
            else
                usage("--isolation takes rc, rr or sr");
        } else if (a == "--crashes")
            o.crashes = std::stoi(value());
        else if (a == "--crash-cmd")
            o.crash_cmd = value();
        else if (a == "--restart-cmd")
            o.restart_cmd = value();
        else
            usage(("unknown option " + a).c_str());
    }
    if (o.clients < 1 || o.events < 1 || o.deliveries < 1) usage("sizes must be positive");
    if (o.crashes > 0 && (o.crash_cmd.empty() || o.restart_cmd.empty()))
        usage("--crashes needs --crash-cmd and --restart-cmd");
    if (o.spread < 0) o.spread = 8L * o.clients;
    if (!o.seed_given)
        o.seed = std::random_device{}() ^ (static_cast<uint64_t>(std::random_device{}()) << 32);
    return o;
}

// ---------------------------------------------------------------- schedule

std::vector<Delivery> make_schedule(const Options& o) {
    std::mt19937_64 rng(o.seed);
    const uint64_t pairs = static_cast<uint64_t>(o.events) * 2;
    std::vector<uint64_t> rank(pairs);
    for (uint64_t i = 0; i < pairs; ++i) rank[i] = i;
    std::shuffle(rank.begin(), rank.end(), rng);

    struct Keyed {
        uint64_t key;
        Delivery d;
    };
    std::vector<Keyed> keyed;
    keyed.reserve(pairs * o.deliveries);
    std::uniform_int_distribution<uint64_t> jitter(0, static_cast<uint64_t>(o.spread));
    std::uniform_int_distribution<int> api(0, 3);
    for (uint64_t p = 0; p < pairs; ++p) {
        Delivery d{static_cast<uint32_t>(p / 2 + 1), static_cast<uint8_t>(p % 2), Api::Apply};
        for (int c = 0; c < o.deliveries; ++c) {
            int a = api(rng);  // apply twice as often as each claim form
            d.api = a <= 1 ? Api::Apply : (a == 2 ? Api::Claim : Api::Batch);
            uint64_t key = o.spread == 0 ? rng() : rank[p] * o.deliveries + c + jitter(rng);
            keyed.push_back({key, d});
        }
    }
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const Keyed& x, const Keyed& y) { return x.key < y.key; });
    std::vector<Delivery> out;
    out.reserve(keyed.size());
    for (const Keyed& k : keyed) out.push_back(k.d);
    return out;
}

// ---------------------------------------------------------------- shared state

struct Stats {
    std::mutex m;
    std::map<std::pair<std::string, bool>, long> errors;  // (label, expected) -> count
    long notices = 0;                                     // server warnings, e.g. at shutdown
    std::vector<std::string> samples;                     // first messages of unexpected errors
    long recorded = 0, redelivered = 0, retries = 0, in_doubt = 0, reconnects = 0, gave_up = 0;
    long by_api[3] = {0, 0, 0};
};

struct Shared {
    const Options& opt;
    const std::vector<Delivery>& schedule;
    std::atomic<uint64_t> next{0};
    std::vector<std::atomic<uint8_t>> acked;  // per pair: acknowledged "recorded now"
    std::vector<uint64_t> crash_points;       // sorted positions in the schedule
    Stats stats;

    // The gate: closed while the server is being crashed, restarted and checked.
    std::mutex gate_m;
    std::condition_variable gate_cv;
    bool crashing = false;
    int crashes_done = 0;
    bool crash_failed = false;

    Shared(const Options& o, const std::vector<Delivery>& s)
        : opt(o), schedule(s), acked(static_cast<size_t>(o.events) * 2) {}

    size_t pair_index(const Delivery& d) const { return (d.event - 1) * 2 + d.handler; }

    void wait_gate() {
        std::unique_lock<std::mutex> lock(gate_m);
        gate_cv.wait(lock, [&] { return !crashing; });
    }
};

bool serialization_failure(const std::string& state) { return state == "40001"; }
bool crash_state(const std::string& state) {
    return state == "57P01" || state == "57P02" || state == "57P03" || state.rfind("08", 0) == 0;
}

void note_error(Shared& sh, const std::string& label, bool expected, const std::string& message) {
    std::lock_guard<std::mutex> lock(sh.stats.m);
    sh.stats.errors[{label, expected}]++;
    if (!expected && sh.stats.samples.size() < 10) sh.stats.samples.push_back(label + ": " + message);
}

// ---------------------------------------------------------------- connection

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

struct Failure {
    std::string state;  // SQLSTATE, or "" when the connection was lost without one
    std::string message;
    bool connection_lost;
};

class Client {
public:
    explicit Client(Shared& sh, int id) : sh_(sh), id_(id) {}
    ~Client() {
        if (conn_) PQfinish(conn_);
    }

    // Connects (again) when needed. Around a crash the server may refuse or
    // be starting up: retried until it accepts or restart_wait_s pass.
    bool ensure_connected() {
        if (conn_ && PQstatus(conn_) == CONNECTION_OK) return true;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(sh_.opt.restart_wait_s);
        for (;;) {
            sh_.wait_gate();
            if (conn_) PQfinish(conn_);
            conn_ = PQconnectdb("");
            PQsetNoticeProcessor(conn_, &Client::on_notice, &sh_);
            if (PQstatus(conn_) == CONNECTION_OK && setup()) {
                std::lock_guard<std::mutex> lock(sh_.stats.m);
                sh_.stats.reconnects++;
                return true;
            }
            if (sh_.opt.crashes == 0 || std::chrono::steady_clock::now() > deadline) {
                std::fprintf(stderr, "client %d: cannot connect: %s", id_, PQerrorMessage(conn_));
                return false;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

    // Returns true for "recorded now", false for a re-delivery; throws Failure.
    bool deliver(const Delivery& d) {
        const std::string event = "evt-" + std::to_string(d.event);
        const std::string amount = std::to_string(amount_of(d.event));
        const std::string payload = "{\"event\": \"" + event + "\", \"amount\": " + amount + "}";
        const char* handler = kHandlers[d.handler];
        switch (d.api) {
            case Api::Apply: {
                const char* params[4] = {event.c_str(), handler, kProjectors[d.handler], payload.c_str()};
                ResultPtr r = exec_prepared("apply", 4, params, PGRES_TUPLES_OK);
                return single_bool(r.get());
            }
            case Api::Claim:
            case Api::Batch: {
                ResultPtr begin(PQexec(conn_, "BEGIN"), &PQclear);
                check(begin.get(), PGRES_COMMAND_OK);
                bool recorded;
                if (d.api == Api::Claim) {
                    const char* params[3] = {event.c_str(), handler, payload.c_str()};
                    ResultPtr r = exec_prepared("claim", 3, params, PGRES_TUPLES_OK);
                    recorded = single_bool(r.get());
                } else {
                    const char* params[2] = {event.c_str(), handler};
                    ResultPtr r = exec_prepared("batch", 2, params, PGRES_TUPLES_OK);
                    recorded = PQntuples(r.get()) == 1;
                    if (PQntuples(r.get()) > 1 || (recorded && event != PQgetvalue(r.get(), 0, 0)))
                        throw Failure{"XX000", "batch claim returned an unexpected set", false};
                }
                if (recorded) {
                    const char* params[3] = {handler, event.c_str(), amount.c_str()};
                    ResultPtr u = exec_prepared("mutate", 3, params, PGRES_COMMAND_OK);
                    if (std::strcmp(PQcmdTuples(u.get()), "1") != 0)
                        throw Failure{"XX000", "counter row missing for " + event, false};
                }
                ResultPtr commit(PQexec(conn_, "COMMIT"), &PQclear);
                check(commit.get(), PGRES_COMMAND_OK);
                // A COMMIT of an aborted transaction reports ROLLBACK.
                if (std::strcmp(PQcmdStatus(commit.get()), "COMMIT") != 0)
                    throw Failure{"XX000", "COMMIT answered " + std::string(PQcmdStatus(commit.get())),
                                  false};
                return recorded;
            }
        }
        return false;
    }

    void rollback_if_open() {
        if (conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
            PQclear(PQexec(conn_, "ROLLBACK"));
        }
    }

    // After a lost connection: connect afresh before the next attempt.
    void drop() {
        if (conn_) PQfinish(conn_);
        conn_ = nullptr;
    }

    // "terminating connection due to immediate shutdown command" arrives as
    // a WARNING before the connection closes: counted, not printed.
    static void on_notice(void* arg, const char*) {
        Shared* sh = static_cast<Shared*>(arg);
        std::lock_guard<std::mutex> lock(sh->stats.m);
        sh->stats.notices++;
    }

private:
    bool setup() {
        std::string set = "SET default_transaction_isolation = '" + sh_.opt.isolation +
                          "'; SET application_name = 'po_stress'";
        ResultPtr r(PQexec(conn_, set.c_str()), &PQclear);
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return false;
        const char* stmts[4][2] = {
            {"apply", "SELECT apply_with_offset($1, $2, $3::regprocedure, $4::jsonb)"},
            {"claim",
             "SELECT offset_claim($1, $2, encode(sha256(convert_to($3::jsonb::text, 'UTF8')), 'hex'))"},
            {"batch", "SELECT id FROM offset_claim_batch(ARRAY[$1], $2) AS id"},
            {"mutate",
             "UPDATE stress_applied SET times = times + 1, total = total + $3::bigint"
             " WHERE handler = $1 AND event_id = $2"},
        };
        for (auto& s : stmts) {
            ResultPtr p(PQprepare(conn_, s[0], s[1], 0, nullptr), &PQclear);
            if (PQresultStatus(p.get()) != PGRES_COMMAND_OK) {
                std::fprintf(stderr, "client %d: prepare %s: %s", id_, s[0], PQerrorMessage(conn_));
                return false;
            }
        }
        return true;
    }

    ResultPtr exec_prepared(const char* name, int n, const char* const* params, ExecStatusType want) {
        ResultPtr r(PQexecPrepared(conn_, name, n, params, nullptr, nullptr, 0), &PQclear);
        check(r.get(), want);
        return r;
    }

    void check(PGresult* r, ExecStatusType want) {
        if (r && PQresultStatus(r) == want) return;
        Failure f;
        const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
        f.state = state ? state : "";
        f.message = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
        if (f.message.empty()) f.message = PQerrorMessage(conn_);
        while (!f.message.empty() && (f.message.back() == '\n' || f.message.back() == ' '))
            f.message.pop_back();
        f.connection_lost = PQstatus(conn_) != CONNECTION_OK;
        throw f;
    }

    static bool single_bool(PGresult* r) {
        if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) throw Failure{"XX000", "expected one boolean", false};
        return PQgetvalue(r, 0, 0)[0] == 't';
    }

    Shared& sh_;
    int id_;
    PGconn* conn_ = nullptr;
};

// ---------------------------------------------------------------- checks

struct Invariant {
    long offsets_without_mutation = -1, mutations_without_offset = -1, applied_more_than_once = -1;
    long offsets = -1, mutated = -1, pairs = -1;
    long acknowledged_lost = -1;  // pairs acknowledged as recorded but absent
    std::string error;
};

Invariant check_invariant(Shared& sh) {
    Invariant inv;
    PGconn* c = PQconnectdb("");
    if (PQstatus(c) != CONNECTION_OK) {
        inv.error = PQerrorMessage(c);
        PQfinish(c);
        return inv;
    }
    // One snapshot for both queries.
    PQclear(PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ"));
    PGresult* r = PQexec(c,
                         "SELECT offsets_without_mutation, mutations_without_offset, applied_more_than_once,"
                         " offsets, mutated, pairs FROM stress_invariant");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        inv.error = PQerrorMessage(c);
    } else {
        long* fields[6] = {&inv.offsets_without_mutation,
                           &inv.mutations_without_offset,
                           &inv.applied_more_than_once,
                           &inv.offsets,
                           &inv.mutated,
                           &inv.pairs};
        for (int i = 0; i < 6; ++i) *fields[i] = std::atol(PQgetvalue(r, 0, i));
    }
    PQclear(r);
    // Every pair a client was told "recorded now" (and saw committed) must
    // be there, with its mutation.
    r = PQexec(c,
               "SELECT handler, substr(event_id, 5)::int FROM stress_applied WHERE times = 1"
               " AND EXISTS (SELECT FROM projection_offset o WHERE o.\"eventId\" = event_id"
               " AND o.\"handlerName\" = handler)");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        if (inv.error.empty()) inv.error = PQerrorMessage(c);
    } else {
        std::vector<uint8_t> present(sh.acked.size(), 0);
        for (int i = 0; i < PQntuples(r); ++i) {
            size_t h = std::strcmp(PQgetvalue(r, i, 0), "totals") == 0 ? 0 : 1;
            size_t e = static_cast<size_t>(std::atol(PQgetvalue(r, i, 1)));
            size_t idx = (e - 1) * 2 + h;
            if (e >= 1 && idx < present.size()) present[idx] = 1;
        }
        inv.acknowledged_lost = 0;
        for (size_t i = 0; i < present.size(); ++i)
            if (sh.acked[i].load() > 0 && !present[i]) inv.acknowledged_lost++;
    }
    PQclear(r);
    PQclear(PQexec(c, "COMMIT"));
    PQfinish(c);
    return inv;
}

bool invariant_holds(const Invariant& inv) {
    return inv.error.empty() && inv.offsets_without_mutation == 0 && inv.mutations_without_offset == 0 &&
           inv.applied_more_than_once == 0 && inv.acknowledged_lost == 0;
}

void print_invariant(const char* label, const Invariant& inv) {
    if (!inv.error.empty()) {
        std::printf("%s: check failed: %s\n", label, inv.error.c_str());
        return;
    }
    std::printf(
        "%s: offsets %ld, mutated pairs %ld of %ld; offsets without mutation %ld, "
        "mutations without offset %ld, applied more than once %ld, acknowledged but lost %ld -> %s\n",
        label, inv.offsets, inv.mutated, inv.pairs, inv.offsets_without_mutation,
        inv.mutations_without_offset, inv.applied_more_than_once, inv.acknowledged_lost,
        invariant_holds(inv) ? "ok" : "VIOLATED");
}

// ---------------------------------------------------------------- crash

int run_command(const std::string& cmd) {
    int rc = std::system(cmd.c_str());
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

void crash_and_check(Shared& sh, uint64_t position) {
    {
        std::unique_lock<std::mutex> lock(sh.gate_m);
        sh.gate_cv.wait(lock, [&] { return !sh.crashing; });
        sh.crashing = true;
    }
    int n = sh.crashes_done + 1;
    bool ok = true;
    // The other clients keep delivering until the server goes away under them.
    if (run_command(sh.opt.crash_cmd) != 0) {
        std::printf("crash %d: crash command failed\n", n);
        ok = false;
    }
    if (run_command(sh.opt.restart_cmd) != 0) {
        std::printf("crash %d: restart command failed\n", n);
        ok = false;
    }
    Invariant inv;
    if (ok) {
        inv = check_invariant(sh);
        char label[96];
        std::snprintf(label, sizeof label, "crash %d at delivery %llu of %zu, after restart", n,
                      static_cast<unsigned long long>(position), sh.schedule.size());
        print_invariant(label, inv);
        std::fflush(stdout);
        ok = invariant_holds(inv);
    }
    std::lock_guard<std::mutex> lock(sh.gate_m);
    sh.crashes_done++;
    if (!ok) sh.crash_failed = true;
    sh.crashing = false;
    sh.gate_cv.notify_all();
}

// ---------------------------------------------------------------- clients

void client_loop(Shared& sh, int id) {
    Client client(sh, id);
    const bool snapshot_level = sh.opt.isolation != "read committed";
    const bool crash_mode = sh.opt.crashes > 0;
    for (;;) {
        uint64_t i = sh.next.fetch_add(1);
        if (i >= sh.schedule.size()) return;
        if (std::binary_search(sh.crash_points.begin(), sh.crash_points.end(), i)) crash_and_check(sh, i);
        const Delivery& d = sh.schedule[i];
        int unexpected = 0;
        bool doubt = false;
        for (;;) {
            if (!client.ensure_connected()) {
                std::lock_guard<std::mutex> lock(sh.stats.m);
                sh.stats.gave_up++;
                return;
            }
            try {
                bool recorded = client.deliver(d);
                uint8_t before = recorded ? sh.acked[sh.pair_index(d)].fetch_add(1) : 0;
                std::lock_guard<std::mutex> lock(sh.stats.m);
                (recorded ? sh.stats.recorded : sh.stats.redelivered)++;
                sh.stats.by_api[static_cast<int>(d.api)]++;
                if (doubt) sh.stats.in_doubt++;
                if (recorded && before > 0 && sh.stats.samples.size() < 10)
                    sh.stats.samples.push_back("pair evt-" + std::to_string(d.event) + "/" +
                                               kHandlers[d.handler] + " acknowledged as recorded twice");
                break;
            } catch (const Failure& f) {
                // libpq's own errors (no SQLSTATE) mean the connection broke.
                const bool lost = f.connection_lost || f.state.empty() || crash_state(f.state);
                if (lost)
                    client.drop();
                else
                    client.rollback_if_open();
                std::string label = f.state.empty() ? "connection lost (no SQLSTATE)" : f.state;
                if (serialization_failure(f.state)) {
                    // "could not serialize access due to concurrent update", ...
                    size_t due = f.message.find("due to ");
                    if (due != std::string::npos)
                        label += " (" + f.message.substr(due + 7, f.message.find('\n', due) - due - 7) + ")";
                }
                bool expected = (serialization_failure(f.state) && snapshot_level) || (lost && crash_mode);
                note_error(sh, label, expected, f.message);
                if (lost) doubt = true;  // it may have committed: deliver it again
                if (!expected && ++unexpected >= 5) {
                    std::lock_guard<std::mutex> lock(sh.stats.m);
                    sh.stats.gave_up++;
                    break;
                }
                std::lock_guard<std::mutex> lock(sh.stats.m);
                sh.stats.retries++;
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options opt = parse(argc, argv);
    std::vector<Delivery> schedule = make_schedule(opt);
    Shared sh(opt, schedule);
    if (opt.crashes > 0) {
        std::mt19937_64 rng(opt.seed ^ 0x9e3779b97f4a7c15ULL);
        // Strictly inside the run, so that clients are busy on both sides.
        std::uniform_int_distribution<uint64_t> pos(schedule.size() / 20, schedule.size() * 19 / 20);
        std::unordered_set<uint64_t> chosen;
        while (chosen.size() < static_cast<size_t>(opt.crashes)) chosen.insert(pos(rng));
        sh.crash_points.assign(chosen.begin(), chosen.end());
        std::sort(sh.crash_points.begin(), sh.crash_points.end());
    }

    std::printf(
        "po_stress: %ld events x 2 handlers x %d deliveries = %zu deliveries, %d clients, "
        "%s, spread %ld, seed %llu%s\n",
        opt.events, opt.deliveries, schedule.size(), opt.clients, opt.isolation.c_str(), opt.spread,
        static_cast<unsigned long long>(opt.seed),
        opt.crashes ? (", " + std::to_string(opt.crashes) + " crashes").c_str() : "");
    std::fflush(stdout);

    Invariant start = check_invariant(sh);
    if (!start.error.empty() || start.pairs != opt.events * 2 || start.offsets != 0) {
        print_invariant("before the run", start);
        std::printf(
            "po_stress: the schema is not prepared for %ld events (run schema.sql with -v events=%ld)\n",
            opt.events, opt.events);
        return 1;
    }

    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < opt.clients; ++c) threads.emplace_back(client_loop, std::ref(sh), c);
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    Invariant end = check_invariant(sh);
    const long pairs = opt.events * 2;
    long acked_twice = 0, acked = 0;
    for (auto& a : sh.acked) {
        acked += a.load();
        if (a.load() > 1) acked_twice++;
    }
    long unexpected = 0;
    Stats& s = sh.stats;

    std::printf("duration %.2f s, %.0f deliveries/s\n", secs, schedule.size() / secs);
    std::printf(
        "answers: %ld recorded now (true), %ld re-deliveries (false); by call: %s %ld, %s %ld, %s %ld\n",
        s.recorded, s.redelivered, kApiNames[0], s.by_api[0], kApiNames[1], s.by_api[1], kApiNames[2],
        s.by_api[2]);
    std::printf("retries %ld, deliveries in doubt after a lost connection %ld, connections %ld\n", s.retries,
                s.in_doubt, s.reconnects);
    if (s.errors.empty()) std::printf("errors: none\n");
    for (auto& e : s.errors) {
        bool exp = e.first.second;
        if (!exp) unexpected += e.second;
        std::printf("errors %s: %ld (%s)\n", e.first.first.c_str(), e.second,
                    exp ? "expected, retried" : "UNEXPECTED");
    }
    if (s.notices) std::printf("server warnings received: %ld\n", s.notices);
    for (auto& m : s.samples) std::printf("  %s\n", m.c_str());
    if (opt.crashes) std::printf("crashes: %d of %d done\n", sh.crashes_done, opt.crashes);
    print_invariant("final", end);

    bool ok = invariant_holds(end) && end.offsets == pairs && end.mutated == pairs && acked_twice == 0 &&
              unexpected == 0 && s.gave_up == 0 && !sh.crash_failed && sh.crashes_done == opt.crashes;
    // Without crashes every answer is known: exactly one "true" per pair.
    if (opt.crashes == 0 && acked != pairs) ok = false;
    std::printf(
        "exactly once: %ld pairs, %ld applied once, %ld acknowledged twice, %ld acknowledged in all -> %s\n",
        pairs, end.mutated, acked_twice, acked, ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
