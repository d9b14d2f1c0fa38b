// dynalite and kinesalite ship no types: each exports a factory of a node:http server.
declare module 'dynalite' {
  import type { Server } from 'node:net';
  export default function dynalite(options?: Record<string, unknown>): Server;
}
declare module 'kinesalite' {
  import type { Server } from 'node:net';
  export default function kinesalite(options?: Record<string, unknown>): Server;
}
