import type { Metadata, Viewport } from "next";
import type { ReactNode } from "react";
import "./style.css";

export const metadata: Metadata = { title: "Shop (Next.js + Tessera)" };
export const viewport: Viewport = { width: "device-width", initialScale: 1 };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <nav>
          <a href="/">Shop</a> <a href="/account">Account</a> <a href="/about">About</a>
        </nav>
        {children}
      </body>
    </html>
  );
}
