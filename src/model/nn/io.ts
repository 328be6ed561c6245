/**
 * Saving and loading TF.js layer models (the sequence autoencoders) in the "layers-model"
 * directory format of layers-json.ts.
 *
 * `model.save('file://…')` needs tfjs-node, which we do not have, so the artifacts are taken
 * with `tf.io.withSaveHandler` and written with node:fs; loading reads the files, validates
 * them (layers-json.ts), and hands them to TF.js through `tf.io.fromMemory`. Every problem on
 * load is a one-line ChidsError (an InputError naming the file).
 */
import { InputError } from '../../util/errors.js';
import {
  MODEL_DIR,
  MODEL_JSON,
  WEIGHTS_BIN,
  checkDenseStack,
  errorText,
  readModelJson,
  readWeightsBin,
  writeModelDir,
  type LayersModelJson,
  type ModelCheck,
  type ParsedModelJson,
} from './layers-json.js';
import { tf } from './tf.js';

export { MODEL_DIR, MODEL_JSON, WEIGHTS_BIN, type ModelCheck };

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
  const json = {
    modelTopology: art.modelTopology as LayersModelJson['modelTopology'],
    format: art.format as 'layers-model',
    generatedBy: art.generatedBy,
    convertedBy: art.convertedBy,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: art.weightSpecs as LayersModelJson['weightsManifest'][0]['weights'] }],
    ...(art.userDefinedMetadata !== undefined ? { userDefinedMetadata: art.userDefinedMetadata } : {}),
  } satisfies LayersModelJson;
  await writeModelDir(dir, json, weights);
}

/** Reads weights.bin (layers-json.ts checks it) and builds the model with TF.js. */
async function buildFromFiles(jsonPath: string, binPath: string, mj: ParsedModelJson): Promise<tf.LayersModel> {
  const specs = mj.weightsManifest[0].weights;
  const weightData = await readWeightsBin(binPath, specs);
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
 * Reads and validates a Dense stack in `dir/model/`, then builds it with TF.js. The caller
 * must have selected a backend (ensureTf).
 */
export async function loadLayersModelDir(dir: string, check: ModelCheck): Promise<tf.LayersModel> {
  const { jsonPath, binPath, mj } = await readModelJson(dir);
  checkDenseStack(jsonPath, mj, check);
  return buildFromFiles(jsonPath, binPath, mj);
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

  const model = await buildFromFiles(jsonPath, binPath, mj);
  const want = JSON.stringify([null, ...check.ioShape]);
  const inShape = JSON.stringify(model.inputs[0]?.shape ?? null);
  const outShape = JSON.stringify(model.outputs[0]?.shape ?? null);
  if (model.inputs.length !== 1 || model.outputs.length !== 1 || inShape !== want || outShape !== want) {
    model.dispose();
    throw new InputError(jsonPath, `wrong topology: input ${inShape} and output ${outShape}, expected ${want} for both`);
  }
  return { model, meta: meta as Record<string, unknown> };
}
