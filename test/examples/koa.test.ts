import { createShop } from "../../examples/koa/app.js";
import { describeShopExample } from "./shop-browser.js";

describeShopExample("Koa", (sessions) => createShop(sessions).callback());
