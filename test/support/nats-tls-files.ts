/**
 * Throwaway TLS material for tests, made with the `openssl` command line into a directory: a CA,
 * a server certificate for localhost / 127.0.0.1 and a client certificate signed by it, and a
 * second CA that signed neither (for the "wrong CA" cases). EC P-256 keys: quick to generate.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsFiles {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here. */
  otherCaCert: string;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
}

async function makeLeaf(dir: string, name: string, extensions: string): Promise<void> {
  await writeFile(path.join(dir, `${name}.ext`), extensions);
  await openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${name}`,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    'bw-test-ca.pem',
    '-CAkey',
    'bw-test-ca.key',
    '-CAcreateserial',
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
  ]);
}

/** Writes the CA, server and client certificates into `dir` (which must exist). */
export async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  await makeCa(dir, 'bw-test-ca');
  await makeCa(dir, 'bw-other-ca');
  await makeLeaf(
    dir,
    'server',
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n',
  );
  await makeLeaf(dir, 'client', 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
  const at = (file: string): string => path.join(dir, file);
  return {
    caCert: at('bw-test-ca.pem'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    otherCaCert: at('bw-other-ca.pem'),
  };
}
