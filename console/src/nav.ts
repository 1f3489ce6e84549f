// Navigation without a router library: history.pushState and a listener.
import { formatRoute, type Route } from "./route";

const listeners = new Set<() => void>();

export function go(r: Route | string) {
  const path = typeof r === "string" ? r : formatRoute(r);
  if (path !== location.pathname + location.search) history.pushState(null, "", path);
  listeners.forEach((l) => l());
}

export function onNavigate(l: () => void): () => void {
  listeners.add(l);
  window.addEventListener("popstate", l);
  return () => {
    listeners.delete(l);
    window.removeEventListener("popstate", l);
  };
}

/** Props for a link that navigates in place (and still opens in a new tab). */
export function linkTo(r: Route) {
  const href = formatRoute(r);
  return {
    href,
    onFollow: (e: CustomEvent<{ external?: boolean }>) => {
      if (!e.detail?.external) {
        e.preventDefault();
        go(href);
      }
    },
  };
}
