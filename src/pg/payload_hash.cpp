#include "payload_hash.hpp"

namespace po::pg {

Datum payload_hash(Datum jsonb_payload) {
    return pg_call([&]() noexcept {
        Jsonb* jb = DatumGetJsonbP(jsonb_payload);
        char* canonical = JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
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

        char hex[PG_SHA256_DIGEST_LENGTH * 2];
        hex_encode(reinterpret_cast<const char*>(digest), sizeof digest, hex);
        if (utf8 != canonical) pfree(utf8);
        pfree(canonical);
        return PointerGetDatum(cstring_to_text_with_len(hex, sizeof hex));
    });
}

}  // namespace po::pg
