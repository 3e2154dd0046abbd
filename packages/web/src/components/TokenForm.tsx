/** Creates a token (the caller's own or a service account's) and shows it once. */
import { useState, type FormEvent } from "react";
import { LEVELS, useAction, type TokenInfo } from "../api.ts";
import { ErrorNote, Field, ShowOnce } from "./ui.tsx";

const TTLS = [
  { label: "1 hour", seconds: 3600 },
  { label: "1 day", seconds: 86_400 },
  { label: "30 days", seconds: 30 * 86_400 },
  { label: "90 days", seconds: 90 * 86_400 },
  { label: "No expiry", seconds: 0 },
];

export interface TokenRequest {
  name: string;
  access: string;
  secrets?: string[];
  ttl?: number;
}

export function TokenForm({ create, onCreated }: { create: (request: TokenRequest) => Promise<{ token: string; info: TokenInfo }>; onCreated: () => void }) {
  const [name, setName] = useState("");
  const [access, setAccess] = useState("read");
  const [patterns, setPatterns] = useState("");
  const [ttl, setTtl] = useState(30 * 86_400);
  const [minted, setMinted] = useState<string>();
  const action = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const secrets = patterns.split(/[\s,]+/).filter(Boolean);
    const result = await action.run(() => create({ name: name.trim() || "web", access, ...(secrets.length ? { secrets } : {}), ...(ttl ? { ttl } : {}) }));
    if (result) {
      setMinted(result.token);
      setName("");
      onCreated();
    }
  };

  return (
    <div className="token-form">
      {minted && <ShowOnce label="New token." value={minted} />}
      <form onSubmit={submit} className="inline-form">
        <Field label="Token name">{(id) => <input id={id} value={name} placeholder="ci-deploy" onChange={(e) => setName(e.target.value)} />}</Field>
        <Field label="Access">
          {(id) => (
            <select id={id} value={access} onChange={(e) => setAccess(e.target.value)}>
              {LEVELS.map((l) => (
                <option key={l}>{l}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Only secrets matching (optional)">
          {(id) => <input id={id} title="Name patterns, e.g. OPENAI_* db/*; empty: every secret it may see" placeholder="OPENAI_* db/*" value={patterns} onChange={(e) => setPatterns(e.target.value)} />}
        </Field>
        <Field label="Expires">
          {(id) => (
            <select id={id} value={ttl} onChange={(e) => setTtl(Number(e.target.value))}>
              {TTLS.map((t) => (
                <option key={t.seconds} value={t.seconds}>
                  {t.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="primary" disabled={action.pending}>
          Create token
        </button>
      </form>
      <ErrorNote error={action.error} />
    </div>
  );
}
