/**
 * The React Router example (examples/react-router), a framework-mode app built with
 * `react-router build` and served by its serve.js (@react-router/node), as
 * `npm run example:react-router` runs it: the shop driven over HTTP (login with cycleKey, cart,
 * logout, every POST's CSRF check, bad cookies) on React Router 7 under this Node 20, and on
 * React Router 8 (the current major) built and served by Node 24 from the registry.
 */
import { describeFrameworkExample } from "./framework-example.js";

describeFrameworkExample({
  framework: "React Router",
  packageName: "react-router",
  build: { example: "react-router", bin: "react-router", args: ["build"], outputs: ["build", ".react-router", "node_modules"] },
  installedMajor: "7",
  currentMajor: "8",
  currentSpecs: ["react-router@8", "@react-router/dev@8", "@react-router/node@8", "vite@8", "react@19", "react-dom@19", "cookie@1"],
});
