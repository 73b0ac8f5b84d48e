// The driver suite's output, the same for every language (see
// test/drivers/suite.sh, which counts and tabulates these lines):
//   ok <driver>: <check>
//   not ok <driver>: <check>: <what was found>
//   shape<TAB><driver><TAB><call><TAB><bound as><TAB><outcome><TAB><checked in the database>

export class Report {
  passed = 0;
  failed = 0;
  private current: { call: string; bound: string; outcomes: string[]; checked: string[] } | undefined;
  private readonly shapes = new Map<string, { call: string; bound: string; outcomes: string[]; checked: string[] }>();

  constructor(readonly driver: string) {}

  /** A call of an extension function: recorded once per (call text, bound types). */
  shape(call: string, bound: string, outcome: string): void {
    const key = `${call}\u0000${bound}`;
    let entry = this.shapes.get(key);
    if (entry === undefined) {
      entry = { call, bound, outcomes: [], checked: [] };
      this.shapes.set(key, entry);
    }
    if (!entry.outcomes.includes(outcome)) entry.outcomes.push(outcome);
    this.current = entry;
  }

  /** A check of what the last call did; it is listed beside that call. */
  check(condition: boolean, what: string, found?: unknown): void {
    if (condition) {
      this.passed++;
      console.log(`ok ${this.driver}: ${what}`);
    } else {
      this.failed++;
      console.log(`not ok ${this.driver}: ${what}: found ${show(found)}`);
    }
    if (this.current !== undefined && !this.current.checked.includes(what)) this.current.checked.push(what);
  }

  /** The next checks are about the whole run, not about the last call. */
  detach(): void {
    this.current = undefined;
  }

  /** Every outcome recorded so far. */
  outcomes(): string[] {
    return [...this.shapes.values()].flatMap((s) => s.outcomes);
  }

  /** Prints the call shapes; called once at the end. */
  flush(): void {
    for (const s of this.shapes.values()) {
      const cells = [this.driver, s.call, s.bound, s.outcomes.join("; "), s.checked.join("; ")];
      console.log(["shape", ...cells.map((c) => c.replace(/[\t\n]/g, " "))].join("\t"));
    }
  }
}

/** How a returned value or a found state is written in the report. */
export function show(value: unknown): string {
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "string") return JSON.stringify(value);
  if (value instanceof Date) return `Date(${value.toISOString()})`;
  if (Array.isArray(value)) return `[${value.map(show).join(", ")}]`;
  if (value === undefined) return "undefined";
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${k}: ${show(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value);
}
