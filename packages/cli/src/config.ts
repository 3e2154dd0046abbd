/**
 * Where the CLI keeps its login: `config.json` (mode 0600) in a directory
 * (mode 0700) that is, in order, COFFER_CONFIG_DIR, $XDG_CONFIG_HOME/coffer,
 * or ~/.config/coffer. COFFER_ADDR, COFFER_TOKEN and COFFER_WORKSPACE override
 * what the file says. An address may list several nodes, comma-separated.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CliError, EXIT } from "./cli-error.ts";

export const DEFAULT_ADDR = "http://127.0.0.1:8200";
export const DEFAULT_WORKSPACE = "default";

export interface StoredConfig {
  addr?: string;
  token?: string;
  workspace?: string;
  /** Who logged in, for `whoami`; the token itself says only the user's id. */
  username?: string;
  expiresAt?: string;
}

export interface Settings {
  addr: string;
  token: string | undefined;
  workspace: string;
  /** Where the token came from, for messages. */
  tokenSource: "COFFER_TOKEN" | "login" | "none";
  username: string | undefined;
}

export function configDir(): string {
  const env = process.env;
  if (env.COFFER_CONFIG_DIR) return env.COFFER_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "coffer");
}

export function configPath(): string {
  return join(configDir(), "config.json");
}

export function readConfig(): StoredConfig {
  let text: string;
  try {
    text = readFileSync(configPath(), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${configPath()}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object");
    return parsed as StoredConfig;
  } catch (error) {
    throw new CliError(`${configPath()} is not valid (${(error as Error).message}); delete it and run 'coffer login'`);
  }
}

/** Writes the whole file: a 0600 temp file in the 0700 directory, renamed over the old one. */
export function writeConfig(config: StoredConfig): void {
  const dir = configDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // An existing directory keeps its mode through mkdir: tighten it, it holds a token.
  if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  const path = configPath();
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600, flag: "wx" });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw new CliError(`cannot write ${path}: ${(error as Error).message}`);
  }
}

/**
 * The effective address, token and workspace. A token saved by `coffer
 * login` is sent only to the server it came from: with COFFER_ADDR (or
 * --addr) pointing elsewhere, only COFFER_TOKEN is used.
 */
export function settings(addrFlag?: string): Settings {
  const env = process.env;
  const stored = readConfig();
  const addr = normalizeAddr(addrFlag || env.COFFER_ADDR || stored.addr || DEFAULT_ADDR);
  const workspace = env.COFFER_WORKSPACE || stored.workspace || DEFAULT_WORKSPACE;
  if (env.COFFER_TOKEN) return { addr, workspace, token: env.COFFER_TOKEN, tokenSource: "COFFER_TOKEN", username: undefined };
  const sameServer = stored.addr !== undefined && normalizeAddr(stored.addr) === addr;
  if (stored.token && sameServer) return { addr, workspace, token: stored.token, tokenSource: "login", username: stored.username };
  return { addr, workspace, token: undefined, tokenSource: "none", username: undefined };
}

/** One address, or several nodes' separated by commas (the SDK fails over between them). */
export function normalizeAddr(addr: string): string {
  if (addr.includes(",")) return addr.split(",").map((one) => one.trim()).filter((one) => one !== "").map(normalizeOne).join(",");
  return normalizeOne(addr);
}

function normalizeOne(addr: string): string {
  let url: URL;
  try {
    url = new URL(addr);
  } catch {
    throw new CliError(`'${addr}' is not a server address; use a URL such as ${DEFAULT_ADDR}`, EXIT.usage);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(`'${addr}' is not an http or https address`, EXIT.usage);
  return url.toString().replace(/\/+$/, "");
}
