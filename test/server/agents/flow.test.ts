import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { ReadGate } from '../../../src/server/agents/flow.js';
import { waitFor } from '../../support/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('back-pressure on an agent socket', () => {
  let wss: WebSocketServer;
  let url: string;
  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((resolve) => wss.once('listening', resolve));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });

  it('stops reading while more than the limit waits to be stored, and reads again once half of it is done', async () => {
    const limit = 256 * KiB;
    const frame = Buffer.alloc(16 * KiB, 'a').toString();
    // Far more than loopback's socket buffers hold: a sender the server stopped reading backs up.
    const frames = 4096;
    const received: number[] = [];
    let storing = false;
    const accepted = new Promise<{ ws: WebSocket; gate: ReadGate }>((resolve) => {
      wss.once('connection', (ws) => {
        const gate = new ReadGate(ws, limit);
        ws.on('message', (data: Buffer) => {
          gate.received(data.length);
          received.push(data.length);
          // Once the test lets storage go on, each frame is stored at once.
          if (storing) gate.done(data.length);
        });
        resolve({ ws, gate });
      });
    });
    const client = new WebSocket(url);
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    const { ws, gate } = await accepted;
    for (let i = 0; i < frames; i++) client.send(frame);

    await waitFor('the client to back up', () => ws.isPaused && client.bufferedAmount > 32 * MiB);
    const readWhilePaused = received.reduce((sum, bytes) => sum + bytes, 0);
    // What one socket read delivered past the limit may still come out of ws's buffer.
    assert.ok(readWhilePaused <= limit + 2 * MiB, `read ${readWhilePaused} bytes while ${gate.pendingBytes} were pending`);
    assert.ok(received.length < frames);

    storing = true;
    gate.done(readWhilePaused);
    assert.equal(ws.isPaused, false, 'reading goes on at half the limit');
    await waitFor('every frame', () => received.length === frames, 30_000);
    assert.equal(gate.pendingBytes, 0);
    client.close();
  });
});
