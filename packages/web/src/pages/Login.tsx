import { useState, type FormEvent } from "react";
import { CofferError, login, useAction, type Session } from "../api.ts";
import { ErrorNote, Field } from "../components/ui.tsx";

export function Login({ notice, onLogin }: { notice?: string | undefined; onLogin: (session: Session) => Promise<void> }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const session = await action.run(() => login(username, password));
    if (session) await onLogin(session);
  };
  return (
    <main className="login">
      <form onSubmit={submit} className="card" aria-labelledby="login-title">
        <h1 id="login-title">
          <span className="logo" aria-hidden="true" /> Coffer
        </h1>
        {notice && <p className="muted">{notice}</p>}
        <Field label="Username">{(id) => <input id={id} name="username" autoComplete="username" required autoFocus value={username} onChange={(e) => setUsername(e.target.value)} />}</Field>
        <Field label="Password">
          {(id) => <input id={id} name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />}
        </Field>
        <ErrorNote error={action.error instanceof CofferError && action.error.code === "UNAUTHENTICATED" ? "Wrong username or password." : action.error} />
        <button type="submit" className="primary" disabled={action.pending}>
          {action.pending ? "Logging in…" : "Log in"}
        </button>
        <p className="hint">
          No password yet? An administrator sets one with <code>coffer users passwd NAME</code>.
        </p>
      </form>
    </main>
  );
}
