/** Types of devenv/freePorts.js, the one free-port picker (plain JavaScript so bash can run it). */

/** `count` distinct loopback ports nothing listens on right now (held open together while picked). */
export function freeLoopbackPorts(count: number): Promise<number[]>;
/** One loopback port nothing listens on right now. */
export function freeLoopbackPort(): Promise<number>;
/** True when nothing listens on 127.0.0.1:port. */
export function loopbackPortIsFree(port: number): Promise<boolean>;
