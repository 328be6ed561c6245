/**
 * The TF.js "layers-model" directory format, read and written without TF.js:
 *
 *     DIR/model/model.json    topology + weights manifest (TF.js `ModelJSON`)
 *     DIR/model/weights.bin   all weights, float32 little-endian, in manifest order
 *
 * io.ts hands these files to TF.js for the sequence models; the CHIDS autoencoder (a plain stack
 * of Dense layers) is read and written here directly, so training and scoring it never load
 * TF.js. Every problem on load is a one-line ChidsError (an InputError naming the file).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../util/errors.js';
import { replaceDirAtomic } from '../../util/fs.js';
import { firstIssue, readJsonFile } from '../../util/json.js';

/** Sub-directory of a baseline that holds the model. */
export const MODEL_DIR = 'model';
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** What a loaded Dense stack must look like. */
export interface ModelCheck {
  /** Shapes of the weights in manifest order ([kernel, bias] per Dense layer). */
  expectedWeightShapes: readonly (readonly number[])[];
  /** `units` of each Dense layer, in order. */
  layerUnits: readonly number[];
  /** Width of the input (last axis of the first layer's batch_input_shape). */
  inputWidth: number;
  /** Activation of every layer. */
  activation: string;
  /** If model.json carries `userDefinedMetadata.chids.kind`, it must equal this. */
  kind: string;
}

/** The first line of an error, or a plain word for a missing file. */
export function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') {
    if (e.code === 'ENOENT') return 'missing (no such file)';
    return `${e.code}: ${(e.message ?? '').split('\n')[0]}`;
  }
  return err instanceof Error ? (err.message.split('\n')[0] ?? String(err)) : String(err);
}

/** One entry of the weights manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/** The model.json we write: TF.js's `ModelJSON` for one weights file. */
export interface LayersModelJson {
  modelTopology: { class_name: string; config: Record<string, unknown>; [k: string]: unknown };
  format: 'layers-model';
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: [{ paths: [typeof WEIGHTS_BIN]; weights: WeightSpec[] }];
  userDefinedMetadata?: Record<string, unknown>;
}

/**
 * Writes `json` and `weights` under `dir/model/`. The files are written into a temporary sibling
 * directory first and renamed into place, so a failure leaves no partial `model/` behind.
 */
export async function writeModelDir(dir: string, json: LayersModelJson, weights: Uint8Array): Promise<void> {
  await replaceDirAtomic(join(dir, MODEL_DIR), async (tmp) => {
    await writeFile(join(tmp, WEIGHTS_BIN), weights);
    await writeFile(join(tmp, MODEL_JSON), JSON.stringify(json) + '\n');
  });
}

const weightSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.literal('float32'),
});

const modelJsonSchema = z.object({
  format: z.literal('layers-model'),
  modelTopology: z.looseObject({
    class_name: z.enum(['Sequential', 'Model', 'Functional']),
    config: z.looseObject({}),
  }),
  weightsManifest: z
    .array(
      z.object({
        paths: z.tuple([z.literal(WEIGHTS_BIN)]),
        weights: z.array(weightSpecSchema),
      }),
    )
    .length(1),
  userDefinedMetadata: z.record(z.string(), z.unknown()).optional(),
});

export type ParsedModelJson = z.infer<typeof modelJsonSchema>;

const denseLayerSchema = z.object({
  class_name: z.literal('Dense'),
  config: z.looseObject({
    units: z.number().int().positive(),
    activation: z.string(),
    use_bias: z.boolean(),
    activity_regularizer: z.unknown().optional(),
    batch_input_shape: z.array(z.number().nullable()).optional(),
    name: z.string().optional(),
  }),
});

/** Reads and checks `dir/model/model.json`. */
export async function readModelJson(dir: string): Promise<{ modelDir: string; jsonPath: string; binPath: string; mj: ParsedModelJson }> {
  const modelDir = join(dir, MODEL_DIR);
  const jsonPath = join(modelDir, MODEL_JSON);
  const binPath = join(modelDir, WEIGHTS_BIN);
  const raw = await readJsonFile(jsonPath);
  const parsed = modelJsonSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(jsonPath, `not a TF.js layers model: ${firstIssue(parsed.error)}`);
  return { modelDir, jsonPath, binPath, mj: parsed.data };
}

/**
 * Reads weights.bin: its byte length must match the manifest and every weight must be finite.
 * Returns the bytes as an ArrayBuffer of its own.
 */
export async function readWeightsBin(binPath: string, specs: readonly WeightSpec[]): Promise<ArrayBuffer> {
  const expectedBytes = specs.reduce((acc, s) => acc + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  let bin: Buffer;
  try {
    bin = await readFile(binPath);
  } catch (err) {
    throw new InputError(binPath, errorText(err));
  }
  if (bin.byteLength !== expectedBytes) {
    throw new InputError(binPath, `has ${bin.byteLength} bytes, expected ${expectedBytes} (${specs.length} float32 tensors listed in ${MODEL_JSON})`);
  }
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  const f32 = new Float32Array(weightData);
  for (let i = 0; i < f32.length; i++) {
    if (!Number.isFinite(f32[i])) throw new InputError(binPath, `weight ${i} is not finite (${f32[i]})`);
  }
  return weightData;
}

/**
 * Checks that model.json holds exactly the expected stack of Dense layers (kind, units,
 * activation, bias, input shape, weight shapes). Returns the layer names and weight specs.
 */
export function checkDenseStack(jsonPath: string, mj: ParsedModelJson, check: ModelCheck): { names: string[]; specs: WeightSpec[] } {
  // Model kind, if recorded.
  const meta = mj.userDefinedMetadata?.['chids'];
  if (meta !== undefined) {
    const kind = (meta as { kind?: unknown } | null)?.kind;
    if (kind !== undefined && kind !== check.kind) {
      throw new InputError(jsonPath, `holds a "${String(kind)}" model, expected "${check.kind}"`);
    }
  }

  // Topology: exactly the expected stack of Dense layers.
  const layersRaw = (mj.modelTopology.config as { layers?: unknown }).layers;
  if (mj.modelTopology.class_name !== 'Sequential' || !Array.isArray(layersRaw)) {
    throw new InputError(jsonPath, `wrong topology: expected a Sequential model of ${check.layerUnits.length} Dense layers`);
  }
  const expectedUnits = check.layerUnits.join(',');
  const layers = [];
  for (let i = 0; i < layersRaw.length; i++) {
    const l = denseLayerSchema.safeParse(layersRaw[i]);
    if (!l.success) throw new InputError(jsonPath, `wrong topology: layer ${i + 1}: ${firstIssue(l.error)}`);
    layers.push(l.data.config);
  }
  const units = layers.map((l) => l.units).join(',');
  if (units !== expectedUnits) {
    throw new InputError(jsonPath, `wrong topology: Dense units ${units || '(none)'}, expected ${expectedUnits}`);
  }
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i];
    if (l.activation !== check.activation || !l.use_bias) {
      throw new InputError(jsonPath, `wrong topology: layer ${i + 1} must be ${check.activation} with a bias`);
    }
    if (l.activity_regularizer != null) {
      throw new InputError(jsonPath, `wrong topology: layer ${i + 1} has an activity regularizer, which TF.js cannot run`);
    }
  }
  const inShape = layers[0]?.batch_input_shape;
  if (inShape === undefined || inShape.length !== 2 || inShape[1] !== check.inputWidth) {
    throw new InputError(jsonPath, `wrong topology: input shape ${JSON.stringify(inShape ?? null)}, expected [null,${check.inputWidth}]`);
  }

  // Weights manifest: shapes, then the byte length of weights.bin.
  const specs = mj.weightsManifest[0].weights;
  const shapes = specs.map((s) => JSON.stringify(s.shape)).join(' ');
  const expectedShapes = check.expectedWeightShapes.map((s) => JSON.stringify(s)).join(' ');
  if (shapes !== expectedShapes) {
    throw new InputError(jsonPath, `wrong topology: weight shapes ${shapes || '(none)'}, expected ${expectedShapes}`);
  }
  return { names: layers.map((l, i) => l.name ?? `dense_${i + 1}`), specs };
}
