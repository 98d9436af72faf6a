import { Links, Meta, Outlet, Scripts } from "react-router";

/** The document around React-rendered routes (the shop's routes answer with their own HTML). */
export default function Root() {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        <Outlet />
        <Scripts />
      </body>
    </html>
  );
}
