// Exits 0 when a Docker-API engine answers `GET /_ping` on the Unix socket given, 1 otherwise.
import http from 'node:http';

const req = http.get({ socketPath: process.argv[2], path: '/_ping', timeout: 2000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1));
req.on('error', () => process.exit(1));
req.on('timeout', () => process.exit(1));
