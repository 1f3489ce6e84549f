// The console's routes: a path is a page; parse and format are inverse (route.test.ts).

export type Route =
  | { page: "request" }
  | { page: "tickets" }
  | { page: "ticket"; id: string }
  | { page: "approvals" }
  | { page: "admin" }
  | { page: "policy" }
  | { page: "callback" }
  | { page: "not-found"; path: string };

const TICKET_ID = /^[A-Za-z0-9_-]{1,80}$/;

export function parseRoute(path: string): Route {
  const clean = path.replace(/\/+$/, "") || "/";
  switch (clean) {
    case "/":
    case "/tickets":
      return { page: "tickets" };
    case "/request":
      return { page: "request" };
    case "/approvals":
      return { page: "approvals" };
    case "/admin":
      return { page: "admin" };
    case "/policy":
      return { page: "policy" };
    case "/callback":
      return { page: "callback" };
  }
  const m = /^\/tickets\/([^/]+)$/.exec(clean);
  if (m) {
    const id = decodeURIComponent(m[1]);
    if (TICKET_ID.test(id)) return { page: "ticket", id };
  }
  return { page: "not-found", path };
}

export function formatRoute(r: Route): string {
  switch (r.page) {
    case "ticket":
      return `/tickets/${encodeURIComponent(r.id)}`;
    case "not-found":
      return r.path;
    default:
      return `/${r.page}`;
  }
}
