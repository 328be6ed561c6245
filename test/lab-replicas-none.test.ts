/**
 * A replica group recorded through the library with no attack: `chids replicas` flags no replica.
 * Its own file so that it records beside the other groups (test/lab-replicas.test.ts); the test
 * is in helpers/lab-replicas.ts.
 */
import { replicaGroupTest } from './helpers/lab-replicas.js';

replicaGroupTest('none');
