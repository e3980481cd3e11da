// An Express app: berth runs `npm ci` for it on the first deploy and reuses
// node_modules from the build cache while package-lock.json is unchanged.
const express = require('express');

const app = express();
app.get('/', (req, res) => res.send(`hello from express ${require('express/package.json').version}\n`));
app.get('/health', (req, res) => res.send('ok'));

const server = app.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
