// The server as a pkarr relay for a real pkarr client: the JavaScript implementation published on
// npm as "pkarr" (1.3.0, by the authors of the pkarr design), pointed at http://HOST:PORT/pk. The
// client builds and signs a DNS packet itself, publishes it with an HTTP PUT, and resolves it with
// an HTTP GET that verifies the signature; no DHT and no internet are involved (relayPut and
// relayGet only talk to the relay URL they are given).
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {Pkarr, SignedPacket, generateKeyPair, z32} from 'pkarr';
import {startServer, stop} from '../js/rendezvous_server.mjs';

const SERVER = process.env.RDV_SERVER;

let server;  // the rendezvous-server child process
let relay;   // http://127.0.0.1:PORT/pk

function txtPacket(text) {
  return {id: 0, type: 'response', flags: 0,
          answers: [{name: '_rendezvous', type: 'TXT', class: 'IN', data: text}]};
}

function resolvedKey(keyPair) {
  return z32.encode(keyPair.publicKey);
}

function txtOf(signedPacket) {
  const [record] = signedPacket.resourceRecords('_rendezvous');
  return Buffer.concat(record.data).toString();
}

before(async () => {
  assert.ok(SERVER, 'RDV_SERVER must name the rendezvous-server binary');
  const started = await startServer(1000);
  server = started.child;
  relay = `${started.origin}/pk`;
});

after(async () => {
  await stop(server);
});

test('a record the client signs is stored and resolved back, verified, through the relay', async () => {
  const keyPair = generateKeyPair();
  const signed = SignedPacket.fromPacket(keyPair, txtPacket('hello from pkarr'));
  const put = await Pkarr.relayPut(relay, signed);
  assert.equal(put.status, 204);

  // relayGet verifies the signature over what the relay returns.
  const resolved = await Pkarr.relayGet(relay, keyPair.publicKey);
  assert.deepEqual(Buffer.from(resolved.bytes()), Buffer.from(signed.bytes()));
  assert.equal(txtOf(resolved), 'hello from pkarr');

  // What the client fetched: the relay payload, with the media type pkarr relays use.
  const raw = await fetch(`${relay}/${resolvedKey(keyPair)}`);
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get('Content-Type'), 'application/pkarr.org/relays#payload');
});

test('a newer record replaces the stored one and an older one is refused with 409', async () => {
  const keyPair = generateKeyPair();
  const first = SignedPacket.fromPacket(keyPair, txtPacket('first'));
  // The client stamps records with the current time in microseconds: wait for a later one.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const second = SignedPacket.fromPacket(keyPair, txtPacket('second'));
  assert.equal((await Pkarr.relayPut(relay, second)).status, 204);
  assert.equal((await Pkarr.relayPut(relay, first)).status, 409);
  assert.equal(txtOf(await Pkarr.relayGet(relay, keyPair.publicKey)), 'second');
});
