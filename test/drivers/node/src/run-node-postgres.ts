// node-postgres: runs the scenario and prints the report; exits 1 when a
// check failed.
import { Report } from "./report";
import { nodePostgres } from "./node-postgres";
import { runScenario } from "./scenario";

async function main(): Promise<number> {
  const driver = await nodePostgres();
  const report = new Report(driver.name);
  try {
    await runScenario(driver, report);
  } finally {
    await driver.close();
  }
  report.flush();
  return report.failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
