/** The `engines.node` reader that keeps a better-sqlite3 built for another Node from crashing the app. */
import { describe, expect, it } from "vitest";
import { nodeSatisfies } from "../../src/backends/db/sqlite.js";

describe("nodeSatisfies", () => {
  it.each([
    [">=22", "20.20.2", false],
    [">=22", "22.0.0", true],
    [">=22", "24.11.1", true],
    ["20.x || 22.x || 23.x || 24.x || 25.x || 26.x", "20.20.2", true],
    ["20.x || 22.x || 23.x || 24.x || 25.x || 26.x", "21.7.3", false],
    ["20.x || 22.x || 23.x || 24.x || 25.x || 26.x", "27.0.0", false],
    ["^20.19.0 || >=22.12.0", "20.18.3", false],
    ["^20.19.0 || >=22.12.0", "20.19.0", true],
    ["^20.19.0 || >=22.12.0", "22.11.0", false],
    ["^20.19.0 || >=22.12.0", "22.12.0", true],
    [">=18 <25", "25.0.0", false],
    [">=18 <25", "24.9.0", true],
    ["~22.3.0", "22.4.0", false],
    ["~22.3.0", "22.3.5", true],
    ["22", "22.1.0", true],
    ["22", "23.0.0", false],
    // A form it cannot read never blocks a driver.
    ["lts/*", "20.0.0", true],
  ])("%s with Node %s: %s", (range, version, expected) => {
    expect(nodeSatisfies(range, version)).toBe(expected);
  });
});
