/**
 * The one place src/mcp names the typed client package (packages/client): the
 * tools speak to the coordinator only through it, over its REST API, whichever
 * transport carries MCP.
 */
export { CoordinatorClient, type CoordinatorClientOptions } from '../../packages/client/src/coordinator-client.js';
export { CoordinatorError, ValidationError, WaitTimeoutError } from '../../packages/client/src/errors.js';
export type { Approval, ApprovalRequestInput, CoordinationStatus, RiskLevel } from '../../packages/client/src/types.js';
