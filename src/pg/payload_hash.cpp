#include "payload_hash.hpp"

namespace po::pg {

namespace {

// Inside a pg_call: the hash of a container's canonical text.
void hash_container(JsonbContainer* container, int estimated_length, char (&hex)[kPayloadHashLength]) {
    char* canonical = JsonbToCString(nullptr, container, estimated_length);
    const int length = static_cast<int>(strlen(canonical));
    // The hash is over UTF-8 bytes whatever the database encoding, as
    // convert_to(payload::text, 'UTF8') gives them to a client.
    char* utf8 = pg_server_to_any(canonical, length, PG_UTF8);
    const size_t utf8_length = utf8 == canonical ? static_cast<size_t>(length) : strlen(utf8);

    uint8 digest[PG_SHA256_DIGEST_LENGTH];
    pg_cryptohash_ctx* ctx = pg_cryptohash_create(PG_SHA256);
    if (pg_cryptohash_init(ctx) < 0 ||
        pg_cryptohash_update(ctx, reinterpret_cast<const uint8*>(utf8), utf8_length) < 0 ||
        pg_cryptohash_final(ctx, digest, sizeof digest) < 0)
        elog(ERROR, "could not compute SHA-256 of payload: %s", pg_cryptohash_error(ctx));
    pg_cryptohash_free(ctx);
    static_assert(sizeof hex == PG_SHA256_DIGEST_LENGTH * 2);
    hex_encode(reinterpret_cast<const char*>(digest), sizeof digest, hex);
    if (utf8 != canonical) pfree(utf8);
    pfree(canonical);
}

}  // namespace

Datum payload_hash(Datum jsonb_payload) {
    return pg_call([&]() noexcept {
        Jsonb* jb = DatumGetJsonbP(jsonb_payload);
        char hex[kPayloadHashLength];
        hash_container(&jb->root, VARSIZE(jb), hex);
        return PointerGetDatum(cstring_to_text_with_len(hex, sizeof hex));
    });
}

void payload_hash_hex(const JsonbValue& payload, char (&hex)[kPayloadHashLength]) {
    pg_call([&]() noexcept {
        if (payload.type == jbvBinary) {
            hash_container(payload.val.binary.data, payload.val.binary.len, hex);
            return;
        }
        // A scalar is hashed as a Jsonb of its own, as payload->'key' gives it.
        Jsonb* jb = JsonbValueToJsonb(const_cast<JsonbValue*>(&payload));
        hash_container(&jb->root, VARSIZE(jb), hex);
        pfree(jb);
    });
}

}  // namespace po::pg
