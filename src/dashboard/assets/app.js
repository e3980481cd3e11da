// The dashboard's entry: which page the address names, and the header's
// log-out button. Pages are whole documents (/ and /apps/NAME), so links
// are plain links and the back button needs no help.
import { logout } from './api.js';
import { showApp } from './app-page.js';
import { complain, fill, h } from './dom.js';
import { showOverview } from './overview.js';

document.getElementById('logout')?.addEventListener('click', () => void logout());

const main = document.getElementById('main');
const appPath = /^\/apps\/([^/]+)\/?$/.exec(location.pathname);
try {
  if (appPath) await showApp(main, decodeURIComponent(appPath[1]));
  else await showOverview(main);
} catch (error) {
  if (error.status !== 401) {
    fill(main, h('h1', {}, 'Cannot show this page'), h('p', {}, error.message), h('p', {}, h('a', { href: '/' }, 'Back to all apps')));
    complain(error);
  }
}
