/**
 * A replica group recorded through the library with one replica attacked (upload-exec): `chids
 * replicas` flags exactly that one. Its own file so that it records beside the other groups
 * (test/lab-replicas.test.ts); the test is in helpers/lab-replicas.ts.
 */
import { replicaGroupTest } from './helpers/lab-replicas.js';

replicaGroupTest('upload-exec');
