/** The URL a listening socket answers on, as the CLI prints it (a wildcard address becomes localhost). */
export function urlOf(address: { address: string; port: number; family: string }, scheme: 'http' | 'https' = 'http'): string {
  const host = address.address === '::' || address.address === '0.0.0.0' ? 'localhost' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}`;
}
