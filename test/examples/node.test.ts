import { createShop } from "../../examples/node/app.js";
import { describeShopExample } from "./shop-browser.js";

describeShopExample("node:http", createShop);
