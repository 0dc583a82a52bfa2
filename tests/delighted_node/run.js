// Runs calls of Delighted's official Node client (delighted 2.2.0 from npm, unchanged)
// against a CX Hub server, for tests/api/test_delighted_node_client.py.
//
//   node run.js <base URL, e.g. http://127.0.0.1:8000>  < calls.json
//
// calls.json: [{"key": "<API key>", "call": "<resource>.<method>", "args": [...],
//               "walk": true (list(): autoPagingEach to the end),
//               "object": {...} (save(): the attributes of the resource to save)}, ...]
// Prints one JSON array: per call {"ok": true, "value": ...} or {"ok": false, "type":
// the client's error type, "message", "retryAfter"}.
'use strict';
const delighted = require('delighted');

const base = new URL(process.argv[2]);
const options = { host: base.hostname, port: Number(base.port), base: '/v1', scheme: 'http' };

async function run(step) {
  const client = delighted(step.key, options);
  const [resource, method] = step.call.split('.');
  const target = client[resource];
  if (step.walk) {
    const items = [];
    const list = target.list(...(step.args || []));
    await list.autoPagingEach((item) => { items.push(item.toJSON()); });
    return { items, pages: list.interation_count };
  }
  if (method === 'save') {
    return (await target.materialize(step.object).save()).toJSON();
  }
  const value = await target[method](...(step.args || []));
  const plain = (v) => (v && typeof v.toJSON === 'function' ? v.toJSON() : v);
  return Array.isArray(value) ? value.map(plain) : plain(value);
}

(async () => {
  const steps = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const results = [];
  for (const step of steps) {
    try {
      results.push({ ok: true, value: await run(step) });
    } catch (error) {
      results.push({
        ok: false, type: error.type || String(error), message: error.message,
        retryAfter: error.retryAfter === undefined ? null : error.retryAfter,
      });
    }
  }
  process.stdout.write(JSON.stringify(results));
})();
