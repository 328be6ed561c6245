/**
 * Saving and loading Dense models in the TF.js "layers-model" format, in a directory:
 *
 *     DIR/model/model.json    topology + weights manifest (TF.js `ModelJSON`)
 *     DIR/model/weights.bin   all weights, float32 little-endian, in manifest order
 *
 * `model.save('file://…')` needs tfjs-node, which we do not have, so the artifacts are taken
 * with `tf.io.withSaveHandler` and written with node:fs; loading reads the files, validates
 * them, and hands them to TF.js through `tf.io.fromMemory`. Every problem on load is a one-line
 * ChidsError (an InputError naming the file).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../../util/errors.js';
import { replaceDirAtomic } from '../../util/fs.js';
import { firstIssue, readJsonFile } from '../../util/json.js';
import { tf } from './tf.js';

/** Sub-directory of a baseline that holds the model. */
export const MODEL_DIR = 'model';
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** What a loaded model must look like. */
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

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') {
    if (e.code === 'ENOENT') return 'missing (no such file)';
    return `${e.code}: ${(e.message ?? '').split('\n')[0]}`;
  }
  return err instanceof Error ? (err.message.split('\n')[0] ?? String(err)) : String(err);
}

/**
 * Writes `model` under `dir/model/`. The files are written into a temporary sibling directory
 * first and renamed into place, so a failure leaves no partial `model/` behind.
 */
export async function saveLayersModel(model: tf.LayersModel, dir: string, metadata?: Record<string, unknown>): Promise<void> {
  let artifacts: tf.io.ModelArtifacts | null = null;
  if (metadata !== undefined) model.setUserDefinedMetadata(metadata);
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const art = artifacts as tf.io.ModelArtifacts | null;
  if (art === null || art.weightSpecs === undefined || art.weightData === undefined) {
    throw new Error('TF.js returned no model artifacts');
  }
  const weights = Buffer.from(tf.io.CompositeArrayBuffer.join(art.weightData));
  const json: tf.io.ModelJSON = {
    modelTopology: art.modelTopology as tf.io.ModelJSON['modelTopology'],
    format: art.format,
    generatedBy: art.generatedBy,
    convertedBy: art.convertedBy,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: art.weightSpecs }],
    ...(art.userDefinedMetadata !== undefined ? { userDefinedMetadata: art.userDefinedMetadata } : {}),
  };

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
  modelTopology: z.object({
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

const denseLayerSchema = z.object({
  class_name: z.literal('Dense'),
  config: z.object({
    units: z.number().int().positive(),
    activation: z.string(),
    use_bias: z.boolean(),
    activity_regularizer: z.unknown().optional(),
    batch_input_shape: z.array(z.number().nullable()).optional(),
  }),
});


/** Reads and checks `dir/model/model.json` (shared by both loaders). */
async function readModelJson(dir: string) {
  const modelDir = join(dir, MODEL_DIR);
  const jsonPath = join(modelDir, MODEL_JSON);
  const binPath = join(modelDir, WEIGHTS_BIN);
  const raw = await readJsonFile(jsonPath);
  const parsed = modelJsonSchema.safeParse(raw);
  if (!parsed.success) throw new InputError(jsonPath, `not a TF.js layers model: ${firstIssue(parsed.error)}`);
  return { modelDir, jsonPath, binPath, mj: parsed.data };
}

/**
 * Reads weights.bin (its byte length must match the manifest, every weight must be finite) and
 * builds the model with TF.js (shared by both loaders).
 */
async function buildFromFiles(
  jsonPath: string,
  binPath: string,
  mj: Awaited<ReturnType<typeof readModelJson>>['mj'],
  specs: Awaited<ReturnType<typeof readModelJson>>['mj']['weightsManifest'][number]['weights'],
): Promise<tf.LayersModel> {
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

  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: mj.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
    format: mj.format,
    weightSpecs: specs as tf.io.WeightsManifestEntry[],
    weightData,
    ...(mj.userDefinedMetadata !== undefined ? { userDefinedMetadata: mj.userDefinedMetadata as Record<string, object> } : {}),
  };
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (err) {
    throw new InputError(jsonPath, `cannot load the model: ${errorText(err)}`);
  }
}

/**
 * Reads and validates `dir/model/`, then builds the model with TF.js. The caller must have
 * selected a backend (ensureTf).
 */
export async function loadLayersModelDir(dir: string, check: ModelCheck): Promise<tf.LayersModel> {
  const { jsonPath, binPath, mj } = await readModelJson(dir);

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
  return buildFromFiles(jsonPath, binPath, mj, specs);
}

/** What a model of any topology must match on load (see loadLayersModelAny). */
export interface AnyModelCheck {
  /** `userDefinedMetadata.chids.kind` must equal this. */
  kind: string;
  /** Shape the model's input and output must have, batch dimension excluded. */
  ioShape: readonly number[];
}

/**
 * Reads and validates `dir/model/` for a model of any layer topology (the sequence
 * autoencoders): the layers-model JSON, the recorded kind, the weights' byte length and
 * finiteness, then loads it with TF.js and checks its input and output shapes. Custom layers
 * must be registered before (src/model/nn/layers.ts). Returns the model and its
 * `userDefinedMetadata.chids` object. The caller must have selected a backend (ensureTf).
 */
export async function loadLayersModelAny(dir: string, check: AnyModelCheck): Promise<{ model: tf.LayersModel; meta: Record<string, unknown> }> {
  const { jsonPath, binPath, mj } = await readModelJson(dir);
  const meta = mj.userDefinedMetadata?.['chids'];
  const kind = (meta as { kind?: unknown } | null | undefined)?.kind;
  if (meta === null || typeof meta !== 'object' || kind === undefined) {
    throw new InputError(jsonPath, `records no model kind (userDefinedMetadata.chids.kind), expected "${check.kind}"`);
  }
  if (kind !== check.kind) throw new InputError(jsonPath, `holds a "${String(kind)}" model, expected "${check.kind}"`);

  const specs = mj.weightsManifest[0].weights;
  const model = await buildFromFiles(jsonPath, binPath, mj, specs);
  const want = JSON.stringify([null, ...check.ioShape]);
  const inShape = JSON.stringify(model.inputs[0]?.shape ?? null);
  const outShape = JSON.stringify(model.outputs[0]?.shape ?? null);
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || inShape !== want || outShape !== want) {
    model.dispose();
    throw new InputError(jsonPath, `wrong topology: input ${inShape} and output ${outShape}, expected ${want} for both`);
  }
  return { model, meta: meta as Record<string, unknown> };
}
