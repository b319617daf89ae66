// The official GOV.UK Notify Node client (npm `notifications-node-client`), pointed at the
// demo server. Called by differential.py, which judges the results.
//
// stdin:  {"base_url": "http://127.0.0.1:PORT", "cases": [{"name": ..., "api_key": ...}]}
// stdout: [{"name", "status", "data", "threw"} | {"name", "error"}]  (JSON)
//
// Install the client first: npm ci --prefix conformance

import { readFileSync } from 'node:fs';
import notify from 'notifications-node-client';

const { NotifyClient } = notify;
const input = JSON.parse(readFileSync(0, 'utf8'));
const results = [];

for (const { name, api_key: apiKey } of input.cases) {
  const client = new NotifyClient(input.base_url, apiKey);
  client.setProxy(false); // never a proxy for 127.0.0.1
  try {
    const response = await client.getNotifications();
    results.push({ name, status: response.status, data: response.data, threw: false });
  } catch (err) {
    if (err && err.response) {
      results.push({ name, status: err.response.status, data: err.response.data, threw: true });
    } else {
      results.push({ name, error: String(err && err.stack ? err.stack : err) });
    }
  }
}

process.stdout.write(JSON.stringify(results));
