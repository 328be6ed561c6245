/**
 * Colours for the terminal only: on when the stream is a terminal and NO_COLOR is unset.
 * (picocolors alone also turns them on whenever CI is set, which puts escape codes into CI logs
 * and into output piped to other programs.)
 */
import pc from 'picocolors';

const wanted = (stream: NodeJS.WriteStream) => Boolean(stream.isTTY) && !process.env.NO_COLOR;

/** For text written to stdout (tables). */
export const stdoutColors = pc.createColors(wanted(process.stdout));
/** For text written to stderr (warnings, progress). */
export const stderrColors = pc.createColors(wanted(process.stderr));
