import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { formatJsonRpcError } from '../../src/http/json-rpc.js';

const errors = suite('formatJsonRpcError');
for (const [code, message, idJson, expected] of [
  [-32000, 'Not Found', undefined, '{"jsonrpc":"2.0","error":{"code":-32000,"message":"Not Found"},"id":null}'],
  [-32001, 'Session not found', 'null', '{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}'],
  [-32000, 'the server exited', '"slow"', '{"jsonrpc":"2.0","error":{"code":-32000,"message":"the server exited"},"id":"slow"}'],
  [-32603, 'Internal error', '7', '{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error"},"id":7}'],
  [-32000, 'Service unavailable: ü', undefined, '{"jsonrpc":"2.0","error":{"code":-32000,"message":"Service unavailable: ü"},"id":null}'],
  [-32600, 'a "quoted"\nline\\', undefined, '{"jsonrpc":"2.0","error":{"code":-32600,"message":"a \\"quoted\\"\\nline\\\\"},"id":null}'],
] as const) {
  errors(`writes ${code} ${JSON.stringify(message)} for id ${idJson ?? '(none)'}`, () => {
    const text = formatJsonRpcError(code, message, idJson);
    assert.is(text, expected);
    assert.not.match(text, /[\r\n]/, 'one line');
    assert.equal(JSON.parse(text), { jsonrpc: '2.0', error: { code, message }, id: JSON.parse(idJson ?? 'null') });
  });
}
errors.run();
