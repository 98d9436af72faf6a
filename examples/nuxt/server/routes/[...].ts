// Any other path or method: a plain 404, not Nuxt's welcome page (the shop has no Vue pages).
export default defineEventHandler(() => new Response("Not found", { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } }));
