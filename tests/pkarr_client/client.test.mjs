// The server as a pkarr relay for a real pkarr client: the JavaScript implementation published on
// npm as "pkarr" (1.3.0, by the authors of the pkarr design), pointed at http://HOST:PORT/pk. The
// client builds and signs a DNS packet itself, publishes it with an HTTP PUT, and resolves it with
// an HTTP GET that verifies the signature; no DHT and no internet are involved (relayPut and
// relayGet only talk to the relay URL they are given).
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import {Pkarr, SignedPacket, generateKeyPair, z32} from 'pkarr';

const SERVER = process.env.RDV_SERVER;

let server;  // the rendezvous-server child process
let relay;   // http://127.0.0.1:PORT/pk

// Starts the binary and resolves with the child and its origin once it logs "listening on".
function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(SERVER, ['-l', '127.0.0.1', '-port', '0', '-db', '',
                                 '-disableLocalIPWaring', '-maxRequests', '1000'],
                        {stdio: ['ignore', 'pipe', 'pipe']});
    let output = '';
    const timer = setTimeout(() => reject(new Error(`no listening line:\n${output}`)), 10000);
    const onData = (chunk) => {
      output += chunk;
      const match = /listening on (\S+):(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({child, origin: `http://${match[1]}:${match[2]}`});
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
}

// Stops the child by its PID: SIGTERM, then SIGKILL if it has not exited within 5 s.
function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => process.kill(child.pid, 'SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    process.kill(child.pid, 'SIGTERM');
  });
}

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
  const started = await startServer();
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
