/**
 * pg's client, sending the statement of a prepared query (prepared.ts) as a
 * named prepared statement: PostgreSQL parses it once per connection and,
 * once its plan does not depend on the values, plans it once too. Kysely
 * sends every statement unnamed, parsed and planned on each run.
 */
import pg from "pg";
import { statementName } from "./prepared.ts";

export class NamingClient extends pg.Client {
  // Kysely calls query(text, values); pg's overloads leave no narrower signature to override.
  override query(config: any, values?: any, callback?: any): any {
    const name = typeof config === "string" ? statementName(config) : undefined;
    return super.query(name === undefined ? config : { name, text: config }, values, callback);
  }
}
