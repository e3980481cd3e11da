// `berth server install` / `uninstall`: berth server as a systemd service
// that starts at boot and restarts on failure. unit.ts decides (the unit's
// text, the flags it carries); install.ts writes it and runs systemctl.
export { installService, uninstallService, berthEntry, type InstallOptions, type ServiceMachine, type ServiceIo } from './install.ts';
export { serviceUnit, serverFlags, unitStateDir, execArgument, environmentAssignment, UNIT_MARKER, UNIT_PATH, ENVIRONMENT_FILE, SERVICE_STATE_DIR, type ServerOption, type UnitSpec } from './unit.ts';
