// The runner's door: supervised instances of an app's process types.
export { Formation, systemClock, type Clock, type FormationOptions, type InstanceRecord, type InstanceVitals, type ReadyUpstream } from './formation.ts';
export type { InstanceState, RunAs } from './instance.ts';
export { plainAdopter, plainLauncher, type Adopter, type AdoptionHandle, type ExitInfo, type LaunchedProcess, type Launcher, type LaunchSpec } from './launcher.ts';
export { identityMismatch, readProcessNow, watchExit, type ProcessIdentity, type ProcessNow } from './process-identity.ts';
export { decideRestart, DEFAULT_RESTART_POLICY, NO_CRASHES, type RestartPolicy, type CrashHistory, type RestartDecision } from './restart-policy.ts';
export { judgeProbe, DEFAULT_READINESS_POLICY, type ReadinessPolicy, type ProbeResult, type ReadinessVerdict } from './readiness.ts';
export { runOnce } from './run-once.ts';
export { ReleaseRunner, type ReleaseSpec, type ReleaseRunnerOptions } from './release-runner.ts';
export { judgeRollout, type RolloutInstance, type RolloutVerdict } from './rollout-policy.ts';
export { reapOrphans, SUPERVISOR_ENV } from './orphans.ts';
export { decideCronSlot, nextCronSlot, catchUpWindow, cronSlotIso, CRON_CATCH_UP_MAX_MS, type CronJobTiming, type CronDecision } from './cron-policy.ts';
export { startCommand, type CommandRun, type CommandOptions, type CommandOutcome } from './command-run.ts';
export { LineSplitter } from './line-splitter.ts';
export { findFreePort } from './ports.ts';
export { endProcessesExcept, endProcessesOf, processesOf } from './uid-reaper.ts';
export { listProcesses, parseStat, type ProcessEntry } from './proc-table.ts';
export { ptyCommand, terminalSize, terminalType, PTY_PROGRAM, type TerminalSize } from './pty-command.ts';
