/** A module that imports a Node built-in, which the edge bundle must refuse (bundle.test.ts). */
import { deflateSync } from "node:zlib";

export default deflateSync;
