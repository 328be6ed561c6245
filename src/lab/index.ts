/**
 * The attack lab: labeled LID-DS 2021 recordings of real services under real attacks.
 *
 * - strace-to-lidds: strace -f output → LID-DS `.sc` lines (pure, streaming)
 * - recording-zip:   NAME.zip with NAME.sc + NAME.json, written atomically
 * - sandbox:         the victim in its namespaces under strace; clients/attackers in its netns
 * - victims, attacks: what runs, what attacks it
 * - record, dataset: one recording; a planned set (with the LID-DS split)
 */
import { ATTACKS } from './attacks.js';
import { PACKAGES } from './programs.js';
import { VICTIMS } from './victims.js';

export { StraceToLidds, parseCall, type StraceConverterOptions, type StraceConverterStats } from '../trace/strace/to-lidds.js';
export { writeRecordingZip } from '../trace/lidds/recording-zip.js';
export { recordOne, type RecordOptions, type RecordResult } from './record.js';
export { planRecordings, recordMany, recordingNames, type PlannedRecording, type Split } from './dataset.js';
export { ATTACKS, attacksFor, attackNamed, type Attack } from './attacks.js';
export { VICTIMS, victimNamed, type Victim, type VictimName } from './victims.js';

export interface LabCatalog {
  victims: { name: string; description: string; image: string; attacks: string[]; packages: string[] }[];
  attacks: { name: string; cwe: string; title: string; victims: string[]; packages: string[] }[];
}

export function labCatalog(): LabCatalog {
  const pkgs = (progs: string[]) => [...new Set(progs.map((p) => PACKAGES[p] ?? p))];
  return {
    victims: Object.values(VICTIMS).map((v) => ({
      name: v.name,
      description: v.description,
      image: v.image,
      attacks: ATTACKS.filter((a) => a.victims.includes(v.name)).map((a) => a.name),
      packages: pkgs(v.programs),
    })),
    attacks: ATTACKS.map((a) => ({ name: a.name, cwe: a.cwe, title: a.title, victims: [...a.victims], packages: pkgs(a.programs) })),
  };
}
