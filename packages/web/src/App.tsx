/** Boot (is there a live session?), the login page, and the layout around every other page. */
import { useCallback, useEffect, useState } from "react";
import { clientFor, loadFeatures, saveSession, savedSession, type Session, type Workspace } from "./api.ts";
import { Loading } from "./components/ui.tsx";
import { Layout } from "./Layout.tsx";
import { Login } from "./pages/Login.tsx";
import { SessionProvider } from "./session.tsx";

type Boot = { state: "checking" } | { state: "out"; notice?: string } | { state: "in"; session: Session; workspaces: Workspace[] };

export function App() {
  const [boot, setBoot] = useState<Boot>({ state: "checking" });

  const enter = useCallback(async (session: Session) => {
    try {
      // The features decide the navigation's entries: read before the layout shows, it shows them all at once.
      const [{ workspaces }] = await Promise.all([clientFor(session).call<{ workspaces: Workspace[] }>("listWorkspaces", {}), loadFeatures()]);
      saveSession(session);
      setBoot({ state: "in", session, workspaces });
    } catch {
      saveSession(null);
      setBoot({ state: "out" });
    }
  }, []);

  useEffect(() => {
    // Read while the login page waits for a password.
    void loadFeatures();
    const session = savedSession();
    if (session) void enter(session);
    else setBoot({ state: "out" });
  }, [enter]);

  const end = useCallback(() => {
    saveSession(null);
    setBoot({ state: "out", notice: "You are logged out." });
  }, []);

  if (boot.state === "checking") return <Loading />;
  if (boot.state === "out") return <Login notice={boot.notice} onLogin={enter} />;
  return (
    <SessionProvider session={boot.session} workspaces={boot.workspaces} onEnd={end}>
      <Layout />
    </SessionProvider>
  );
}
