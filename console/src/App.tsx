import { useEffect, useState } from "react";
import AppLayout from "@cloudscape-design/components/app-layout";
import BreadcrumbGroup from "@cloudscape-design/components/breadcrumb-group";
import Flashbar, { type FlashbarProps } from "@cloudscape-design/components/flashbar";
import SideNavigation from "@cloudscape-design/components/side-navigation";
import TopNavigation from "@cloudscape-design/components/top-navigation";
import Spinner from "@cloudscape-design/components/spinner";
import { applyMode, Mode } from "@cloudscape-design/global-styles";
import { api } from "./api";
import { currentSession, loadConfig, onSessionChange, setSession, type ConsoleConfig } from "./auth";
import { onFlash } from "./flash";
import { go, onNavigate } from "./nav";
import { parseRoute, type Route } from "./route";
import { SignIn, Callback } from "./pages/SignIn";
import { RequestPage } from "./pages/Request";
import { TicketsPage } from "./pages/Tickets";
import { TicketPage } from "./pages/Ticket";
import { ApprovalsPage } from "./pages/Approvals";
import { AdminPage } from "./pages/Admin";
import { PolicyPage } from "./pages/Policy";

const MODE_KEY = "jit.console.mode";

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => onNavigate(() => setRoute(parseRoute(location.pathname))), []);
  return route;
}

function usePendingCount(user: string | undefined, route: Route): number | null {
  const [n, setN] = useState<number | null>(null);
  useEffect(() => {
    if (!user) return;
    let stop = false;
    const load = () =>
      api
        .listPendingApprovals({ pageSize: 100 })
        .then((r) => !stop && setN(r.tickets.length))
        .catch(() => {});
    load();
    const t = setInterval(load, 10_000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [user, route]);
  return n;
}

const TITLES: Record<Route["page"], string> = {
  request: "Request access",
  tickets: "My tickets",
  ticket: "Ticket",
  approvals: "Approvals",
  admin: "Admin",
  policy: "Policy",
  callback: "Signing in",
  "not-found": "Not found",
};

export function App() {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [configError, setConfigError] = useState<string | null>(null);
  const [session, setSessionState] = useState(currentSession());
  const [dark, setDark] = useState(() => localStorage.getItem(MODE_KEY) === "dark");
  const [flashes, setFlashes] = useState<FlashbarProps.MessageDefinition[]>([]);
  // Open unless the reader closes it (an uncontrolled drawer may start closed after sign-in).
  const [navOpen, setNavOpen] = useState(true);
  const route = useRoute();
  const pending = usePendingCount(session?.user, route);

  useEffect(() => {
    loadConfig().then(setConfig, (e: Error) => setConfigError(e.message));
  }, []);
  useEffect(() => onSessionChange(() => setSessionState(currentSession())), []);
  useEffect(() => onFlash(setFlashes), []);
  useEffect(() => {
    applyMode(dark ? Mode.Dark : Mode.Light);
    localStorage.setItem(MODE_KEY, dark ? "dark" : "light");
  }, [dark]);
  useEffect(() => {
    document.title = `${TITLES[route.page]} · jit`;
  }, [route]);

  const top = (
    <TopNavigation
      identity={{ href: "/tickets", title: "jit — just-in-time access", onFollow: (e) => { e.preventDefault(); go("/tickets"); } }}
      utilities={[
        {
          type: "button",
          text: dark ? "Light mode" : "Dark mode",
          ariaLabel: dark ? "Switch to light mode" : "Switch to dark mode",
          onClick: () => setDark(!dark),
        },
        ...(session
          ? [
              {
                type: "menu-dropdown" as const,
                text: session.user,
                iconName: "user-profile" as const,
                items: [{ id: "signout", text: "Sign out" }],
                onItemClick: () => setSession(null),
              },
            ]
          : []),
      ]}
    />
  );

  let content: React.ReactNode;
  if (configError) {
    content = <p role="alert">The console could not load its configuration: {configError}</p>;
  } else if (!config) {
    content = <Spinner size="large" />;
  } else if (route.page === "callback" && config.sign_in === "oidc") {
    content = <Callback config={config} />;
  } else if (!session) {
    content = <SignIn config={config} />;
  } else {
    content = page(route, session.user);
  }

  const nav = (
    <SideNavigation
      header={{ href: "/tickets", text: "jit" }}
      activeHref={route.page === "ticket" ? "/tickets" : `/${route.page}`}
      onFollow={(e) => {
        if (!e.detail.external) {
          e.preventDefault();
          go(e.detail.href);
        }
      }}
      items={[
        { type: "link", text: "Request access", href: "/request" },
        { type: "link", text: "My tickets", href: "/tickets" },
        {
          type: "link",
          text: "Approvals",
          href: "/approvals",
          info: pending ? <span aria-label={`${pending} waiting for you`}>({pending})</span> : undefined,
        },
        { type: "divider" },
        { type: "link", text: "Admin", href: "/admin" },
        { type: "link", text: "Policy", href: "/policy" },
      ]}
    />
  );

  const crumbs = [{ text: "jit", href: "/tickets" }, ...breadcrumbs(route)];
  return (
    <>
      <div id="top-nav">{top}</div>
      <AppLayout
        headerSelector="#top-nav"
        navigation={session ? nav : undefined}
        navigationHide={!session}
        navigationOpen={navOpen}
        onNavigationChange={(e) => setNavOpen(e.detail.open)}
        toolsHide
        notifications={<Flashbar items={flashes} />}
        breadcrumbs={
          <BreadcrumbGroup
            items={crumbs}
            ariaLabel="Breadcrumbs"
            onFollow={(e) => {
              e.preventDefault();
              go(e.detail.href);
            }}
          />
        }
        content={content}
        ariaLabels={{ navigation: "Navigation", navigationClose: "Close navigation", navigationToggle: "Open navigation", notifications: "Notifications" }}
      />
    </>
  );
}

function breadcrumbs(r: Route) {
  switch (r.page) {
    case "ticket":
      return [
        { text: "My tickets", href: "/tickets" },
        { text: r.id, href: `/tickets/${r.id}` },
      ];
    case "not-found":
    case "callback":
      return [];
    default:
      return [{ text: TITLES[r.page], href: `/${r.page}` }];
  }
}

function page(r: Route, user: string): React.ReactNode {
  switch (r.page) {
    case "request":
      return <RequestPage user={user} />;
    case "tickets":
    case "callback":
      return <TicketsPage user={user} />;
    case "ticket":
      return <TicketPage id={r.id} user={user} />;
    case "approvals":
      return <ApprovalsPage user={user} />;
    case "admin":
      return <AdminPage />;
    case "policy":
      return <PolicyPage user={user} />;
    case "not-found":
      return <p>There is no page at {r.path}.</p>;
  }
}
