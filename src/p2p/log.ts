/** The p2p room logs through an injected function, so it needs no logger of its own (node/log.ts adapts). */
export type P2pLogLevel = "debug" | "info" | "warn" | "error";
export type P2pLog = (level: P2pLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export const silentLog: P2pLog = () => {};
