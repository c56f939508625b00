/**
 * The web dashboard: `startDashboard(store, options)` serves the page, the
 * JSON API under `/api/` and Prometheus text at `/metrics`, each behind a
 * token (auth.ts) that the CLI keeps in `<home>/dashboard.token`
 * (token_file.ts).
 * @module
 */

export {
  createHandler,
  type Dashboard,
  type DashboardOptions,
  DEFAULT_HOST,
  DEFAULT_PORT,
  noTokenOffLoopback,
  SECURITY_HEADERS,
  startDashboard,
} from "./server.ts";
export {
  checkRequest,
  generateToken,
  isLoopbackHost,
  isValidToken,
  type Refusal,
  sameSecret,
} from "./auth.ts";
export { type FileToken, loadOrCreateToken, TOKEN_FILE } from "./token_file.ts";
