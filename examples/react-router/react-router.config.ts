import type { Config } from "@react-router/dev/config";

// Server rendering on: every route runs on the server, where the sessions are.
export default { appDirectory: "app", buildDirectory: "build", ssr: true } satisfies Config;
