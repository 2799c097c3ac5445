/**
 * Returns the text of a JSON-RPC 2.0 error message, the one form every error mcp-lok itself
 * sends to an MCP client takes; `idJson` is the request's id already serialized (`null` when
 * the error answers no request, as the SDK's transports send it).
 */
export function formatJsonRpcError(code: number, message: string, idJson = 'null'): string {
  return `{"jsonrpc":"2.0","error":{"code":${code},"message":${JSON.stringify(message)}},"id":${idJson}}`;
}
