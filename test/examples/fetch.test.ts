import { getRequestListener } from "@hono/node-server";
import { createShop } from "../../examples/fetch/app.js";
import { describeShopExample } from "./shop-browser.js";

describeShopExample("Fetch", (sessions) => getRequestListener(createShop(sessions)));
