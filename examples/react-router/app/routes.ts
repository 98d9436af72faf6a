import { index, route, type RouteConfig } from "@react-router/dev/routes";

export default [
  index("routes/home.ts"),
  route("login", "routes/login.ts"),
  route("cart", "routes/cart.ts"),
  route("logout", "routes/logout.ts"),
] satisfies RouteConfig;
