// node-postgres 8: client.query(text, values). Every value goes as an
// untyped parameter (its text, or JSON.stringify for an object); the server
// infers the types from the function called.
import { Client, DatabaseError } from "pg";

import { JsonText, sqlText, type Conn, type Driver, type Row } from "./scenario";

// A JavaScript array becomes a PostgreSQL array literal in node-postgres, so
// a JSON array is given as JSON.stringify(array).
function values(vs: unknown[]): unknown[] {
  return vs.map((v) => (v instanceof JsonText ? JSON.stringify(v.value) : v));
}

export async function nodePostgres(): Promise<Driver> {
  // Connection from PGHOST, PGPORT, PGUSER, PGDATABASE.
  const client = new Client();
  await client.connect();
  const query = async (strings: TemplateStringsArray, ...vs: unknown[]): Promise<Row[]> =>
    (await client.query(sqlText(strings), values(vs))).rows;
  const conn: Conn = {
    call: query,
    read: query,
    execute: async (strings, ...vs) => (await client.query(sqlText(strings), values(vs))).rowCount ?? 0,
  };
  return {
    ...conn,
    name: "node-postgres",
    sqlstatePath: "err.code",
    contextPath: "err.where",
    sqlstate: (err) => (err instanceof DatabaseError ? err.code : undefined),
    message: (err) => String((err as Error).message),
    context: (err) => (err instanceof DatabaseError ? err.where ?? "" : undefined),
    transaction: async (fn) => {
      await client.query("BEGIN");
      try {
        const result = await fn(conn);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      }
    },
    close: () => client.end(),
  };
}
