/**
 * Run (bundled) in a given working directory by default-file.test.ts: createSessions() without a
 * backend, then one saved session. Prints what happened as JSON.
 */
import { createSessions } from "tessera-sessions";

try {
  const sessions = createSessions({ secret: "probe-secret-0123456789abcdef0123456789" });
  const session = sessions.open();
  await session.set("n", 1);
  await sessions.commit(session, 200);
  await sessions.close();
  console.log(JSON.stringify({ created: true }));
} catch (error) {
  console.log(JSON.stringify({ created: false, name: (error as Error).name, message: (error as Error).message }));
}
