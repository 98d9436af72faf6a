import { sessionOf, shop } from "../shop";

// The shop's page: who is signed in, the cart, and the forms, each with the CSRF token.
export default defineEventHandler((event) => shop.page(toWebRequest(event), sessionOf(event)));
