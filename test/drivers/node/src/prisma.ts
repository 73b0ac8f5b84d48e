// Prisma 7 with @prisma/adapter-pg: $queryRaw tagged templates. Prisma
// turns every ${value} into a bind parameter and hands it to node-postgres.
import { PrismaPg } from "@prisma/adapter-pg";

import { Prisma, PrismaClient } from "../generated/prisma/client";
import { JsonText, type Conn, type Driver, type Row } from "./scenario";

function values(vs: unknown[]): unknown[] {
  return vs.map((v) => (v instanceof JsonText ? JSON.stringify(v.value) : v));
}

interface AdapterCause {
  originalCode?: string;
  originalMessage?: string;
}

function adapterCause(err: unknown): AdapterCause | undefined {
  if (!(err instanceof Prisma.PrismaClientKnownRequestError)) return undefined;
  const meta = err.meta as { driverAdapterError?: { cause?: AdapterCause } } | undefined;
  return meta?.driverAdapterError?.cause;
}

/** Prisma reports every database error of a raw query as P2010; the SQLSTATE is deeper. */
export function prismaSqlstate(err: unknown): string | undefined {
  return adapterCause(err)?.originalCode;
}

export async function prisma(): Promise<{ driver: Driver; client: PrismaClient }> {
  const adapter = new PrismaPg({
    host: process.env.PGHOST,
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER,
    database: process.env.PGDATABASE,
  });
  const client = new PrismaClient({ adapter });
  const on = (db: Pick<PrismaClient, "$queryRaw" | "$executeRaw">): Conn => {
    const query = async (strings: TemplateStringsArray, ...vs: unknown[]): Promise<Row[]> =>
      (await db.$queryRaw(strings, ...values(vs))) as Row[];
    return {
      call: query,
      read: query,
      execute: (strings, ...vs) => db.$executeRaw(strings, ...values(vs)),
    };
  };
  const driver: Driver = {
    ...on(client),
    name: "prisma",
    sqlstatePath: "err.meta.driverAdapterError.cause.originalCode",
    contextPath: "not available: the pg adapter keeps the code, message, detail and hint of a server error, not its CONTEXT",
    sqlstate: prismaSqlstate,
    message: (err) => adapterCause(err)?.originalMessage ?? String((err as Error).message),
    context: () => undefined,
    // An interactive transaction holds one connection of the pool.
    transaction: (fn) => client.$transaction((tx) => fn(on(tx))),
    close: () => client.$disconnect(),
  };
  return { driver, client };
}
