/** Header (workspace switch, user, log out), navigation, and the page for the current path. */
import { useEffect, type ReactNode } from "react";
import { Link, navigate, useLocation } from "./router.tsx";
import { listUrl, readListState } from "./secret-list.ts";
import { OPTIONAL, useFeatures, useLoad } from "./api.ts";
import { useSession } from "./session.tsx";
import { Approvals } from "./pages/Approvals.tsx";
import { Audit } from "./pages/Audit.tsx";
import { Groups } from "./pages/Groups.tsx";
import { Members } from "./pages/Members.tsx";
import { SecretPage } from "./pages/SecretPage.tsx";
import { Secrets } from "./pages/Secrets.tsx";
import { ServiceAccounts } from "./pages/ServiceAccounts.tsx";
import { Settings } from "./pages/Settings.tsx";
import { Tokens } from "./pages/Tokens.tsx";
import { RelayRoutes } from "./pages/RelayRoutes.tsx";
import { Empty } from "./components/ui.tsx";

const NAV: { to: string; label: string; admin?: boolean; needs?: keyof typeof OPTIONAL }[] = [
  { to: "/secrets", label: "Secrets" },
  { to: "/tokens", label: "My tokens" },
  { to: "/relay-routes", label: "Relay routes", needs: "relayRoutes" },
  { to: "/approvals", label: "Approvals", needs: "approvals" },
  { to: "/admin/members", label: "Members", admin: true },
  { to: "/admin/groups", label: "Groups", admin: true },
  { to: "/admin/service-accounts", label: "Service accounts", admin: true },
  { to: "/admin/audit", label: "Audit log", admin: true, needs: "audit" },
  { to: "/admin/settings", label: "Settings", admin: true },
];

/** How often the navigation's count of waiting requests is read again. */
const PENDING_REFRESH_MS = 5_000;

/** The navigation entry a path belongs to: "/" shows the secrets, and a secret's page is under them. */
function navCurrent(path: string): string {
  return path === "/" || path.startsWith("/secrets") ? "/secrets" : path;
}

function page(path: string, isAdmin: boolean, onDecided: () => void): ReactNode {
  const secret = /^\/secrets\/(shared|personal)\/(.+)$/.exec(path);
  if (secret) return <SecretPage key={path} scope={secret[1] as "shared" | "personal"} name={decodeURIComponent(secret[2]!)} />;
  if (path === "/" || path === "/secrets") return <Secrets />;
  if (path === "/tokens") return <Tokens />;
  if (path === "/relay-routes") return <RelayRoutes />;
  if (path === "/approvals") return <Approvals onDecided={onDecided} />;
  const admin: Record<string, () => ReactNode> = {
    "/admin/members": () => <Members />,
    "/admin/groups": () => <Groups />,
    "/admin/service-accounts": () => <ServiceAccounts />,
    "/admin/audit": () => <Audit />,
    "/admin/settings": () => <Settings />,
  };
  const adminPage = admin[path];
  if (adminPage) return isAdmin ? adminPage() : <Empty title="For workspace admins">Ask an owner or admin of this workspace.</Empty>;
  return (
    <Empty title="No such page">
      <Link to="/secrets">Go to your secrets</Link>
    </Empty>
  );
}

export function Layout() {
  const { session, workspace, workspaces, setWorkspace, isAdmin, logout, current, client } = useSession();
  const { path, query } = useLocation();
  // Folders and secrets belong to one workspace: switching leaves them for the list's top (same tab and order).
  const switchWorkspace = (name: string) => {
    setWorkspace(name);
    if (path.startsWith("/secrets")) navigate(listUrl({ ...readListState(query), folder: "" }));
  };
  const features = useFeatures();
  const approvals = features?.has(OPTIONAL.approvals) === true;
  const pending = useLoad(() => (approvals ? client.approvals.list().then((list) => list.length) : Promise.resolve(0)), [client, approvals]);
  useEffect(() => {
    const timer = setInterval(pending.reload, PENDING_REFRESH_MS);
    return () => clearInterval(timer);
  }, [pending.reload]);
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/secrets" className="brand">
          <span className="logo" aria-hidden="true" /> Coffer
        </Link>
        <label className="workspace">
          <span className="visually-hidden">Workspace</span>
          <select value={workspace} onChange={(e) => switchWorkspace(e.target.value)} aria-label="Workspace">
            {workspaces.map((w) => (
              <option key={w.id} value={w.name}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <span className="spacer" />
        <span className="who" title={current?.role ? `${current.role} of ${workspace}` : undefined}>
          {session.user.username}
          {current?.role && <span className="badge">{current.role}</span>}
        </span>
        <button type="button" onClick={() => void logout()}>
          Log out
        </button>
      </header>
      <nav className="side" aria-label="Main">
        {NAV.filter((item) => (!item.admin || isAdmin) && (!item.needs || features?.has(OPTIONAL[item.needs]))).map((item) => (
          <Link key={item.to} to={item.to} aria-current={navCurrent(path) === item.to ? "page" : undefined}>
            {item.label}
            {item.to === "/approvals" && (pending.data ?? 0) > 0 && (
              <span className="badge count" aria-label={`${pending.data} waiting`}>
                {pending.data}
              </span>
            )}
          </Link>
        ))}
      </nav>
      <main id="main" tabIndex={-1}>
        {page(path, isAdmin, pending.reload)}
      </main>
    </div>
  );
}
