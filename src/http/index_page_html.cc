// The index page's text (see index_page.h): the HTML template, its inline style and its script.
#include "http/index_page_html.h"

namespace rendezvous::http {

// {{ORIGIN}} is filled per request ("http://host" or "https://host"); the other {{NAME}}s at
// start-up. The form posts nothing by itself: the script sends the requests with fetch, to this
// origin, so the Content-Security-Policy can say form-action 'none' and connect-src 'self'.
const std::string_view kIndexPageTemplate = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rendezvous: a small public key-value store</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 viewBox=%220 0 16 16%22%3E%3Ccircle cx=%228%22 cy=%228%22 r=%227%22 fill=%22%23246%22/%3E%3C/svg%3E">
<style>
{{STYLE}}</style>
</head>
<body>
<h1>rendezvous</h1>
<p>A public key-value store over plain HTTP, for programs that need to find each other: one side
writes a value under a key, the other reads it. No accounts and no setup; pick a key nobody else
would guess.</p>

<h2>Try it</h2>
<div id="tool">
<p>Store and read a key from this page: the same API as the examples below, from your browser
(a write costs {{WRITE_COST}} tokens, a read {{OTHER_COST}}).</p>
<label for="key">Key</label>
<input id="key" value="my-key" autocomplete="off" spellcheck="false">
<label for="value">Value</label>
<textarea id="value" rows="3" spellcheck="false">hello world</textarea>
<label for="ttl">X-TTL (optional: seconds, or a duration such as 90s)</label>
<input id="ttl" autocomplete="off" spellcheck="false">
<label for="secret">X-Owner-Secret (optional)</label>
<input id="secret" type="password" autocomplete="off">
<button id="store" type="button">Store (PUT)</button>
<button id="read" type="button">Read (GET)</button>
<button id="delete" type="button">Delete</button>
<pre id="result" aria-live="polite">The answer shows here.</pre>
</div>
<script>
{{SCRIPT}}</script>

<h2>Write and read</h2>
<pre>
# store a value: the request body, byte for byte
curl -d 'hello world' {{ORIGIN}}/my-key

# read it back (application/octet-stream)
curl {{ORIGIN}}/my-key

# binary data: --data-binary keeps every byte
curl --data-binary @file.bin {{ORIGIN}}/my-file
</pre>
<p>A write answers <code>OK</code>. The key is the URL path without its first <code>/</code>,
percent-decoded (<code>%2F</code> is <code>/</code>, <code>+</code> stays a plus sign); the query
string is ignored. Writing a key again replaces its value and restarts its lifetime. HEAD answers
with the headers of a GET.</p>

<h2>Own a key</h2>
<pre>
curl -H 'X-Owner-Secret: long-random-secret' -d 'v1' {{ORIGIN}}/my-key
curl -H 'X-Owner-Secret: long-random-secret' -d 'v2' {{ORIGIN}}/my-key  # OK
curl -d 'v3' {{ORIGIN}}/my-key                                        # 403
</pre>
<p>The first write with an <code>X-Owner-Secret</code> header claims a key that has no owner yet;
after that, only writes with the same secret succeed. Reads need no secret. The server keeps a
hash of the secret, never the secret itself.</p>

<h2>Publish under your address</h2>
<pre>
curl -d 'my-service-info' {{ORIGIN}}/ip/my-service
# answers with your address as this server sees it, say 203.0.113.7; then anyone can
curl {{ORIGIN}}/ip/203.0.113.7/my-service
</pre>
<p>A POST to <code>/ip/NAME</code> is stored under <code>ip/ADDRESS/NAME</code>, so machines behind
the same public address find each other's entries. IPv6 addresses are written in their short
form (RFC 5952).</p>

<h2>Replace, delete, expire</h2>
<pre>
# PUT is the same as POST
curl -X PUT --data-binary 'v2' {{ORIGIN}}/my-key

# delete a key (an owned one needs its secret): 204, or 404 when there is none
curl -X DELETE -H 'X-Owner-Secret: long-random-secret' {{ORIGIN}}/my-key

# a shorter life for this write: whole seconds, or a duration such as 90s or 1h30m
curl -H 'X-TTL: 90s' -d 'short-lived' {{ORIGIN}}/my-key
</pre>
<p>A key under <code>ip/ADDRESS/</code> can be deleted only from that address (an IPv6 client
from any address of its /{{IPV6_PREFIX}} network). An <code>X-TTL</code> longer than
{{EXPIRE}} is cut to it. Every value and every write answer says when the key expires:
<code>Expires</code> (a date) and <code>X-Expires-In</code> (whole seconds).</p>
<p>Your own <code>ip/</code> keys: <code>curl {{ORIGIN}}/ip/</code> answers the address the
server sees; <code>GET</code>, <code>HEAD</code> and <code>DELETE /ip/NAME</code> act on
<code>ip/YOUR-ADDRESS/NAME</code> as POST does, and others read it as
<code>/ip/YOUR-ADDRESS/NAME</code>. Wait for a change instead of polling:
<code>curl -H 'Prefer: wait=30' {{ORIGIN}}/my-key</code> (or <code>?wait=30</code>, with
<code>If-None-Match</code> to wait for a new ETag) waits at most {{MAX_WAIT}} for the key to be
written or deleted, for one token.</p>
<p>Who announced a name: <code>curl '{{ORIGIN}}/ip/*/my-service'</code> lists the live
<code>ip/ADDRESS/my-service</code> keys as JSON, <code>{"name": ..., "total": N, "peers":
[{"address": ..., "value": ..., "etag": ..., "expires_in": seconds}, ...]}</code>
(<code>value_base64</code> for a value that is not UTF-8), for one token. <code>?limit=N</code>
(0 to 1000, default 100) caps the peers; past it they are a random sample and
<code>total</code> stays exact. The listing has its own ETag: <code>If-None-Match</code> with it
answers 304 while nobody came, went or changed their value, and with a wait
(<code>-H 'Prefer: wait=30'</code>) it answers when someone announces, changes or deletes the
name (an announcer that expires shows only at the wait's end).</p>

<h2>Signed keys</h2>
<p><code>/pk/KEY</code>, where KEY is an ed25519 public key in z-base-32, holds a record signed by
its private key, in the format of pkarr relays: a PUT is stored only if its signature verifies
and its timestamp is newer than the stored record's (an older one is 409), and no secret is
needed. pkarr clients can use <code>{{ORIGIN}}/pk</code> as their relay.</p>

<h2>Conditional requests</h2>
<pre>
# every value and every write answer carries an ETag, such as "1f"
curl -i {{ORIGIN}}/my-key

# read only if it changed: 304 Not Modified, without a body, when it did not
curl -H 'If-None-Match: "1f"' {{ORIGIN}}/my-key

# compare-and-swap: write only if the value is still "1f", else 412
curl -X PUT -H 'If-Match: "1f"' -d 'next' {{ORIGIN}}/my-key

# create only: 412 when the key exists
curl -X PUT -H 'If-None-Match: *' -d 'mine' {{ORIGIN}}/my-lock
</pre>
<p>The ETag changes on every write of the key. <code>If-Match: *</code> writes only if the key
exists, and <code>If-Match</code> guards a DELETE too. The condition is checked in the same step
as the write: of many clients that send the same ETag, exactly one wins.</p>

<h2>From a web page</h2>
<p>Every answer allows any origin (<code>Access-Control-Allow-Origin: *</code>) and lets scripts
read its ETag, expiry and rate-limit headers. Browsers' preflight requests (<code>OPTIONS</code>)
are answered for every key and cost nothing.</p>
<pre>
const url = '{{ORIGIN}}/room-42';
await fetch(url, {method: 'PUT', body: JSON.stringify(offer),
                  headers: {'X-TTL': '60'}});
const answer = await fetch(url);
if (answer.ok) console.log(await answer.text(), answer.headers.get('ETag'));
</pre>

<h2>Limits of this server</h2>
<table>
<tr><td>Key</td><td>at most {{MAX_KEY}} bytes after decoding (for <code>/ip/</code> keys, the
address included)</td></tr>
<tr><td>Value</td><td>at most {{MAX_VALUE}} bytes, value and secret together</td></tr>
<tr><td>Keys</td><td>at most {{MAX_ENTRIES}} on the server</td></tr>
<tr><td>Keys per client</td><td>{{KEYS_PER_CLIENT}}</td></tr>
<tr><td>Lifetime</td><td>a key expires {{EXPIRE}} after its last write (or sooner, with
<code>X-TTL</code>)</td></tr>
<tr><td>Requests</td><td>{{MAX_REQUESTS}} tokens per client, refilled continuously over
{{RESET}}; a POST, PUT or DELETE costs {{WRITE_COST}} tokens, any other request on a key
{{OTHER_COST}}</td></tr>
</table>
<p>A client is an IPv4 address or an IPv6 /{{IPV6_PREFIX}} network. Answers that cost tokens say
how many you have: <code>RateLimit-Limit</code>, <code>RateLimit-Remaining</code> and
<code>RateLimit-Reset</code> (seconds until the bucket is full). Out of tokens, the answer is
<code>429</code> with a <code>Retry-After</code> header (seconds to wait); a refused request costs
nothing. This page costs nothing either.</p>

<h2>Answers</h2>
<table>
<tr><th>Status</th><th>Body</th><th>Meaning</th></tr>
{{ANSWERS}}</table>
<p>Error bodies are plain text ending in a newline.</p>
</body>
</html>
)html";

// The style and the script are inserted verbatim: the Content-Security-Policy allows exactly
// their SHA-256 hashes, so a byte changed here changes the header with it.
const std::string_view kIndexPageStyle = R"css(body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#222}
pre,code{font:14px/1.45 ui-monospace,monospace;background:#f3f3f3}
pre{padding:.6rem .8rem;white-space:pre-wrap;overflow-wrap:anywhere}
code{overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
#tool{border:1px solid #ccc;padding:.5rem 1rem 1rem;background:#fafafa}
#tool label{display:block;margin-top:.5rem}
#tool input,#tool textarea{box-sizing:border-box;width:100%;font:14px ui-monospace,monospace;padding:.3rem}
#tool button{margin:.75rem .5rem 0 0;font:inherit;padding:.25rem .9rem}
#result{min-height:3rem}
)css";

const std::string_view kIndexPageScript = R"js((() => {
  const field = (id) => document.getElementById(id);
  const shown = ['ETag', 'X-Expires-In', 'RateLimit-Remaining', 'Retry-After'];
  async function send(method) {
    const key = field('key').value;
    const result = field('result');
    if (key === '') {
      result.textContent = 'Enter a key.';
      return;
    }
    const headers = {};
    const ttl = field('ttl').value.trim();
    const secret = field('secret').value;
    if (method === 'PUT' && ttl !== '') headers['X-TTL'] = ttl;
    if (method !== 'GET' && secret !== '') headers['X-Owner-Secret'] = secret;
    const init = {method, headers, cache: 'no-store'};
    if (method === 'PUT') init.body = field('value').value;
    result.textContent = method + ' /' + key + ' ...';
    try {
      // "/favicon.ico" is the server's own path: its key is reached percent-encoded.
      const path = '/' + encodeURIComponent(key).replace(/^favicon\.ico$/, '%66avicon.ico');
      const answer = await fetch(path, init);
      const body = await answer.text();
      const lines = [answer.status + ' ' + answer.statusText];
      for (const name of shown) {
        const value = answer.headers.get(name);
        if (value !== null) lines.push(name + ': ' + value);
      }
      lines.push('', body);
      result.textContent = lines.join('\n');
      if (method === 'GET' && answer.ok) field('value').value = body;
    } catch (error) {
      result.textContent = method + ' failed: ' + error;
    }
  }
  field('store').addEventListener('click', () => send('PUT'));
  field('read').addEventListener('click', () => send('GET'));
  field('delete').addEventListener('click', () => send('DELETE'));
})();
)js";

}  // namespace rendezvous::http
