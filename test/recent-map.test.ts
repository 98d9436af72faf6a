/**
 * RecentMap (the memory store and the bounded caches): keeps the most recently put entries, in
 * the order a plain Map with delete-then-set would, and finds the oldest with one cursor.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RecentMap } from "../src/recent-map.js";

describe("RecentMap", () => {
  it("keeps exactly the entries a delete-then-set Map trimmed from the front keeps, in the same order (fast-check)", () => {
    const operation = fc.oneof(fc.record({ put: fc.integer({ min: 0, max: 30 }) }), fc.record({ remove: fc.integer({ min: 0, max: 30 }) }));
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(operation, { maxLength: 300 }), (limit, operations) => {
        const recent = new RecentMap<number, number>(limit);
        const model = new Map<number, number>();
        operations.forEach((operation, step) => {
          if ("put" in operation) {
            recent.put(operation.put, step);
            model.delete(operation.put);
            model.set(operation.put, step);
            while (model.size > limit) model.delete(model.keys().next().value as number);
          } else {
            recent.delete(operation.remove);
            model.delete(operation.remove);
          }
          expect([...recent]).toEqual([...model]);
        });
      }),
    );
  });

  it("evicts through one cursor: a full map makes one keys() iterator per pass, not one per eviction", () => {
    const recent = new RecentMap<string, number>(100);
    let iterators = 0;
    const keys = recent.keys.bind(recent);
    recent.keys = () => {
      iterators++;
      return keys();
    };
    for (let i = 0; i < 1000; i++) recent.put(`k${i}`, i);
    // 900 evictions, each the oldest: the cursor starts once and never runs past the end.
    expect(iterators).toBe(1);
    expect(recent.size).toBe(100);
    expect([...recent.keys()][0]).toBe("k900");
  });
});
