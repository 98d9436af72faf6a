import { getRequestListener } from "@hono/node-server";
import { createShop } from "../../examples/hono/app.js";
import { describeShopExample } from "./shop-browser.js";

describeShopExample("Hono", (sessions) => getRequestListener(createShop(sessions).fetch));
