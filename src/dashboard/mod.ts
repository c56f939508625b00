/**
 * The web dashboard: `startDashboard(store, options)` serves the page, the
 * JSON API under `/api/` and Prometheus text at `/metrics`.
 * @module
 */

export {
  createHandler,
  type Dashboard,
  type DashboardOptions,
  DEFAULT_HOST,
  DEFAULT_PORT,
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
