/**
 * A child process for sqlite-processes.test.ts: opens `<dir>/fresh-<n>.sqlite3` for n = 0..count-1,
 * each at the wall-clock moment `<startAt> + n * <gapMs>`, so two of these open every fresh file
 * at the same instant. Prints one JSON line: the errors, one per failed open.
 *
 * Usage: node <hooks> sqlite-opener.ts <dir> <count> <startAt> <gapMs>
 */
import { join } from "node:path";
import { openSqlite } from "../../src/backends/db/sqlite.js";

const [dir, countText, startText, gapText] = process.argv.slice(2);
if (dir === undefined || countText === undefined || startText === undefined || gapText === undefined)
  throw new Error("usage: sqlite-opener.ts <dir> <count> <startAt> <gapMs>");
const errors: string[] = [];
for (let n = 0; n < Number(countText); n++) {
  const at = Number(startText) + n * Number(gapText);
  while (Date.now() < at); // spin: a timer would start the two processes milliseconds apart
  try {
    const driver = await openSqlite(join(dir, `fresh-${n}.sqlite3`));
    await driver.close();
  } catch (error) {
    errors.push(`${n}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
process.stdout.write(`${JSON.stringify({ errors })}\n`);
