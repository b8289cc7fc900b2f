import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { openFileByteSource } from '../../../src/images/byte-source.js';
import type { ImageInspection, InspectOptions } from '../../../src/images/format-inspector.js';
import { inspectImage } from '../../../src/images/format-inspector.js';

export function hasCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function requireQemuImg(): void {
  if (!hasCommand('qemu-img')) throw new Error('these tests need qemu-img: apt-get install -y qemu-utils');
}

export function makeTempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'stackdoctor-images-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runQemuImg(args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function createImage(
  dir: string,
  name: string,
  format: string,
  size: string,
  options: string[] = [],
): string {
  const path = join(dir, name);
  runQemuImg(['create', '-q', '-f', format, ...options, path, size]);
  return path;
}

/** Copies `source` to `name` with some bytes overwritten; returns the new path. */
export function patchImage(
  dir: string,
  source: string,
  name: string,
  edit: (bytes: Buffer) => Buffer | undefined,
): string {
  const bytes = readFileSync(source);
  const path = join(dir, name);
  writeFileSync(path, edit(bytes) ?? bytes);
  return path;
}

export function writeBytes(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

export async function inspectFile(path: string, options: InspectOptions = {}): Promise<ImageInspection> {
  const source = await openFileByteSource(path);
  try {
    return await inspectImage(source, options);
  } finally {
    await source.close();
  }
}

export function listRules(inspection: ImageInspection): string[] {
  return inspection.problems.map((p) => p.rule);
}

/** A minimal ISO 9660 volume: primary descriptor at 32 KiB and a terminator after it. */
export function buildIso(blocks = 40): Buffer {
  const bytes = Buffer.alloc(blocks * 2048);
  const pvd = 32 * 1024;
  bytes[pvd] = 1;
  bytes.write('CD001', pvd + 1, 'latin1');
  bytes[pvd + 6] = 1;
  bytes.writeUInt32LE(blocks, pvd + 80);
  bytes.writeUInt32BE(blocks, pvd + 84);
  bytes.writeUInt16LE(2048, pvd + 128);
  bytes.writeUInt16BE(2048, pvd + 130);
  const terminator = pvd + 2048;
  bytes[terminator] = 255;
  bytes.write('CD001', terminator + 1, 'latin1');
  bytes[terminator + 6] = 1;
  return bytes;
}

export function writePartition(
  bytes: Buffer,
  index: number,
  entry: { boot?: number; type: number; chs?: number[]; lba: number; sectors: number },
): void {
  const at = 446 + index * 16;
  bytes[at] = entry.boot ?? 0;
  Buffer.from(entry.chs ?? [0, 2, 0]).copy(bytes, at + 1);
  bytes[at + 4] = entry.type;
  bytes.writeUInt32LE(entry.lba, at + 8);
  bytes.writeUInt32LE(entry.sectors, at + 12);
  bytes[510] = 0x55;
  bytes[511] = 0xaa;
}

/** A 1 MiB disk with a protective MBR, a GPT header and an empty 128-entry partition array. */
export function buildGptDisk(): Buffer {
  const sectors = 2048;
  const bytes = Buffer.alloc(sectors * 512);
  writePartition(bytes, 0, { type: 0xee, lba: 1, sectors: sectors - 1 });
  const header = 512;
  bytes.write('EFI PART', header, 'latin1');
  bytes.writeUInt32LE(0x00010000, header + 8);
  bytes.writeUInt32LE(92, header + 12);
  bytes.writeBigUInt64LE(1n, header + 24);
  bytes.writeBigUInt64LE(BigInt(sectors - 1), header + 32);
  bytes.writeBigUInt64LE(34n, header + 40);
  bytes.writeBigUInt64LE(BigInt(sectors - 34), header + 48);
  bytes.writeBigUInt64LE(2n, header + 72);
  bytes.writeUInt32LE(128, header + 80);
  bytes.writeUInt32LE(128, header + 84);
  bytes.writeUInt32LE(crc32(bytes.subarray(1024, 1024 + 128 * 128)), header + 88);
  bytes.writeUInt32LE(crc32(bytes.subarray(header, header + 92)), header + 16);
  return bytes;
}

/** Recomputes a VHD footer's one's-complement checksum after an edit. */
export function fixVhdChecksum(bytes: Buffer, footerOffset: number): void {
  bytes.writeUInt32BE(0, footerOffset + 64);
  let sum = 0;
  for (let i = footerOffset; i < footerOffset + 512; i++) sum += bytes[i]!;
  bytes.writeUInt32BE(~sum >>> 0, footerOffset + 64);
}
