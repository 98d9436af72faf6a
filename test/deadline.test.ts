/**
 * `withDeadline`: the queue of deadlines behind every store call (one timer per deadline length,
 * not one per call). Each call still fails on its own deadline, a settled call never does, and
 * the queue keeps the process alive exactly while a call is pending.
 */
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { DeadlineError } from "../src/errors.js";
import { withDeadline } from "../src/deadline.js";

const hooks = new URL("./hardening/ts-hooks.mjs", import.meta.url).href;
const deadlineModule = new URL("../src/deadline.ts", import.meta.url).href;
const never = () => new Promise<never>(() => {});

/** Runs `body` (ES module code with `withDeadline` in scope) in a fresh node process. */
function runNode(body: string): { status: number | null; stdout: string; stderr: string } {
  const code = `import { withDeadline } from ${JSON.stringify(deadlineModule)};\n${body}`;
  const r = spawnSync(
    process.execPath,
    ["--import", `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(hooks)})`, "--input-type=module", "-e", code],
    { encoding: "utf8", timeout: 60_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("withDeadline", () => {
  it("fails each pending call of one length in turn with its own message, and never a call that settled", async () => {
    const outcomes: string[] = [];
    const track = (name: string, p: Promise<unknown>) =>
      p.then(
        (value) => outcomes.push(`${name} ok ${String(value)}`),
        (error: unknown) => outcomes.push(`${name} ${error instanceof DeadlineError ? `deadline: ${error.message}` : "other"}`),
      );
    const first = track(
      "first",
      withDeadline(never(), 30, "store-a", () => "first is late"),
    );
    await sleep(10);
    const settled = track(
      "settled",
      withDeadline(
        sleep(5).then(() => 7),
        30,
        "store-a",
      ),
    );
    const second = track("second", withDeadline(never(), 30, "store-b"));
    const rejected = track("rejected", withDeadline(Promise.reject(new Error("boom")), 30, "store-a"));
    await Promise.all([first, settled, second, rejected]);
    expect(outcomes).toEqual([
      "rejected other",
      "settled ok 7",
      "first deadline: [tessera] [store-a] first is late",
      "second deadline: [tessera] [store-b] did not answer within 30 ms",
    ]);
  });

  it("a deadline of another length is not held up by a longer one set before it", async () => {
    const order: string[] = [];
    const long = withDeadline(never(), 400, "s").catch(() => order.push("long"));
    const short = withDeadline(never(), 20, "s").catch(() => order.push("short"));
    await Promise.all([long, short]);
    expect(order).toEqual(["short", "long"]);
  });

  it("a pending call without any I/O of its own keeps the process alive until its deadline fails it", () => {
    const r = runNode(`withDeadline(new Promise(() => {}), 50, "s").catch((e) => console.log(e.name, e.message));`);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("BackendError [tessera] [s] did not answer within 50 ms");
    expect(r.status).toBe(0);
  });

  it("an answered call leaves nothing behind that keeps the process alive (a 10-minute deadline)", () => {
    const r = runNode(
      `const v = await withDeadline(Promise.resolve(3), 600000, "s"); await withDeadline(new Promise((r) => setTimeout(r, 5)), 600000, "s"); console.log("done", v);`,
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("done 3");
    expect(r.status).toBe(0); // exited by itself: spawnSync would have killed it after 60 s (status null)
  });
});
