/**
 * The one place src/mcp names the typed client package (packages/client): the
 * tools speak to the coordinator only through it, over its REST API, whichever
 * transport carries MCP.
 */
export {
  CoordinatorClient,
  CoordinatorError,
  ValidationError,
  WaitTimeoutError,
  isRetryable,
  payloadHash,
  type Approval,
  type ApprovalRequestInput,
  type CoordinationStatus,
  type CoordinatorClientOptions,
  type RiskLevel,
} from '../../packages/client/src/index.js';
