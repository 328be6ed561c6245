import type { Command } from 'commander';
import { nonNegativeInt, positiveInt, secondsValue } from './common.js';

interface RecordFlags {
  victim: string;
  attack?: string;
  seconds: number;
  count: number;
  seed?: number;
  out: string;
  split?: boolean;
  warmup?: number;
  attackCap?: number;
  replicas?: number;
  quiet?: boolean;
}

export function register(program: Command): void {
  const lab = program
    .command('lab')
    .description('attack lab: record labeled LID-DS syscall recordings of real services under real attacks (needs root)');

  lab
    .command('record')
    .description('record LID-DS 2021 recordings (NAME.zip: NAME.sc + NAME.json) of a victim under normal traffic and, optionally, an attack')
    .option('--victim <name>', 'victim service: web (nginx + Node.js + SQLite + Redis) or redis', 'web')
    .option('--attack <name>', "attack to launch (see 'chids lab list'), 'all' for each of the victim's attacks in turn, or 'none' (default: none; all with --split)")
    .option('--seconds <n>', 'length of each recording after the warm-up', secondsValue('--seconds'), 20)
    .option('--count <n>', 'number of recordings', positiveInt('--count'), 1)
    .option('--seed <n>', 'seed for traffic, attack times and names (default: from the clock, printed)', nonNegativeInt('--seed'))
    .option('--out <dir>', 'output directory', 'recordings')
    .option('--split', 'write the LID-DS layout training/ validation/ test/normal/ test/normal_and_attack/ (attacks only in the last)')
    .option('--warmup <n>', "seconds of normal traffic before each recording starts (default: the victim's)", secondsValue('--warmup'))
    .option('--attack-cap <n>', "let an attack still running at the window's end go on until it is over, at most N s from its start; the recording follows it, plus 2 s (default: stopped at the window's end)", positiveInt('--attack-cap'))
    .option('--replicas <n>', "record N replicas of the victim side by side under the same traffic, the attack (if any) hitting one; each recording becomes a directory NAME/ of NAME-r1.zip … (compare them with 'chids replicas')", positiveInt('--replicas'))
    .option('-q, --quiet', 'no progress on stderr')
    .addHelpText(
      'after',
      `
Each recording runs the victim in its own pid/mount/UTS/IPC/network namespaces (util-linux
unshare), captures every syscall of its process tree with strace -f, drives seeded normal
traffic from inside the same network namespace, launches the attack (if any) at a seeded
random time after the warm-up, and writes NAME.zip (NAME.sc + NAME.json, with the attack
start in time.exploit[0].absolute). Needs root, strace, util-linux, iproute2 and the
victim's programs (Debian: nginx redis-server sqlite3 iputils-ping; attacks: hydra sqlmap
curl redis-tools).

Examples:
  $ sudo chids lab record                                   # one normal recording of 'web' into ./recordings
  $ sudo chids lab record --attack cmd-injection --seconds 15
  $ sudo chids lab record --attack sqli --seconds 20 --attack-cap 120   # until sqlmap is done
  $ sudo chids lab record --victim redis --attack redis-config-write --out rec
  $ sudo chids lab record --count 26 --split --seed 7 --out data/mine
  $ sudo chids lab record --replicas 3 --attack cmd-injection --seconds 15 --out rep
  $ chids replicas rep/NAME/                                 # one group: the directory printed above
  $ chids baseline --td data/mine/training --od models/mine`,
    )
    .action(async (flags: RecordFlags) => {
      const { recordLab } = await import('../lab/run.js');
      const files = await recordLab({
        victim: flags.victim,
        attack: flags.attack,
        seconds: flags.seconds,
        count: flags.count,
        seed: flags.seed,
        outDir: flags.out,
        split: Boolean(flags.split),
        warmupSeconds: flags.warmup,
        attackCapSeconds: flags.attackCap,
        replicas: flags.replicas,
        log: flags.quiet ? () => undefined : (m: string) => process.stderr.write(`${m}\n`),
      });
      for (const f of files) process.stdout.write(`${f}\n`);
    });

  lab
    .command('list')
    .description('list the victims and attacks of the lab')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }) => {
      const { labCatalog } = await import('../lab/index.js');
      const cat = labCatalog();
      if (flags.json) {
        process.stdout.write(JSON.stringify(cat, null, 2) + '\n');
        return;
      }
      const lines = ['Victims:'];
      for (const v of cat.victims) lines.push(`  ${v.name.padEnd(20)} ${v.description}`, `  ${''.padEnd(20)} attacks: ${v.attacks.join(', ')}`);
      lines.push('', 'Attacks:');
      for (const a of cat.attacks) lines.push(`  ${a.name.padEnd(20)} ${a.cwe.padEnd(8)} ${a.title}`, `  ${''.padEnd(20)} victims: ${a.victims.join(', ')}; needs: ${a.packages.join(' ') || '-'}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}
