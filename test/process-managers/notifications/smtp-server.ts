/**
 * A tiny SMTP server on loopback for the transport tests: enough of RFC 5321 for nodemailer
 * (EHLO without extensions, MAIL, RCPT, DATA, RSET, QUIT). Recipients starting with `reject`
 * get 550, `busy` 451; accepted messages are kept raw.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: string;
}

export interface SmtpTestServer {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedMail[];
  /** RCPT TO addresses seen, accepted or not. */
  readonly recipientsTried: string[];
  close(): Promise<void>;
}

function address(line: string): string {
  return /<([^>]*)>/.exec(line)?.[1] ?? line.split(':').slice(1).join(':').trim();
}

export async function startSmtpServer(): Promise<SmtpTestServer> {
  const received: ReceivedMail[] = [];
  const recipientsTried: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    let buffer = '';
    let inData = false;
    let data = '';
    let from = '';
    let to: string[] = [];
    const reply = (text: string): void => void socket.write(`${text}\r\n`);
    reply('220 localhost test SMTP');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          data = buffer.slice(0, end);
          buffer = buffer.slice(end + 5);
          inData = false;
          received.push({ from, to, raw: data.replace(/^\.\./gm, '.') });
          reply('250 2.0.0 OK queued');
          continue;
        }
        const newline = buffer.indexOf('\r\n');
        if (newline < 0) return;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') reply('250 localhost');
        else if (verb === 'HELO') reply('250 localhost');
        else if (verb === 'MAIL') {
          from = address(line);
          to = [];
          reply('250 2.1.0 OK');
        } else if (verb === 'RCPT') {
          const rcpt = address(line);
          recipientsTried.push(rcpt);
          if (rcpt.startsWith('reject')) reply('550 5.1.1 No such user');
          else if (rcpt.startsWith('busy')) reply('451 4.3.0 Mailbox busy, try again later');
          else {
            to.push(rcpt);
            reply('250 2.1.5 OK');
          }
        } else if (verb === 'DATA') {
          inData = true;
          reply('354 End data with <CR><LF>.<CR><LF>');
        } else if (verb === 'RSET') reply('250 OK');
        else if (verb === 'NOOP') reply('250 OK');
        else if (verb === 'QUIT') {
          reply('221 Bye');
          socket.end();
        } else reply('502 Command not implemented');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    received,
    recipientsTried,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** A loopback port nobody listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  server.close();
  await once(server, 'close');
  return port;
}
