"use client";
// Shown when a page fails, e.g. the session store is down while the page reads the session.
export default function Failed({ reset }: { error: Error; reset: () => void }) {
  return (
    <main>
      <h1>Something went wrong</h1>
      <p>The shop could not load your session. Please try again in a moment.</p>
      <button onClick={reset}>Try again</button>
    </main>
  );
}
