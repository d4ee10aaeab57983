/**
 * A small, strict reader and writer for the safetensors format (https://github.com/huggingface/safetensors),
 * plus float16 / bfloat16 conversion with round-to-nearest-even.
 *
 * File layout: `u64 LE N` | `N bytes of UTF-8 JSON header` | data. The header maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` (byte offsets relative to the start of the data section) and may
 * hold `"__metadata__": {string: string}`. This writer pads the header with spaces so that `8 + N` is a multiple
 * of 8, orders tensors by name (header and data alike) and packs the data with no gaps, so the same tensors always
 * give the same bytes. All numeric data is little-endian.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";

/** Element types of the safetensors format (the subset of names it defines that MLX models use). */
export type SafetensorsDtype =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL";

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** Floating-point dtypes that {@link encodeFloats} / {@link decodeFloats} handle. */
export type FloatDtype = "F32" | "F16" | "BF16";

/** One tensor to write. `data` is the raw little-endian bytes, or a function producing them on demand
 * (called once, in write order, so large files can be streamed without holding every tensor in memory). */
export interface TensorSpec {
  name: string;
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first (row-major); `[]` is a scalar. */
  shape: readonly number[];
  data: Uint8Array | (() => Uint8Array);
}

/** A tensor as found in a parsed file. `data` is a view into the file's bytes (no copy). */
export interface TensorEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** `[begin, end)` byte offsets relative to the start of the data section. */
  dataOffsets: [number, number];
  data: Uint8Array;
}

/** A parsed safetensors file. */
export interface ParsedSafetensors {
  /** The `__metadata__` map (empty when absent). */
  metadata: Record<string, string>;
  /** Tensors in header order. */
  tensors: Map<string, TensorEntry>;
  /** Byte offset of the data section in the file (= 8 + header length). */
  dataStart: number;
  /** The header JSON text exactly as stored (including padding). */
  headerText: string;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function requireLittleEndianHost(): void {
  if (!HOST_LITTLE_ENDIAN) throw new Error("safetensors: big-endian hosts are not supported");
}

/** Number of elements of a shape (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Byte length of a tensor of this dtype and shape. */
export function tensorByteLength(dtype: SafetensorsDtype, shape: readonly number[]): number {
  return DTYPE_BYTES[dtype] * shapeSize(shape);
}

function validateSpec(t: { name: string; dtype: string; shape: readonly number[] }): void {
  if (t.name.length === 0 || t.name === "__metadata__")
    throw new Error(`safetensors: invalid tensor name ${JSON.stringify(t.name)}`);
  if (!(t.dtype in DTYPE_BYTES)) throw new Error(`safetensors: unknown dtype ${t.dtype} for ${t.name}`);
  for (const d of t.shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new Error(`safetensors: bad shape [${t.shape.join(", ")}] for ${t.name}`);
  }
}

/**
 * Builds the 8-byte length prefix plus the padded JSON header for these tensors (sorted by name) and returns the
 * tensors in data order.
 *
 * @returns `prefix`: bytes to write before the data; `order`: the tensors in the order their data must follow;
 *   `dataLength`: total bytes of the data section.
 */
export function buildHeader<T extends { name: string; dtype: SafetensorsDtype; shape: readonly number[] }>(
  tensors: readonly T[],
  metadata: Record<string, string> = { format: "mlx" },
): { prefix: Uint8Array; order: T[]; dataLength: number } {
  const order = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new Error(`safetensors: metadata value for ${k} must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  let previous: string | null = null;
  for (const t of order) {
    validateSpec(t);
    if (t.name === previous) throw new Error(`safetensors: duplicate tensor ${t.name}`);
    previous = t.name;
    const len = tensorByteLength(t.dtype, t.shape);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + len] };
    offset += len;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const prefix = new Uint8Array(8 + padded);
  prefix.fill(0x20, 8); // spaces
  new DataView(prefix.buffer).setBigUint64(0, BigInt(padded), true);
  prefix.set(json, 8);
  return { prefix, order, dataLength: offset };
}

function resolveData(t: TensorSpec): Uint8Array {
  const data = typeof t.data === "function" ? t.data() : t.data;
  const expected = tensorByteLength(t.dtype, t.shape);
  if (data.byteLength !== expected) {
    throw new Error(
      `safetensors: ${t.name} has ${data.byteLength} bytes, expected ${expected} (${t.dtype} [${t.shape.join(", ")}])`,
    );
  }
  return data;
}

/** Serializes tensors into one in-memory safetensors file. */
export function encodeSafetensors(
  tensors: readonly TensorSpec[],
  metadata: Record<string, string> = { format: "mlx" },
): Uint8Array {
  const { prefix, order, dataLength } = buildHeader(tensors, metadata);
  const out = new Uint8Array(prefix.length + dataLength);
  out.set(prefix, 0);
  let pos = prefix.length;
  for (const t of order) {
    const data = resolveData(t);
    out.set(data, pos);
    pos += data.byteLength;
  }
  return out;
}

/**
 * Writes a safetensors file at `path`, streaming: each tensor's `data` function is called just before its bytes
 * are written, so peak memory is one tensor. The file is fsync'ed before returning. Not atomic by itself: write
 * into a temporary location and rename.
 */
export function writeSafetensorsFile(
  path: string,
  tensors: readonly TensorSpec[],
  metadata: Record<string, string> = { format: "mlx" },
): void {
  const { prefix, order } = buildHeader(tensors, metadata);
  const fd = openSync(path, "w", 0o644);
  try {
    writeAll(fd, prefix);
    for (const t of order) writeAll(fd, resolveData(t));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
}

/**
 * Parses and validates a safetensors file: header length within the file, known dtypes, offsets contiguous from 0
 * without overlap, and every tensor's byte length = dtype size × product of its shape.
 */
export function parseSafetensors(bytes: Uint8Array): ParsedSafetensors {
  if (bytes.byteLength < 8) throw new Error("safetensors: file shorter than 8 bytes");
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.byteLength - 8)) throw new Error(`safetensors: header length ${n} exceeds the file`);
  const dataStart = 8 + Number(n);
  const headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, dataStart));
  const raw = JSON.parse(headerText) as Record<string, unknown>;
  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (name === "__metadata__") {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") throw new Error(`safetensors: metadata ${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES))
      throw new Error(`safetensors: ${name}: bad dtype ${String(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new Error(`safetensors: ${name}: bad shape`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new Error(`safetensors: ${name}: bad data_offsets`);
    }
    const [begin, end] = offs as [number, number];
    const dtype = e.dtype as SafetensorsDtype;
    const shape = e.shape as number[];
    if (end - begin !== tensorByteLength(dtype, shape)) {
      throw new Error(`safetensors: ${name}: ${end - begin} bytes for ${dtype} [${shape.join(", ")}]`);
    }
    if (dataStart + end > bytes.byteLength) throw new Error(`safetensors: ${name}: data beyond end of file`);
    entries.push({
      name,
      dtype,
      shape,
      dataOffsets: [begin, end],
      data: bytes.subarray(dataStart + begin, dataStart + end),
    });
  }
  const sorted = [...entries].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
  let expect = 0;
  for (const t of sorted) {
    if (t.dataOffsets[0] !== expect)
      throw new Error(`safetensors: ${t.name}: data not contiguous (gap or overlap at ${expect})`);
    expect = t.dataOffsets[1];
  }
  if (dataStart + expect !== bytes.byteLength) throw new Error("safetensors: trailing bytes after the last tensor");
  return { metadata, tensors: new Map(entries.map((t) => [t.name, t])), dataStart, headerText };
}

/** Reads and parses a safetensors file (whole file in memory). */
export function readSafetensorsFile(path: string): ParsedSafetensors {
  return parseSafetensors(new Uint8Array(readFileSync(path)));
}

// ---------------------------------------------------------------------------------------------------------------
// float16 / bfloat16

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE binary16 bits of `x` rounded to nearest, ties to even; overflow → ±Inf; NaN → quiet NaN. */
export function float32ToFloat16Bits(x: number): number {
  f32Scratch[0] = x;
  return f32BitsToF16Bits(u32Scratch[0]!);
}

function f32BitsToF16Bits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry may reach the exponent, or Inf: both correct
  return sign | h;
}

/** bfloat16 bits of `x` rounded to nearest, ties to even; NaN → quiet NaN. */
export function float32ToBfloat16Bits(x: number): number {
  f32Scratch[0] = x;
  return f32BitsToBf16Bits(u32Scratch[0]!);
}

function f32BitsToBf16Bits(b: number): number {
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The float32 value of binary16 bits. */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** The float32 value of bfloat16 bits. */
export function bfloat16BitsToFloat32(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0]!;
}

/**
 * Encodes float32 values as little-endian bytes of `dtype` (F16/BF16 rounded to nearest even).
 * For F32 the result is a view of `values` (no copy).
 */
export function encodeFloats(values: Float32Array, dtype: FloatDtype): Uint8Array {
  requireLittleEndianHost();
  if (dtype === "F32") return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  if (dtype === "F16") for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16Bits(bits[i]!);
  else for (let i = 0; i < bits.length; i++) out[i] = f32BitsToBf16Bits(bits[i]!);
  return new Uint8Array(out.buffer);
}

/** Decodes little-endian F32/F16/BF16 bytes to float32 values. */
export function decodeFloats(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
  requireLittleEndianHost();
  const copy = bytes.slice(); // aligned copy
  if (dtype === "F32") return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  const h = new Uint16Array(copy.buffer, 0, copy.byteLength / 2);
  const out = new Float32Array(h.length);
  if (dtype === "F16") for (let i = 0; i < h.length; i++) out[i] = float16BitsToFloat32(h[i]!);
  else for (let i = 0; i < h.length; i++) out[i] = bfloat16BitsToFloat32(h[i]!);
  return out;
}
