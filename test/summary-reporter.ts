/**
 * Prints one plain closing line, "N passed, N failed, N skipped", after vitest's own summary, so
 * CI logs state the count in a form any tool can read. Unhandled errors (which fail the run with
 * every test passed) are repeated under it, message and stack, because a CI log is often read
 * from its end only.
 */
import type { Reporter, SerializedError, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed") counts.failed++;
        else counts.skipped++;
      }
      if (module.state() === "failed" && module.children.size === 0) counts.failed++; // a file that failed to load
    }
    const errors = unhandledErrors.map((error) => `  ${error.stack ?? `${error.name ?? "Error"}: ${error.message}`}`.replaceAll("\n", "\n  "));
    const unhandled = errors.length === 0 ? "" : `, ${errors.length} unhandled error${errors.length === 1 ? "" : "s"}:\n${errors.join("\n")}`;
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped${unhandled}\n`);
  }
}
