/**
 * The S3 server of a test run: one SeaweedFS (devenv/s3Server.ts) on loopback, shared by the
 * suites that upload, stopped when the process exits.
 */
import { S3Server, startS3Server } from "../../devenv/s3Server";

/** A running S3 server, as the tests see it. */
export type TestS3Server = S3Server;

let shared: Promise<TestS3Server> | undefined;

/** One S3 server for the whole test run, stopped when the process exits. */
export function sharedS3Server(): Promise<TestS3Server> {
    shared ??= startS3Server();
    return shared;
}
