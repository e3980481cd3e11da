// The dashboard's door: the web pages `berth server --dashboard` serves,
// their sessions and the checks every request passes. Nothing happens at
// import time.
export { DashboardServer, type DashboardOptions } from './dashboard-server.ts';
export { SessionStore, sessionAlive, sessionCookie, readCookie, SESSION_COOKIE, DEFAULT_SESSION_LIMITS, type Session, type SessionLimits } from './sessions.ts';
export { refuseMutation, foreignOrigin, isSafeMethod, sameSecret, CSRF_HEADER, type GuardedRequest } from './request-guard.ts';
export { appStatus, seriesColumns, deployHistory, buildWindow, backupAlerts, backupsPanel, RECENT_BACKUPS, type AppStatus, type SeriesColumns, type DashboardAddons, type BackupAlert, type BackupsPanel, type AddonPanel } from './views.ts';
