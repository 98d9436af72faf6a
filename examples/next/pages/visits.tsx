// A Pages Router page: getServerSideProps gets the session from the node adapter's attachSession,
// which saves it and sets its cookie before Next writes the page.
import type { GetServerSideProps } from "next";
import { attachSession } from "tessera-sessions/node";
import { sessions } from "../lib/session";

export const getServerSideProps: GetServerSideProps<{ visits: number }> = async ({ req, res }) => {
  const session = attachSession(sessions, req, res, () => {
    res.statusCode = 503;
    res.end("Service Unavailable");
  });
  const visits = ((await session.get("visits")) ?? 0) + 1;
  await session.set("visits", visits);
  return { props: { visits } };
};

export default function Visits({ visits }: { visits: number }) {
  return (
    <main>
      <h1>Visits</h1>
      <p>
        You have seen this page <strong id="visits">{visits}</strong> times.
      </p>
    </main>
  );
}
