/**
 * Who is logged in, which workspace they are in, and the SDK client for both.
 * Any 401 answer ends the session in the UI (back to the login).
 */
import type { Coffer } from "@coffer/sdk";
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { clientFor, saveSession, savedSession, type Session, type Workspace } from "./api.ts";

interface SessionState {
  session: Session;
  client: Coffer;
  workspace: string;
  workspaces: Workspace[];
  current: Workspace | undefined;
  isAdmin: boolean;
  setWorkspace: (name: string) => void;
  logout: () => Promise<void>;
}

const Context = createContext<SessionState | null>(null);

export function useSession(): SessionState {
  const state = useContext(Context);
  if (!state) throw new Error("useSession outside <SessionProvider>");
  return state;
}

const WORKSPACE_KEY = "coffer.workspace";

export function SessionProvider({ session, workspaces, onEnd, children }: { session: Session; workspaces: Workspace[]; onEnd: () => void; children: ReactNode }) {
  const [workspace, setWorkspaceState] = useState(() => {
    const saved = localStorage.getItem(WORKSPACE_KEY);
    return workspaces.find((w) => w.name === saved)?.name ?? workspaces.find((w) => w.name === "default")?.name ?? workspaces[0]?.name ?? "default";
  });
  const client = useMemo(() => clientFor(session, workspace, onEnd), [session, workspace, onEnd]);
  const setWorkspace = useCallback((name: string) => {
    localStorage.setItem(WORKSPACE_KEY, name);
    setWorkspaceState(name);
  }, []);
  const logout = useCallback(async () => {
    await client.call("logout", {}).catch(() => undefined);
    saveSession(null);
    onEnd();
  }, [client, onEnd]);
  const current = workspaces.find((w) => w.name === workspace);
  const isAdmin = session.user.admin || current?.role === "owner" || current?.role === "admin";
  return <Context.Provider value={{ session, client, workspace, workspaces, current, isAdmin, setWorkspace, logout }}>{children}</Context.Provider>;
}

export { savedSession };
