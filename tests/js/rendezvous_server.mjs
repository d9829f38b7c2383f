// The rendezvous-server binary (RDV_SERVER) as a child process of a node test: started on a free
// loopback port with a memory store, stopped by its PID. Shared by tests/browser and
// tests/pkarr_client; it needs no npm package.
import {spawn} from 'node:child_process';

// Starts the binary with `maxRequests` tokens per client and resolves with {child, origin} once
// it logs "listening on HOST:PORT"; rejects if it exits first or says nothing within 10 s.
export function startServer(maxRequests) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.env.RDV_SERVER,
                        ['-l', '127.0.0.1', '-port', '0', '-db', '', '-disableLocalIPWaring',
                         '-maxRequests', String(maxRequests)],
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

// Stops a child by its PID: SIGTERM, then SIGKILL if it has not exited within 5 s.
export function stop(child) {
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
