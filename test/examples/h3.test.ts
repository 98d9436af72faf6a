import { toNodeHandler } from "h3";
import { createShop } from "../../examples/h3/app.js";
import { describeShopExample } from "./shop-browser.js";

describeShopExample("h3", (sessions) => toNodeHandler(createShop(sessions)));
