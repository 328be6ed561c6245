/**
 * chids as a library: what `import … from 'chids'` gives.
 *
 * The layers, from the bottom: trace readers turn recordings into syscall events; the encoder
 * cuts them into windows and anomaly vectors; detectors score windows; the use cases (train,
 * evaluate, encode, compare, monitor, capture) tie them together exactly as the CLI runs them.
 * Every user error is a `ChidsError` whose message is one line naming the file and the problem.
 *
 * Nothing here loads TF.js at import time: the neural detectors load it when first used.
 */

// Errors and small helpers a caller needs around the API.
export { ChidsError, InputError, describeError } from './util/errors.js';
export { chidsVersion, bundledDataset } from './util/package.js';
export { toJson } from './util/json.js';

// Traces: events, readers, the LID-DS layout.
export { SyscallEvent } from './trace/event.js';
export { NameTable } from './trace/names.js';
export { TraceParser, type TraceFormat, type ParseStats, type ParserOptions } from './trace/parse.js';
export { parseLabels, readLabelsFile, type RecordingLabels } from './trace/labels.js';
export { openSource, kindOf, type TraceSource, type SourceKind } from './trace/sources/readers.js';
export { planSources, forEachSource, type PlannedSource, type SkippedInput } from './trace/sources/plan.js';
export { datasetLayout, type DatasetLayout, type DatasetSplit } from './trace/lidds/layout.js';

// Encoding: windows, arguments, anomaly vectors.
export { DEFAULT_WINDOW_NS, parseWindowLength } from './encode/windows.js';
export { processPath } from './encode/process-path.js';
export { WindowEncoder, type AnomalyVector, type EncodedWindow, type WindowEncoderOptions } from './encode/anomaly.js';
export { encodeTrace, collectTrace, sniffFormat, type EventTap, type ReadOptions, type TraceSummary } from './encode/pipeline.js';
export { makeVocabulary, type Vocabulary } from './encode/vocabulary.js';

// Detectors.
export { MODEL_NAMES, MODELS, isModelName, createTrainer, loadDetector, type ModelName, type ModelInfo, type ModelOptions } from './model/registry.js';
export type { Detector, DetectorTrainer, FitResult, RecordingInput, TrainingRecording, TrainHooks } from './model/detector.js';
export { THETAS, thresholdsFrom } from './model/thresholds.js';
export { ReplicaComparison, compareWindow, coveredDissimilarities, type ReplicaVerdict, type ComparedWindow, type AspectDriver, type Similarity } from './model/replicas/compare.js';
export { ReplicaWatch, type ReplicaDeviation, type ReplicaMember } from './engine/replica-watch.js';
export { ASPECTS, AspectSets, addEvent, type Aspect } from './model/replicas/aspects.js';

// The baseline directory and the metrics.
export { readBaselineData, readManifest, pathsInDir, type ArtifactPaths, type BaselineData, type Manifest } from './engine/baseline-dir.js';
export { computeMetrics, verdictAt, type Metrics, type RecordingMetrics, type Verdict } from './engine/metrics.js';

// Use cases, as the CLI runs them.
export { runBaseline, type BaselineOptions, type BaselineResult } from './app/train.js';
export { runEvaluate, type EvaluateOptions, type EvaluationResult } from './app/evaluate.js';
export { encodeFiles, type EncodeFilesOptions, type WindowLine } from './app/encode.js';
export { runCompare, type CompareOptions, type CompareResult } from './app/compare.js';
export { runDemo, type DemoOptions, type DemoResult } from './app/demo.js';
export { runMonitor, type RunMonitorOptions, type MonitorSummary } from './app/monitor.js';
export { runCapture, type CaptureOptions, type CaptureSummary } from './app/capture.js';
export { runReplicas, type ReplicasOptions, type ReplicasResult } from './app/replicas.js';
export { evaluateReplicaDataset, type DatasetEvaluation, type ThresholdRow } from './app/replicas-dataset.js';
