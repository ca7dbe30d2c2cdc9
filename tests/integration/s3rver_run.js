// Runs s3rver (the S3 stand-in of the integration tests) on loopback, with
// the two multipart calls s3rver 3 does not implement answered from its
// own upload directory: AbortMultipartUpload (DELETE /<bucket>/<key>?uploadId=)
// and ListMultipartUploads (GET /<bucket>?uploads). Everything else is
// s3rver's. Prints "ready <port>" on stdout once it listens.
//
//   node s3rver_run.js <s3rver module dir> <data dir> <bucket> <port>
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const [moduleDir, dataDir, bucket, portText] = process.argv.slice(2);
const S3rver = require(path.join(moduleDir, 'node_modules', 's3rver'));
const uploadsDir = path.join(dataDir, bucket, '._S3rver_uploads');

function xmlEscape(s) {
  return String(s).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c]));
}

function send(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function noSuchUpload(res) {
  send(res, 404, '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code>' +
    '<Message>The specified upload does not exist.</Message></Error>');
}

function abortUpload(req, res, id) {
  const dir = path.join(uploadsDir, path.basename(id));
  if (!id || id !== path.basename(id) || !fs.existsSync(dir)) return noSuchUpload(res);
  fs.rmSync(dir, { recursive: true, force: true });
  res.writeHead(204);
  res.end();
}

function listUploads(req, res, prefix) {
  let entries = [];
  if (fs.existsSync(uploadsDir)) {
    for (const id of fs.readdirSync(uploadsDir)) {
      const dir = path.join(uploadsDir, id);
      let key = '';
      try { key = fs.readFileSync(path.join(dir, 'key'), 'utf8'); } catch (e) { continue; }
      if (!key.startsWith(prefix || '')) continue;
      entries.push({ key, id, initiated: fs.statSync(dir).birthtime.toISOString() });
    }
  }
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult>' +
    `<Bucket>${xmlEscape(bucket)}</Bucket><IsTruncated>false</IsTruncated>` +
    entries.map(e => `<Upload><Key>${xmlEscape(e.key)}</Key><UploadId>${xmlEscape(e.id)}</UploadId>` +
      `<Initiated>${e.initiated}</Initiated></Upload>`).join('') +
    '</ListMultipartUploadsResult>';
  send(res, 200, body);
}

async function main() {
  const s3 = new S3rver({ directory: dataDir, silent: true, configureBuckets: [{ name: bucket }] });
  await s3.configureBuckets();
  const handler = s3.callback();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://localhost');
    const parts = u.pathname.split('/').filter(Boolean);
    if (req.method === 'DELETE' && parts.length >= 2 && u.searchParams.has('uploadId'))
      return abortUpload(req, res, u.searchParams.get('uploadId'));
    if (req.method === 'GET' && parts.length === 1 && u.searchParams.has('uploads'))
      return listUploads(req, res, u.searchParams.get('prefix'));
    return handler(req, res);
  });
  server.listen(Number(portText), '127.0.0.1', () => {
    process.stdout.write(`ready ${server.address().port}\n`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch(e => { console.error(e); process.exit(1); });
