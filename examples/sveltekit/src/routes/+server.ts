import type { RequestHandler } from "@sveltejs/kit";
import { sessionOf, shop } from "../shop.js";

/** The shop's page: who is signed in, the cart, and the forms, each with the CSRF token. */
export const GET: RequestHandler = ({ request, locals }) => shop.page(request, sessionOf(locals));
