/**
 * Serves the built shop (`react-router build` wrote build/) with @react-router/node's request
 * listener, on 127.0.0.1:PORT (default 3009), static assets included.
 */
import { createRequestListener } from "@react-router/node";
import { serveOnLoopback } from "../shared/serve.js";
import * as build from "./build/server/index.js";

serveOnLoopback("React Router shop", createRequestListener({ build, mode: "production" }), 3009);
